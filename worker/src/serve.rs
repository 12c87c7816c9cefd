//! One client connection to a worker: admission (was this client sent here?), reading the
//! message in whichever framing it uses, answering, and giving the slot back.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use kennel_common::layout::ProcState;
use kennel_common::protocol::{
    error_line, frame_answer, parse_message, parse_token_line, Framing, MessageProgress,
    RequestKind,
};
use kennel_common::segment::Admission;
use kennel_common::segment::GUARD_TIMEOUT;

use kennel_common::child::TICK;

use crate::run;
use crate::state::Worker;

/// Why a message could not be read.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The client closed before sending anything.
    Closed,
    /// The client stopped before the announced length arrived.
    Truncated,
    TimedOut,
    Invalid(String),
    Io(io::Error),
}

/// Handles one accepted connection from start to end. Never panics on client input.
pub fn connection(worker: &Worker, mut stream: TcpStream, peer: SocketAddr) {
    let seg = &worker.ctx.segment;
    let id = worker.id();
    let record = seg.record(id);
    // Accepted sockets are blocking (accept4 does not inherit the listener's O_NONBLOCK).
    // Reads wait at most `TICK` at a time; `read_some` shortens that only near the deadline.
    let _ = stream.set_read_timeout(Some(TICK));
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + worker.settings.client_timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut token = None;
    if worker.settings.require_token {
        // Refuse at once anyone this slot is not waiting for, before reading a byte, so an
        // idle connection cannot hold the worker; then read the token line.
        let view = seg.read(id);
        let waiting_for_peer = view.state() == Some(ProcState::Assigned)
            && view.client.map(|c| c.ip()) == Some(peer.ip());
        if !waiting_for_peer {
            refuse(worker, &mut stream, peer, Admission::NotAssigned);
            return;
        }
        match read_token(worker, &mut stream, &mut buf, deadline) {
            Ok(t) => token = Some(t),
            Err(why) => {
                record.failed.fetch_add(1, SeqCst);
                log::warn!("refused a connection from {peer}: {why}");
                say_error(&stream, &why);
                return;
            }
        }
    }
    let admission = match seg.lock(GUARD_TIMEOUT) {
        Ok(guard) => guard.begin_service(id, peer, token),
        Err(e) => {
            log::error!("refusing {peer}: {e}");
            say_error(&stream, "temporarily unavailable");
            return;
        }
    };
    let (request, ping) = match admission {
        Admission::Admitted { request, ping } => (request, ping),
        refusal => {
            refuse(worker, &mut stream, peer, refusal);
            return;
        }
    };
    if worker.settings.max_tasks > 1 {
        // The assignment is closed and the slot may have room left: a queued request may
        // take it now rather than when this one ends.
        worker.send_pong_if_awaited(ping);
    }
    let served = match request {
        RequestKind::Run(lang) => run::serve(worker, &mut stream, &mut buf, deadline, lang, peer),
        RequestKind::Service(service) => {
            crate::session::serve_service(worker, &mut stream, &mut buf, deadline, service, peer)
        }
    };
    let by_type = {
        let h = seg.header();
        if served {
            &h.served_by_type
        } else {
            &h.failed_by_type
        }
    };
    if let Some(c) = by_type.get(request.code() as usize) {
        c.fetch_add(1, SeqCst);
    }
    if served {
        record.served.fetch_add(1, SeqCst);
    } else {
        record.failed.fetch_add(1, SeqCst);
    }
    match seg.lock(GUARD_TIMEOUT) {
        Ok(guard) => {
            guard.finish_task(id);
        }
        Err(e) => log::error!("could not count the end of a task after {peer}: {e}"),
    }
    worker.send_pong_if_awaited(ping);
}

/// Answers a connection this slot will not serve, and counts it. The pending assignment, if
/// any, is left alone: its real client may still come.
fn refuse(worker: &Worker, stream: &mut TcpStream, peer: SocketAddr, refusal: Admission) {
    let record = worker.ctx.segment.record(worker.id());
    record.failed.fetch_add(1, SeqCst);
    let why = match refusal {
        Admission::WrongPeer => "this worker is reserved for another client",
        Admission::Invalid => "the assignment was unreadable and has been cancelled",
        Admission::BadToken => "wrong or used token",
        _ => "not assigned: ask the dispatcher for a worker first",
    };
    log::warn!("refused a connection from {peer}: {why}");
    say_error(stream, why);
    if refusal == Admission::Invalid {
        worker.send_pong_if_awaited(record.ping.load(SeqCst));
    }
}

/// One `read` into `out`, waiting at most until `deadline` and stamping the heartbeat after
/// every read, so at least every `TICK` while it waits (a worker waiting on a slow client is
/// not taken for a hung one).
/// The socket's read timeout is `TICK` from the start of the connection; it is set again
/// only in the last `TICK` before the deadline (one system call per read saved).
/// `Ok(0)` is end of file.
fn read_some(
    worker: &Worker,
    stream: &mut TcpStream,
    out: &mut [u8],
    deadline: Instant,
) -> Result<usize, ReadFailure> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadFailure::TimedOut);
        }
        if left < TICK {
            let _ = stream.set_read_timeout(Some(left));
        }
        let result = stream.read(out);
        // Every read, whatever it returned: a client trickling one byte per 100 ms never lets
        // a read time out, and must not silence the heartbeat either (one vDSO clock read and
        // one atomic store).
        worker.ctx.segment.heartbeat(worker.id());
        match result {
            Ok(n) => return Ok(n),
            Err(e) if must_wait(&e) => {}
            Err(e) => return Err(ReadFailure::Io(e)),
        }
    }
}

