//! The wire protocol, byte by byte (see docs/PROTOCOL.md): request types, the control-line
//! parser the dispatcher runs on every byte a client sends, and the framing of the worker
//! exchange. Pure functions over byte buffers: no I/O here, so every rule is unit-tested and
//! the parser can be fuzzed.
//!
//! Two styles share the same ports. Existing student clients send a bare type with no newline
//! in one write and parse bare digits; Kennel's own client sends terminated lines and a
//! `LEN <n>\n` header before its payload. Each answer mirrors the style of its request.

/// Longest request line accepted on the control connection (and longest bare worker message).
pub const MAX_LINE: usize = 4096;
/// Bare bytes longer than this that match no type are not a mistyped type name but something
/// else: they wait for a newline (bounded by `MAX_LINE`) instead of being answered at once.
pub const MAX_TYPE_LEN: usize = 64;
/// Default bound on a framed worker payload.
pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

pub mod kind;

pub use kind::{Language, RequestKind, Service};

/// How a request was framed, which decides how its answer is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No terminator: the answer is bare too (digits only, no newline).
    Bare,
    /// Terminated by `\n` (or `\r\n`): the answer is a terminated line.
    Line,
}

/// One complete thing a client said on the control connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    Known(RequestKind, Style),
    /// Not a known type; carries a printable excerpt for the error line and the log (and for
    /// the dispatcher's alias table), and how it was framed.
    Unknown(String, Style),
}

/// The control connection's line was longer than `MAX_LINE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// Accumulates bytes from a control connection and cuts them into requests.
///
/// A request is complete when the buffer holds a newline (terminated style), or when, without
/// a newline, it equals a known type exactly (bare style). Up to `MAX_TYPE_LEN` bytes that
/// cannot become a known type are reported at once as unknown (a mistyped bare type must not
/// leave its sender waiting); bytes that are a strict prefix of a known type wait; longer
/// unterminated bytes wait for a newline, and past `MAX_LINE` the line is refused.
#[derive(Debug, Default)]
pub struct ControlParser {
    buf: Vec<u8>,
}

impl ControlParser {
    pub fn new() -> ControlParser {
        ControlParser::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes held while waiting for the rest of a request (never more than `MAX_LINE` once
    /// `next_request` has returned `Ok(None)`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True if part of a request is waiting for more bytes.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next complete request, `Ok(None)` if more bytes are needed.
    pub fn next_request(&mut self) -> Result<Option<ControlRequest>, LineTooLong> {
        loop {
            if let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
                if nl > MAX_LINE {
                    self.buf.clear();
                    return Err(LineTooLong);
                }
                let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    continue; // blank lines (or a stray terminator after a bare request)
                }
                return Ok(Some(classify(&line, Style::Line)));
            }
            if self.buf.len() > MAX_LINE {
                self.buf.clear();
                return Err(LineTooLong);
            }
            let body = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
            if body.is_empty() {
                return Ok(None);
            }
            if RequestKind::from_name(body).is_some() {
                let line = std::mem::take(&mut self.buf);
                let body = line.strip_suffix(b"\r").unwrap_or(&line);
                return Ok(Some(classify(body, Style::Bare)));
            }
            let could_grow = RequestKind::ALL
                .iter()
                .any(|t| t.name().as_bytes().starts_with(body));
            if could_grow || body.len() > MAX_TYPE_LEN {
                return Ok(None);
            }
            let junk = std::mem::take(&mut self.buf);
            return Ok(Some(classify(&junk, Style::Bare)));
        }
    }
}

fn classify(line: &[u8], style: Style) -> ControlRequest {
    match RequestKind::from_name(line) {
        Some(t) => ControlRequest::Known(t, style),
        None => ControlRequest::Unknown(printable_excerpt(line), style),
    }
}

