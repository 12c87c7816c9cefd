//! One control connection as the event loop holds it: what it has sent (the parser), what it
//! is owed (the output buffer), the request it has waiting in the queue, the workers it holds
//! unused, and its deadline. The loop calls `read` when the socket is readable, `drive` to
//! answer the complete requests in order, `flush` when it is writable.
//!
//! The rules the threaded dispatcher had, kept: answers go out in request order (a queued
//! request holds back the answers to the requests after it); a connection with nothing
//! pending is closed after `--idle-timeout` of silence, and a request must be complete within
//! `--idle-timeout` of its first byte (a slow loris gains nothing by trickling); a request
//! waiting in the queue is not silence; after the client's end-of-file (it may have only
//! half-closed) what it asked is still answered, then the connection is closed.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use kennel_common::protocol::{
    error_line, AnswerStyle, ControlParser, ControlRequest, LineTooLong, RequestKind, Style,
    MAX_LINE,
};
use kennel_common::segment::{Claim, RecordId};
use mio::net::TcpStream;

use crate::assign::{answer_for, notify_worker, offered, try_claim};
use crate::queue::{Queue, Waiter};
use crate::reservations::Reservations;
use crate::Dispatcher;
use kennel_options::alias::find;

/// Bytes read from a connection while one of its requests waits in the queue: enough for the
/// next request or two; past it the socket is left unread (the kernel's buffer holds the
/// rest) until the waiting request is answered.
const READ_AHEAD: usize = 2 * MAX_LINE;

/// Answers owed to a client that does not read them, at most: past it the connection is cut
/// (it sent requests without reading the answers).
const MAX_OWED: usize = 64 << 10;

pub struct Conn {
    pub stream: TcpStream,
    /// The socket's peer (counted against the per-source cap).
    pub peer: SocketAddr,
    /// The client the requests are for: the peer, or the one a PROXY header names.
    client: SocketAddr,
    /// `--proxy-protocol`: the header not read yet (its bytes so far).
    proxy_header: Option<crate::proxy::Header>,
    /// This connection's identity in the queue: its slab key and a generation.
    pub id: (usize, u64),
    /// The host the answers name for the workers (`--advertise`, else the address reached).
    advertise: Option<IpAddr>,
    advertise_lines: bool,
    parser: ControlParser,
    /// Idle, or the first byte of an incomplete request plus the idle timeout.
    pub deadline: Instant,
    /// A request of this connection is in the queue.
    pub queued: bool,
    held: Reservations,
    out: Vec<u8>,
    /// The client sent end-of-file.
    eof: bool,
    /// Close once the output is written.
    pub closing: bool,
    /// Writable interest is registered (the output did not fit the socket).
    pub want_write: bool,
}

/// Whether the connection lives on after an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Fate {
    Open,
    /// Closed: `why` is for the debug log.
    Close(&'static str),
}

impl Conn {
    pub fn new(d: &Dispatcher, stream: TcpStream, peer: SocketAddr, id: (usize, u64)) -> Conn {
        let _ = stream.set_nodelay(true);
        let local_ip = stream.local_addr().ok().map(|a| a.ip());
        Conn {
            stream,
            peer,
            client: peer,
            proxy_header: d.settings.proxy_protocol.then(Default::default),
            id,
            advertise: d.settings.advertise.or(local_ip),
            advertise_lines: d.settings.advertise_lines,
            parser: ControlParser::new(),
            deadline: Instant::now() + d.settings.idle_timeout,
            queued: false,
            held: Reservations::new(d.settings.max_reservations),
            out: Vec::new(),
            eof: false,
            closing: false,
            want_write: false,
        }
    }

