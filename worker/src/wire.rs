//! A worker's client connection (mini-redis's `Connection`): the socket, the bytes read but
//! not yet used, and the deadline. Every read and write waits at most `TICK` at a time and
//! stamps the worker's heartbeat between waits, so a slow client never makes a worker look
//! hung; every read stops at the deadline and every answer at a client timeout of its own.
//! `serve` (admission), `session` (services) and `programs` (submissions) talk through it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kennel_common::child::TICK;
use kennel_common::protocol::{
    error_line, frame_answer, parse_message, parse_token_line, Framing, MessageProgress,
};

use crate::state::Worker;

/// Why a message could not be read.
#[derive(Debug)]
pub enum ReadFailure {
    /// The client closed before sending anything.
    Closed,
    /// The client stopped before the announced length arrived.
    Truncated,
    TimedOut,
    Invalid(String),
    Io(io::Error),
}

/// One client's connection to this worker.
pub struct Conn<'w> {
    worker: &'w Worker,
    stream: TcpStream,
    /// Bytes received and not yet used (a session's next message may already be here).
    buf: Vec<u8>,
    /// When reading gives up.
    deadline: Instant,
    pub peer: SocketAddr,
}

impl<'w> Conn<'w> {
    /// An accepted connection, with a client timeout from now.
    pub fn new(worker: &'w Worker, stream: TcpStream, peer: SocketAddr) -> Conn<'w> {
        // Accepted sockets are blocking (accept4 does not inherit the listener's O_NONBLOCK).
        // Reads wait at most `TICK` at a time; `read_some` shortens that only near the deadline.
        let _ = stream.set_read_timeout(Some(TICK));
        let _ = stream.set_nodelay(true);
        Conn {
            worker,
            stream,
            buf: Vec::with_capacity(1024),
            deadline: Instant::now() + worker.settings.client_timeout,
            peer,
        }
    }

    /// A fresh client timeout from now (a session, after each answer).
    pub fn renew_deadline(&mut self) {
        self.deadline = Instant::now() + self.worker.settings.client_timeout;
    }

    /// The bytes read and not yet used.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the bytes read and not yet used.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn heartbeat(&self) {
        self.worker.ctx.segment.heartbeat(self.worker.id());
    }