/// At most 40 characters of `bytes`, with anything unprintable escaped: safe to log and echo.
pub fn printable_excerpt(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(40) {
        match b {
            0x20..=0x7e if *b != b'\\' => s.push(*b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > 40 {
        s.push('…');
    }
    s
}

/// The dispatcher's answer naming a worker port.
pub fn port_answer(port: u16, style: Style) -> Vec<u8> {
    terminate(port.to_string(), style)
}

/// The dispatcher's answer in `--require-token` mode: the port and a one-time token,
/// `2223 0123456789abcdef` (16 hex digits).
pub fn port_token_answer(port: u16, token: u64, style: Style) -> Vec<u8> {
    terminate(format!("{port} {token:016x}"), style)
}

/// The first line a token-capable client sends to its worker: `TOKEN <16 hex digits>\n`.
pub fn token_line(token: u64) -> Vec<u8> {
    format!("TOKEN {token:016x}\n").into_bytes()
}

/// Reads a `TOKEN` line at the start of `buf`: `Some(Ok((token, bytes used)))`, `None` if
/// the line is not complete yet, `Some(Err(..))` if it is not a token line.
pub fn parse_token_line(buf: &[u8]) -> Option<Result<(u64, usize), String>> {
    const LEN: usize = "TOKEN ".len() + 16 + 1;
    if buf.len() < LEN {
        let prefix = &b"TOKEN "[..buf.len().min(6)];
        return if buf.starts_with(prefix) {
            None
        } else {
            Some(Err("a token is required: send TOKEN <token> first".into()))
        };
    }
    let line = &buf[..LEN];
    let hex = line
        .strip_prefix(b"TOKEN ")
        .and_then(|r| r.strip_suffix(b"\n"))
        .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
    let token = hex
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| u64::from_str_radix(h, 16).ok());
    Some(match token {
        Some(t) => Ok((t, LEN)),
        None => Err("malformed TOKEN line".into()),
    })
}

/// A dispatcher's answer naming a worker: where to connect, and the one-time token if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortAnswer {
    /// The worker's host, when the answer names one (`ADDR PORT`); else the dispatcher's.
    pub addr: Option<std::net::IpAddr>,
    pub port: u16,
    pub token: Option<u64>,
}

/// Reads a dispatcher answer line: `PORT`, `PORT TOKEN`, `ADDR PORT` or `ADDR PORT TOKEN`
/// (an address holds a `.` or a `:`, a port never does).
pub fn parse_port_answer(line: &str) -> Option<PortAnswer> {
    let mut parts = line.split(' ').peekable();
    let addr = match parts.peek() {
        Some(first) if first.contains(['.', ':']) => {
            let a = first.parse::<std::net::IpAddr>().ok()?;
            parts.next();
            Some(a)
        }
        _ => None,
    };
    let port = parts.next()?.parse::<u16>().ok().filter(|p| *p != 0)?;
    let token = match parts.next() {
        None => None,
        Some(t) if t.len() == 16 => Some(u64::from_str_radix(t, 16).ok()?),
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(PortAnswer { addr, port, token })
}

/// How the dispatcher answers one request: in the request's framing, with the worker's port
/// alone (the assignment's clients) or as `ADDR PORT` (clients that expect the address too:
/// a request type configured with `answer = "addr-port"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerStyle {
    pub framing: Style,
    /// The address to name before the port, if any.
    pub addr: Option<std::net::IpAddr>,
}

impl From<Style> for AnswerStyle {
    fn from(framing: Style) -> Self {
        AnswerStyle {
            framing,
            addr: None,
        }
    }
}

/// The dispatcher's answer naming a worker: `PORT`, `PORT TOKEN`, `ADDR PORT` or
/// `ADDR PORT TOKEN` (`token` 0: none), framed as the request was.
pub fn worker_answer(port: u16, token: u64, a: AnswerStyle) -> Vec<u8> {
    let mut s = match a.addr {
        Some(ip) => format!("{ip} {port}"),
        None => port.to_string(),
    };
    if token != 0 {
        s.push_str(&format!(" {token:016x}"));
    }
    terminate(s, a.framing)
}

/// The dispatcher's answer when no worker became idle in time.
pub fn busy_answer(style: Style) -> Vec<u8> {
    terminate("-1".to_string(), style)
}

/// An error line: always terminated, always starting with `ERR `.
pub fn error_line(message: &str) -> Vec<u8> {
    format!("ERR {message}\n").into_bytes()
}

fn terminate(mut s: String, style: Style) -> Vec<u8> {
    if style == Style::Line {
        s.push('\n');
    }
    s.into_bytes()
}

mod framing;
pub use framing::*;

#[cfg(test)]
mod tests;