    /// Reads what the socket holds, within the read-ahead while a request is queued; then
    /// answers what is complete.
    ///
    /// Edge-triggered readiness needs the socket drained, but a read that returned less than
    /// the buffer did drain it: data arriving later raises a new edge. Only when the peer's
    /// end-of-file was announced with the event (`closed`), or the buffer came back full, is
    /// the next read made at once — one system call per request saved.
    pub fn read(&mut self, d: &Dispatcher, q: &mut Queue, buf: &mut [u8], closed: bool) -> Fate {
        while !self.eof && !self.read_ahead_full() {
            match self.stream.read(buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let drained = n < buf.len() && !closed;
                    let mut data = &buf[..n];
                    if self.proxy_header.is_some() {
                        match self.take_proxy_header(data) {
                            Ok(Some(used)) => data = &data[used..],
                            Ok(None) if drained => break,
                            Ok(None) => continue,
                            Err(why) => {
                                failed(d);
                                log::warn!("{}: {why}: closing", self.peer);
                                self.say(&error_line(&format!("{why}, closing")));
                                self.closing = true;
                                return self.flush();
                            }
                        }
                    }
                    let had_partial = self.parser.has_partial();
                    self.parser.push(data);
                    // A fresh allowance, unless this continues a request begun earlier: that
                    // one keeps the deadline of its first byte.
                    if !had_partial {
                        self.deadline = Instant::now() + d.settings.idle_timeout;
                    }
                    if let Fate::Close(why) = self.drive(d, q) {
                        return Fate::Close(why);
                    }
                    if drained {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("{}: {e}", self.peer);
                    return Fate::Close("read error");
                }
            }
        }
        self.drive(d, q)
    }

    /// Feeds the PROXY header; once whole, records the client it names and returns how many
    /// bytes of `data` it used (the rest are requests).
    fn take_proxy_header(&mut self, data: &[u8]) -> Result<Option<usize>, String> {
        let Some(h) = self.proxy_header.as_mut() else {
            return Ok(Some(0));
        };
        let done = h.feed(data)?;
        if let Some((client, used)) = done {
            self.client = client.unwrap_or(self.client);
            self.proxy_header = None;
            return Ok(Some(used));
        }
        Ok(None)
    }

    /// The host a line-style answer names: this node's, when it advertises one.
    fn lines_name_host(&self, framing: Style) -> Option<IpAddr> {
        (framing == Style::Line && self.advertise_lines)
            .then_some(self.advertise)
            .flatten()
    }

    /// A request is queued and enough of what follows it is read.
    fn read_ahead_full(&self) -> bool {
        self.queued && self.parser.buffered() >= READ_AHEAD
    }

    /// Answers the complete requests in order, as far as the queue lets it.
    pub fn drive(&mut self, d: &Dispatcher, q: &mut Queue) -> Fate {
        while !self.queued && !self.closing {
            let next = match self.parser.next_request() {
                Ok(None) => break,
                Ok(Some(r)) => r,
                Err(LineTooLong) => {
                    failed(d);
                    log::warn!("{} sent a line over {MAX_LINE} bytes: closing", self.peer);
                    self.say(&error_line(&format!(
                        "request line over {MAX_LINE} bytes, closing"
                    )));
                    self.closing = true;
                    break;
                }
            };
            self.answer(d, q, next);
        }
        if !self.parser.has_partial() && !self.queued {
            self.deadline = self.deadline.max(Instant::now() + d.settings.idle_timeout);
        }
        if self.eof && !self.queued {
            // Everything complete is answered; a partial request can never end now.
            self.closing = true;
        }
        self.flush()
    }