    /// One `read` into `out`, waiting at most until the deadline and stamping the heartbeat after
    /// every read, so at least every `TICK` while it waits (a worker waiting on a slow client is
    /// not taken for a hung one).
    /// The socket's read timeout is `TICK` from the start of the connection; it is set again
    /// only in the last `TICK` before the deadline (one system call per read saved).
    /// `Ok(0)` is end of file.
    fn read_some(&mut self, out: &mut [u8]) -> Result<usize, ReadFailure> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadFailure::TimedOut);
            }
            if left < TICK {
                let _ = self.stream.set_read_timeout(Some(left));
            }
            let result = self.stream.read(out);
            // Every read, whatever it returned: a client trickling one byte per 100 ms never lets
            // a read time out, and must not silence the heartbeat either (one vDSO clock read and
            // one atomic store).
            self.heartbeat();
            match result {
                Ok(n) => return Ok(n),
                Err(e) if must_wait(&e) => {}
                Err(e) => return Err(ReadFailure::Io(e)),
            }
        }
    }

    /// Reads one chunk and appends it to the buffer. `Ok(0)` is end of file.
    pub fn fill(&mut self) -> Result<usize, ReadFailure> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.read_some(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads the `TOKEN` line that must open a connection in `--require-token` mode, leaving any
    /// bytes after it buffered.
    pub fn read_token(&mut self) -> Result<u64, String> {
        loop {
            match parse_token_line(&self.buf) {
                Some(Ok((token, used))) => {
                    self.buf.drain(..used);
                    return Ok(token);
                }
                Some(Err(why)) => return Err(why),
                None => match self.fill() {
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

    /// Fills `out` completely, until the deadline.
    fn read_exact(&mut self, mut out: &mut [u8]) -> Result<(), ReadFailure> {
        while !out.is_empty() {
            match self.read_some(out)? {
                0 => return Err(ReadFailure::Truncated),
                n => out = &mut out[n..],
            }
        }
        Ok(())
    }

    /// Reads one message (after whatever is buffered) until the deadline.
    pub fn read_message(&mut self) -> Result<(Framing, Vec<u8>), ReadFailure> {
        let max = self.worker.settings.max_payload;
        if self.buf.is_empty() && self.fill()? == 0 {
            return Err(ReadFailure::Closed);
        }
        loop {
            match parse_message(&self.buf, max) {
                MessageProgress::Complete(framing, payload) => {
                    // What follows this message stays for the next one (a session).
                    let used = match framing {
                        Framing::Bare => self.buf.len(),
                        Framing::Line | Framing::Length => {
                            let nl = self.buf.iter().position(|b| *b == b'\n').unwrap_or(0) + 1;
                            if framing == Framing::Line {
                                nl
                            } else {
                                nl + payload.len()
                            }
                        }
                    };
                    let used = used.min(self.buf.len());
                    self.buf.drain(..used);
                    return Ok((framing, payload));
                }
                MessageProgress::NeedBody {
                    header_len,
                    body_len,
                } => {
                    // Read the rest straight into its final place: no growing, no second copy.
                    let mut body = vec![0u8; body_len];
                    let have = self.buf.len().saturating_sub(header_len).min(body_len);
                    body[..have].copy_from_slice(&self.buf[header_len..header_len + have]);
                    self.buf.clear();
                    self.read_exact(&mut body[have..])?;
                    return Ok((Framing::Length, body));
                }
                MessageProgress::NeedHeader => {}
                MessageProgress::Invalid(why) => return Err(ReadFailure::Invalid(why)),
            }
            if self.fill()? == 0 {
                return Err(ReadFailure::Truncated);
            }
        }
    }

    /// Tells the client why it is not served, best effort: one non-blocking send of one short
    /// line (nothing is owed to a client that is not reading).
    pub fn say_error(&self, why: &str) {
        use nix::sys::socket::{send, MsgFlags};
        use std::os::fd::AsRawFd;
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        let _ = send(self.stream.as_raw_fd(), &error_line(why), flags);
    }

    /// Writes an answer, within a client timeout of its own: small ones as one buffer, large ones as header + body in one `writev`
    /// loop, so a 1 MiB echo is not copied once more just to prepend ten bytes.
    pub fn write_answer(&mut self, framing: Framing, body: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + self.worker.settings.client_timeout;
        if framing != Framing::Length || body.len() < 16 * 1024 {
            return self.write_all_until(&frame_answer(framing, body), &[], deadline);
        }
        let header = format!("LEN {}\n", body.len());
        self.write_all_until(header.as_bytes(), body, deadline)
    }

    /// Writes `h` then `b`, never blocking more than `TICK` at a time (stamping the heartbeat in
    /// between) and giving up at `deadline`: a client that stops reading its answer can neither
    /// hold the worker for good nor silence its heartbeat into a hang kill.
    fn write_all_until(&mut self, mut h: &[u8], mut b: &[u8], deadline: Instant) -> io::Result<()> {
        use nix::sys::socket::{send, MsgFlags};
        use std::os::fd::AsRawFd;
        // Most answers fit in the socket's send buffer: one non-blocking send, and no timeout to
        // set (a system call saved on every request).
        if b.is_empty() {
            match send(
                self.stream.as_raw_fd(),
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
        self.stream.set_write_timeout(Some(TICK))?;
        while !h.is_empty() || !b.is_empty() {
            match self
                .stream
                .write_vectored(&[io::IoSlice::new(h), io::IoSlice::new(b)])
            {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    let from_h = n.min(h.len());
                    h = &h[from_h..];
                    b = &b[n - from_h..];
                }
                Err(e) if must_wait(&e) => {
                    self.heartbeat();
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

    /// After refusing a submission that is still arriving (too large), reads and drops the rest
    /// for a bounded time and size before closing: closing with unread bytes would send a reset,
    /// and the client, still writing, would lose the `ERR` line that says why.
    pub fn linger(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let until = Instant::now() + Duration::from_secs(2);
        let mut sink = [0u8; 64 * 1024];
        let mut left: usize = 64 << 20;
        while left > 0 && Instant::now() < until {
            let _ = self.stream.set_read_timeout(Some(
                until
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ));
            match self.stream.read(&mut sink) {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
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
