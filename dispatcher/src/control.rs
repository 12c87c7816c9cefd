//! One control connection: read request types, answer worker ports, until the client leaves,
//! falls silent past the idle timeout, or sends something unacceptable.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use kennel_common::protocol::{
    error_line, AnswerStyle, ControlParser, ControlRequest, LineTooLong, RequestType, MAX_LINE,
};
use kennel_common::segment::RecordId;

use crate::aliases::find;
use crate::assign::{dispatch, notify_worker, Dispatched, Pending};
use crate::reservations::Reservations;
use crate::Dispatcher;

/// Serves one control connection to its end. Never panics on client input.
///
/// Time limits: a connection with nothing pending is closed after `idle_timeout` of silence;
/// a request that has begun must be complete within `idle_timeout` of its first byte, however
/// slowly its bytes trickle in (a slow-loris client cannot hold its thread by sending one
/// byte a second). A request waiting in the queue is not silence: until it is settled the
/// read waits only for the queue timeout.
pub fn serve(d: &Dispatcher, mut stream: TcpStream, peer: SocketAddr) {
    // Blocking already: accept4 does not inherit the listener's O_NONBLOCK.
    let _ = stream.set_nodelay(true);
    let idle = d.settings.idle_timeout;
    let _ = stream.set_write_timeout(Some(idle));
    let failed = &d.ctx.segment.record(RecordId::Dispatcher).failed;
    let mut parser = ControlParser::new();
    let mut buf = [0u8; 1024];
    let mut deadline = Instant::now() + idle;
    // A request of this connection waiting in the queue; its answer comes from another
    // thread, and nothing else is written on the connection until it is settled.
    let mut pending: Option<Pending> = None;
    // The read timeout last set on the socket: set again only when the wait it should have
    // differs from it by more than `TIMEOUT_SLACK` (one system call per request saved).
    let mut timeout_set: Option<Duration> = None;
    let mut held = Reservations::new(d.settings.max_reservations);
    loop {
        if pending.as_ref().is_some_and(Pending::is_answered) {
            if let Some(c) = pending.take().and_then(|p| p.claim()) {
                held.add(c);
            }
        }
        let until = pending.as_ref().map_or(deadline, |p| p.deadline);
        let left = until.saturating_duration_since(Instant::now());
        let read = if left.is_zero() {
            Err(io::Error::from(io::ErrorKind::TimedOut))
        } else {
            let reset =
                timeout_set.is_none_or(|t| left + TIMEOUT_SLACK < t || left > t + TIMEOUT_SLACK);
            if reset {
                let _ = stream.set_read_timeout(Some(left));
                timeout_set = Some(left);
            }
            stream.read(&mut buf)
        };
        let n = match read {
            Ok(0) => {
                // The client has sent its last byte, but it may still be reading: a request
                // it left queued is answered (or gets its `-1`) before the connection closes.
                let _ = settle(d, &mut stream, peer, &mut pending, &mut held);
                return;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if Instant::now() < until {
                    // The timeout kept on the socket was a little shorter than this wait.
                    continue;
                }
                if pending.is_some() {
                    // The queue timeout: the request gets its worker or `-1` now.
                    if !settle(d, &mut stream, peer, &mut pending, &mut held) {
                        return;
                    }
                    if !parser.has_partial() {
                        deadline = Instant::now() + idle;
                    }
                    continue;
                }
                let why = if parser.has_partial() {
                    "incomplete request"
                } else {
                    "idle"
                };
                log::info!("closing {peer}: {why} for {} ms", idle.as_millis());
                let _ = stream.write_all(&error_line(&format!("{why} timeout, closing")));
                return;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::debug!("{peer}: {e}");
                if let Some(p) = pending.take() {
                    p.cancel(d);
                }
                return;
            }
        };
        let had_partial = parser.has_partial();
        parser.push(&buf[..n]);
        loop {
            let next = parser.next_request();
            if matches!(next, Ok(None)) {
                break;
            }
            // Answers go out in request order: an earlier request still queued is settled
            // before anything else is written.
            if !settle(d, &mut stream, peer, &mut pending, &mut held) {
                return;
            }
            // For a request dispatched at once: when it was parsed (to time the dispatcher's
            // own work up to the written port) and the worker to notify afterwards.
            let mut dispatched = None;
            // An alias is a known type under another name, with its own answer form.
            let next = match next {
                Ok(Some(ControlRequest::Unknown(word, style))) => {
                    match find(&d.settings.type_aliases, &word) {
                        Some(a) => {
                            let addr = a
                                .addr_port
                                .then(|| stream.local_addr().map(|l| l.ip()).ok())
                                .flatten();
                            Ok(Some((
                                a.request,
                                AnswerStyle {
                                    framing: style,
                                    addr,
                                },
                            )))
                        }
                        None => {
                            failed.fetch_add(1, SeqCst);
                            log::warn!("{peer} sent an unknown request type: {word}");
                            let answer = error_line(&format!(
                                "unknown request type (known: {})",
                                known_types(d)
                            ));
                            if let Err(e) = stream.write_all(&answer) {
                                log::debug!("{peer} left before its answer: {e}");
                                return;
                            }
                            continue;
                        }
                    }
                }
                Ok(Some(ControlRequest::Known(t, style))) => Ok(Some((t, style.into()))),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            let answer = match next {
                Ok(None) => break,
                Ok(Some(_)) if held.at_limit(&d.ctx.segment).is_some() => {
                    failed.fetch_add(1, SeqCst);
                    kennel_common::logging::warn_limited(
                        "reservations",
                        format_args!(
                            "{peer} holds {} unused reservations: refused another",
                            d.settings.max_reservations
                        ),
                    );
                    error_line(&format!(
                        "this connection already holds {} unused workers: connect to them first",
                        d.settings.max_reservations
                    ))
                }
                Ok(Some((request, _))) if !offered(d, request) => {
                    failed.fetch_add(1, SeqCst);
                    log::warn!(
                        "{peer} asked for {}, which no worker offers",
                        request.name()
                    );
                    error_line(&format!(
                        "language unavailable: {} (no worker offers it: see kennelctl status)",
                        request.name()
                    ))
                }
                Ok(Some((request, style))) => {
                    let started = Instant::now();
                    match dispatch(d, &stream, peer, request, style) {
                        Dispatched::Answer { bytes, claim } => {
                            if let Some(c) = claim {
                                held.add(c);
                            }
                            dispatched = claim.map(|c| (started, c));
                            bytes
                        }
                        Dispatched::Queued(p) => {
                            pending = Some(p);
                            continue;
                        }
                    }
                }
                Err(LineTooLong) => {
                    failed.fetch_add(1, SeqCst);
                    log::warn!("{peer} sent a line over {MAX_LINE} bytes: closing");
                    let _ = stream.write_all(&error_line(&format!(
                        "request line over {MAX_LINE} bytes, closing"
                    )));
                    return;
                }
            };
            if let Err(e) = stream.write_all(&answer) {
                log::debug!("{peer} left before its answer: {e}");
                return;
            }
            if let Some((started, claim)) = dispatched {
                d.ctx.segment.record_dispatch_time(started.elapsed());
                notify_worker(d, claim);
            }
        }
        // Nothing pending, or a request just begun: a fresh allowance. A request still
        // incomplete from an earlier read keeps the deadline of its first byte.
        if !parser.has_partial() || !had_partial {
            deadline = Instant::now() + idle;
        }
    }
}

/// A deadline that moved by less than this keeps the socket's read timeout as it is: the read
/// then gives up at most this much late, or early, in which case the loop reads again.
const TIMEOUT_SLACK: Duration = Duration::from_millis(20);

/// Settles the connection's queued request, if any, writing its `-1` when the queue timeout
/// gave it no worker. False if the connection broke.
fn settle(
    d: &Dispatcher,
    stream: &mut TcpStream,
    peer: SocketAddr,
    pending: &mut Option<Pending>,
    held: &mut Reservations,
) -> bool {
    let Some(p) = pending.take() else {
        return true;
    };
    let answer = p.settle(d);
    if let Some(c) = p.claim() {
        held.add(c);
    }
    let Some(answer) = answer else {
        return true;
    };
    match stream.write_all(&answer) {
        Ok(()) => true,
        Err(e) => {
            log::debug!("{peer} left before its answer: {e}");
            false
        }
    }
}

/// Whether `request` can be served: built-in types always; a language unless every running
/// worker has published what it offers and none offers it (while workers start, or when
/// none runs, the request waits in the queue as any other).
fn offered(d: &Dispatcher, request: RequestType) -> bool {
    if !request.is_run() {
        return true;
    }
    let seg = &d.ctx.segment;
    let bit = kennel_common::segment::language_bit(request);
    let mut running = (0..seg.workers())
        .map(|k| seg.read(kennel_common::segment::RecordId::Worker(k)))
        .filter(|r| r.supervision() == Some(kennel_common::layout::Supervision::Running))
        .peekable();
    running.peek().is_none() || running.any(|r| r.capacity == 0 || r.languages & bit != 0)
}

/// The type names this dispatcher answers: the built-in ones, then its aliases.
fn known_types(d: &Dispatcher) -> String {
    RequestType::ALL
        .iter()
        .map(|t| t.name().to_string())
        .chain(d.settings.type_aliases.iter().map(|a| a.name.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}