/// Reads one chunk and appends it to `buf`. `Ok(0)` is end of file.
pub(crate) fn fill(
    worker: &Worker,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, ReadFailure> {
    let mut chunk = [0u8; 16 * 1024];
    let n = read_some(worker, stream, &mut chunk, deadline)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Reads the `TOKEN` line that must open a connection in `--require-token` mode, leaving any
/// bytes after it in `buf`.
fn read_token(
    worker: &Worker,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<u64, String> {
    loop {
        match parse_token_line(buf) {
            Some(Ok((token, used))) => {
                buf.drain(..used);
                return Ok(token);
            }
            Some(Err(why)) => return Err(why),
            None => match fill(worker, stream, buf, deadline) {
                Ok(0) => return Err("closed before sending its token".into()),
                Ok(_) => {}
                Err(ReadFailure::TimedOut) => {
                    return Err("no token within the client timeout".into())
                }
                Err(e) => return Err(format!("reading the token: {e:?}")),
            },
        }
    }
}

/// Fills `out` completely, until `deadline`.
fn read_exact_until(
    worker: &Worker,
    stream: &mut TcpStream,
    mut out: &mut [u8],
    deadline: Instant,
) -> Result<(), ReadFailure> {
    while !out.is_empty() {
        match read_some(worker, stream, out, deadline)? {
            0 => return Err(ReadFailure::Truncated),
            n => out = &mut out[n..],
        }
    }
    Ok(())
}

/// Tells the client why it is not served, best effort: one non-blocking send of one short
/// line (nothing is owed to a client that is not reading).
pub(crate) fn say_error(stream: &TcpStream, why: &str) {
    use nix::sys::socket::{send, MsgFlags};
    use std::os::fd::AsRawFd;
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    let _ = send(stream.as_raw_fd(), &error_line(why), flags);
}

/// Writes an answer: small ones as one buffer, large ones as header + body in one `writev`
/// loop, so a 1 MiB echo is not copied once more just to prepend ten bytes.
pub(crate) fn write_answer(
    worker: &Worker,
    stream: &mut TcpStream,
    framing: Framing,
    body: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    if framing != Framing::Length || body.len() < 16 * 1024 {
        return write_all_until(worker, stream, &frame_answer(framing, body), &[], deadline);
    }
    let header = format!("LEN {}\n", body.len());
    write_all_until(worker, stream, header.as_bytes(), body, deadline)
}

/// Writes `h` then `b`, never blocking more than `TICK` at a time (stamping the heartbeat in
/// between) and giving up at `deadline`: a client that stops reading its answer can neither
/// hold the worker for good nor silence its heartbeat into a hang kill.
fn write_all_until(
    worker: &Worker,
    stream: &mut TcpStream,
    mut h: &[u8],
    mut b: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    use nix::sys::socket::{send, MsgFlags};
    use std::os::fd::AsRawFd;
    // Most answers fit in the socket's send buffer: one non-blocking send, and no timeout to
    // set (a system call saved on every request).
    if b.is_empty() {
        match send(
            stream.as_raw_fd(),
            h,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(n) => h = &h[n..],
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        if h.is_empty() {
            return Ok(());
        }
    }
    stream.set_write_timeout(Some(TICK))?;
    while !h.is_empty() || !b.is_empty() {
        match stream.write_vectored(&[io::IoSlice::new(h), io::IoSlice::new(b)]) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => {
                let from_h = n.min(h.len());
                h = &h[from_h..];
                b = &b[n - from_h..];
            }
            Err(e) if must_wait(&e) => {
                worker.ctx.segment.heartbeat(worker.id());
                if Instant::now() >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing of its answer within the client timeout",
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads one message (after whatever `buf` already holds) until `deadline`.
pub(crate) fn read_message(
    worker: &Worker,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<(Framing, Vec<u8>), ReadFailure> {
    let max = worker.settings.max_payload;
    if buf.is_empty() && fill(worker, stream, buf, deadline)? == 0 {
        return Err(ReadFailure::Closed);
    }
    loop {
        match parse_message(buf, max) {
            MessageProgress::Complete(framing, payload) => {
                // What follows this message stays for the next one (a session).
                let used = match framing {
                    Framing::Bare => buf.len(),
                    Framing::Line | Framing::Length => {
                        let nl = buf.iter().position(|b| *b == b'\n').unwrap_or(0) + 1;
                        if framing == Framing::Line {
                            nl
                        } else {
                            nl + payload.len()
                        }
                    }
                };
                buf.drain(..used.min(buf.len()));
                return Ok((framing, payload));
            }
            MessageProgress::NeedBody {
                header_len,
                body_len,
            } => {
                // Read the rest straight into its final place: no growing, no second copy.
                let mut body = vec![0u8; body_len];
                let have = buf.len().saturating_sub(header_len).min(body_len);
                body[..have].copy_from_slice(&buf[header_len..header_len + have]);
                buf.clear();
                read_exact_until(worker, stream, &mut body[have..], deadline)?;
                return Ok((Framing::Length, body));
            }
            MessageProgress::NeedHeader => {}
            MessageProgress::Invalid(why) => return Err(ReadFailure::Invalid(why)),
        }
        if fill(worker, stream, buf, deadline)? == 0 {
            return Err(ReadFailure::Truncated);
        }
    }
}

/// A read or write that timed out (our `TICK` socket timeout) or was interrupted: wait again,
/// stamping the heartbeat, rather than fail.
fn must_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