    /// One request: an error line, a port at once, or a place in the queue.
    fn answer(&mut self, d: &Dispatcher, q: &mut Queue, req: ControlRequest) {
        let (request, style) = match req {
            // On a node that advertises its address (several nodes behind one front), a
            // line-style request is answered `ADDR PORT`: the client connects to the node
            // that holds the worker, whatever front it came through.
            ControlRequest::Known(t, framing) => (
                t,
                AnswerStyle {
                    framing,
                    addr: self.lines_name_host(framing),
                },
            ),
            ControlRequest::Unknown(word, framing) => match find(&d.settings.type_aliases, &word) {
                Some(a) => (
                    a.request,
                    AnswerStyle {
                        framing,
                        addr: if a.addr_port {
                            self.advertise
                        } else {
                            self.lines_name_host(framing)
                        },
                    },
                ),
                None => {
                    failed(d);
                    log::warn!("{} sent an unknown request type: {word}", self.peer);
                    let line = format!("unknown request type (known: {})", known_types(d));
                    self.say(&error_line(&line));
                    return;
                }
            },
        };
        if self.held.at_limit(&d.ctx.segment).is_some() {
            failed(d);
            kennel_common::logging::warn_limited(
                "reservations",
                format_args!(
                    "{} holds {} unused reservations: refused another",
                    self.peer, d.settings.max_reservations
                ),
            );
            self.say(&error_line(&format!(
                "this connection already holds {} unused workers: connect to them first",
                d.settings.max_reservations
            )));
            return;
        }
        if !offered(d, request) {
            failed(d);
            log::warn!(
                "{} asked for {}, which no worker offers",
                self.peer,
                request.name()
            );
            self.say(&error_line(&format!(
                "language unavailable: {} (no worker offers it: see kennelctl status)",
                request.name()
            )));
            return;
        }
        let started = Instant::now();
        let token = if d.settings.require_token {
            d.new_token()
        } else {
            0
        };
        if q.is_empty() {
            if let Some(c) = try_claim(d, self.client, request, token) {
                let bytes = answer_for(d, c, token, style);
                self.deliver(d, &bytes, c, started);
                return;
            }
        }
        self.queued = true;
        q.push(
            d,
            Waiter {
                conn: self.id,
                client: self.client,
                request,
                style,
                token,
                deadline: started + d.settings.queue_timeout,
            },
        );
    }

    /// Writes a worker's answer, then pings the worker (the client first: the worker does not
    /// need the ping to serve it).
    pub fn deliver(&mut self, d: &Dispatcher, answer: &[u8], c: Claim, started: Instant) {
        self.say(answer);
        let _ = self.flush();
        d.ctx.segment.record_dispatch_time(started.elapsed());
        notify_worker(d, c);
        self.held.add(c);
    }

    /// The queued request was answered (a worker, or `-1`).
    pub fn dequeued(&mut self, d: &Dispatcher) {
        self.queued = false;
        if !self.parser.has_partial() {
            self.deadline = Instant::now() + d.settings.idle_timeout;
        }
    }

    /// Queues bytes for the client.
    pub fn say(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Writes what is owed, as far as the socket takes it.
    pub fn flush(&mut self) -> Fate {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Fate::Close("write returned 0"),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("{} left before its answer: {e}", self.peer);
                    return Fate::Close("write error");
                }
            }
        }
        if self.out.len() > MAX_OWED {
            log::warn!(
                "{} does not read its answers: closing its connection",
                self.peer
            );
            return Fate::Close("answers not read");
        }
        if self.closing && self.out.is_empty() {
            return Fate::Close("done");
        }
        Fate::Open
    }

    /// Whether output waits for the socket to become writable.
    pub fn owes(&self) -> bool {
        !self.out.is_empty()
    }

    /// The idle or incomplete-request deadline passed (nothing queued): says why and closes.
    pub fn time_out(&mut self, d: &Dispatcher) -> Fate {
        let why = if self.parser.has_partial() {
            "incomplete request"
        } else {
            "idle"
        };
        log::info!(
            "closing {}: {why} for {} ms",
            self.peer,
            d.settings.idle_timeout.as_millis()
        );
        self.say(&error_line(&format!("{why} timeout, closing")));
        self.closing = true;
        match self.flush() {
            // What did not fit is dropped: the client was silent; it may not be reading.
            Fate::Open => Fate::Close("timed out"),
            f => f,
        }
    }
}

fn failed(d: &Dispatcher) {
    d.ctx
        .segment
        .record(RecordId::Dispatcher)
        .failed
        .fetch_add(1, SeqCst);
}

/// The type names this dispatcher answers: the built-in ones, then its aliases.
fn known_types(d: &Dispatcher) -> String {
    RequestKind::ALL
        .iter()
        .map(|t| t.name().to_string())
        .chain(d.settings.type_aliases.iter().map(|a| a.name.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}
