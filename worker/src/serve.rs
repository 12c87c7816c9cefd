//! One client connection to a worker: admission (was this client sent here?), reading the
//! message in whichever framing it uses, answering, and giving the slot back.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use kennel_common::protocol::{error_line, frame_answer, parse_message, Framing, MessageProgress};
use kennel_common::segment::GUARD_TIMEOUT;
use kennel_common::services;
use kennel_common::slots::Admission;

use crate::{Worker, TICK};

/// Why a message could not be read.
#[derive(Debug)]
enum ReadFailure {
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
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let admission = match seg.lock(GUARD_TIMEOUT) {
        Ok(guard) => guard.begin_service(id, peer),
        Err(e) => {
            log::error!("refusing {peer}: {e}");
            let _ = stream.write_all(&error_line("temporarily unavailable"));
            return;
        }
    };
    let (request, ping) = match admission {
        Admission::Admitted { request, ping } => (request, ping),
        refusal => {
            record.failed.fetch_add(1, SeqCst);
            let why = match refusal {
                Admission::WrongPeer => "this worker is reserved for another client",
                Admission::Invalid => "the assignment was unreadable and has been cancelled",
                _ => "not assigned: ask the dispatcher for a worker first",
            };
            log::warn!("refused a connection from {peer}: {why}");
            let _ = stream.write_all(&error_line(why));
            if refusal == Admission::Invalid {
                worker.send_pong(record.ping.load(SeqCst));
            }
            return;
        }
    };
    let deadline = Instant::now() + worker.settings.client_timeout;
    let outcome = read_message(worker, &mut stream, deadline);
    let served = match outcome {
        Ok((framing, payload)) => {
            let body = services::answer(request, &payload);
            match stream.write_all(&frame_answer(framing, &body)) {
                Ok(()) => true,
                Err(e) => {
                    log::warn!("{peer} left before its {} answer: {e}", request.name());
                    false
                }
            }
        }
        Err(ReadFailure::Invalid(why)) => {
            log::warn!("rejected a message from {peer}: {why}");
            let _ = stream.write_all(&error_line(&why));
            false
        }
        Err(ReadFailure::TimedOut) => {
            log::warn!("{peer} sent no complete message within the client timeout");
            let _ = stream.write_all(&error_line("timed out waiting for the message"));
            false
        }
        Err(ReadFailure::Closed) => {
            log::warn!("{peer} closed without sending a message");
            false
        }
        Err(ReadFailure::Truncated) => {
            log::warn!("{peer} closed before the announced payload arrived");
            false
        }
        Err(ReadFailure::Io(e)) => {
            log::warn!("reading from {peer}: {e}");
            false
        }
    };
    if served {
        record.served.fetch_add(1, SeqCst);
    } else {
        record.failed.fetch_add(1, SeqCst);
    }
    match seg.lock(GUARD_TIMEOUT) {
        Ok(guard) => {
            guard.finish_assignment(id, ping);
        }
        Err(e) => log::error!("could not give slot back after {peer}: {e}"),
    }
    worker.send_pong(ping);
}

/// Reads one message, stamping the heartbeat while it waits, until `deadline`.
fn read_message(
    worker: &Worker,
    stream: &mut TcpStream,
    deadline: Instant,
) -> Result<(Framing, Vec<u8>), ReadFailure> {
    let max = worker.settings.max_payload;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadFailure::TimedOut);
        }
        let _ = stream.set_read_timeout(Some(left.min(TICK)));
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(if buf.is_empty() {
                    ReadFailure::Closed
                } else {
                    ReadFailure::Truncated
                })
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                match parse_message(&buf, max) {
                    MessageProgress::Complete(framing, payload) => return Ok((framing, payload)),
                    MessageProgress::NeedBody {
                        header_len,
                        body_len,
                    } => buf.reserve((header_len + body_len).saturating_sub(buf.len())),
                    MessageProgress::NeedHeader => {}
                    MessageProgress::Invalid(why) => return Err(ReadFailure::Invalid(why)),
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                worker.ctx.segment.heartbeat(worker.id());
            }
            Err(e) => return Err(ReadFailure::Io(e)),
        }
    }
}
