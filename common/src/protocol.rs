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

/// A request type the system knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestType {
    /// `requetetype1`: the current UTC time.
    Time,
    /// `requetetype2`: today's UTC date.
    Date,
    /// `echo`: the payload, returned unchanged.
    Echo,
}

impl RequestType {
    pub const ALL: [RequestType; 3] = [RequestType::Time, RequestType::Date, RequestType::Echo];

    pub fn name(self) -> &'static str {
        match self {
            RequestType::Time => "requetetype1",
            RequestType::Date => "requetetype2",
            RequestType::Echo => "echo",
        }
    }

    /// Code stored in shared memory (0 means none).
    pub fn code(self) -> u32 {
        match self {
            RequestType::Time => 1,
            RequestType::Date => 2,
            RequestType::Echo => 3,
        }
    }

    pub fn from_code(code: u32) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn from_name(name: &[u8]) -> Option<RequestType> {
        RequestType::ALL
            .into_iter()
            .find(|t| t.name().as_bytes() == name)
    }

    /// Whether a client may send the same request again after a failure without changing
    /// the outcome: true for every built-in type (they only read the clock or echo).
    pub fn is_idempotent(self) -> bool {
        true
    }
}

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
    Known(RequestType, Style),
    /// Not a known type; carries a printable excerpt for the error line and the log.
    Unknown(String),
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
            if RequestType::from_name(body).is_some() {
                let line = std::mem::take(&mut self.buf);
                let body = line.strip_suffix(b"\r").unwrap_or(&line);
                return Ok(Some(classify(body, Style::Bare)));
            }
            let could_grow = RequestType::ALL
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
    match RequestType::from_name(line) {
        Some(t) => ControlRequest::Known(t, style),
        None => ControlRequest::Unknown(printable_excerpt(line)),
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

/// Splits a dispatcher answer line into a port and an optional token.
pub fn parse_port_answer(line: &str) -> Option<(u16, Option<u64>)> {
    let mut parts = line.split(' ');
    let port = parts.next()?.parse::<u16>().ok().filter(|p| *p != 0)?;
    let token = match parts.next() {
        None => None,
        Some(t) if t.len() == 16 => Some(u64::from_str_radix(t, 16).ok()?),
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((port, token))
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

/// How the client's message to a worker was framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One unterminated write: answered unterminated.
    Bare,
    /// A `\n`-terminated line: answered with a line.
    Line,
    /// `LEN <n>\n` followed by exactly n bytes: answered the same way.
    Length,
}

/// What the worker can tell from the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageProgress {
    /// A complete message.
    Complete(Framing, Vec<u8>),
    /// A `LEN` header announcing this many bytes, of which the buffer holds the first part;
    /// `header_len` bytes of header precede them.
    NeedBody { header_len: usize, body_len: usize },
    /// A `LEN` header that is not complete yet.
    NeedHeader,
    /// Not acceptable: the reason, for an `ERR` line.
    Invalid(String),
}

/// Decides what the bytes received so far on a worker connection are. The caller passes what
/// its first read returned: a message without terminator is then taken whole, as the existing
/// clients send one short unterminated write and wait for the answer.
pub fn parse_message(buf: &[u8], max_payload: usize) -> MessageProgress {
    if let Some(rest) = buf.strip_prefix(b"LEN ") {
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            return if rest.len() > 20 {
                MessageProgress::Invalid("malformed LEN header".into())
            } else {
                MessageProgress::NeedHeader
            };
        };
        let digits = &rest[..nl];
        let n = std::str::from_utf8(digits)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<usize>().ok());
        let Some(body_len) = n else {
            return MessageProgress::Invalid("malformed LEN header".into());
        };
        if body_len > max_payload {
            return MessageProgress::Invalid(format!(
                "payload of {body_len} bytes exceeds the limit of {max_payload}"
            ));
        }
        let header_len = 4 + nl + 1;
        if buf.len() >= header_len + body_len {
            return MessageProgress::Complete(
                Framing::Length,
                buf[header_len..header_len + body_len].to_vec(),
            );
        }
        return MessageProgress::NeedBody {
            header_len,
            body_len,
        };
    }
    if let Some(nl) = buf.iter().position(|b| *b == b'\n') {
        if nl > MAX_LINE {
            return MessageProgress::Invalid(format!("line longer than {MAX_LINE} bytes"));
        }
        let mut line = buf[..nl].to_vec();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        return MessageProgress::Complete(Framing::Line, line);
    }
    if buf.len() > MAX_LINE {
        return MessageProgress::Invalid(format!(
            "unterminated message longer than {MAX_LINE} bytes"
        ));
    }
    MessageProgress::Complete(Framing::Bare, buf.to_vec())
}

/// Frames a worker's answer the way the request was framed.
pub fn frame_answer(framing: Framing, body: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Bare => body.to_vec(),
        Framing::Line => {
            let mut v = body.to_vec();
            v.push(b'\n');
            v
        }
        Framing::Length => {
            let mut v = format!("LEN {}\n", body.len()).into_bytes();
            v.extend_from_slice(body);
            v
        }
    }
}

/// Frames a payload the way Kennel's own client sends it.
pub fn frame_request(payload: &[u8]) -> Vec<u8> {
    frame_answer(Framing::Length, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<Result<Option<ControlRequest>, LineTooLong>> {
        let mut p = ControlParser::new();
        p.push(input);
        let mut out = Vec::new();
        loop {
            let r = p.next_request();
            let stop = matches!(r, Ok(None) | Err(_));
            out.push(r);
            if stop {
                return out;
            }
        }
    }

    #[test]
    fn bare_type_is_complete_without_newline() {
        assert_eq!(
            parse_all(b"requetetype1"),
            vec![
                Ok(Some(ControlRequest::Known(RequestType::Time, Style::Bare))),
                Ok(None)
            ]
        );
    }

    #[test]
    fn terminated_types_are_line_style_and_crlf_is_stripped() {
        assert_eq!(
            parse_all(b"requetetype2\r\necho\n"),
            vec![
                Ok(Some(ControlRequest::Known(RequestType::Date, Style::Line))),
                Ok(Some(ControlRequest::Known(RequestType::Echo, Style::Line))),
                Ok(None)
            ]
        );
    }

    #[test]
    fn prefix_of_a_type_waits_for_more_bytes() {
        let mut p = ControlParser::new();
        p.push(b"requete");
        assert_eq!(p.next_request(), Ok(None));
        assert!(p.has_partial());
        p.push(b"type1");
        assert_eq!(
            p.next_request(),
            Ok(Some(ControlRequest::Known(RequestType::Time, Style::Bare)))
        );
        // A newline arriving after a bare request is ignored, not an empty request.
        p.push(b"\n");
        assert_eq!(p.next_request(), Ok(None));
        assert!(!p.has_partial());
    }

    #[test]
    fn unknown_and_garbage_are_reported_at_once_and_escaped() {
        let r = parse_all(b"requetetype9");
        assert_eq!(
            r[0],
            Ok(Some(ControlRequest::Unknown("requetetype9".into())))
        );
        let r = parse_all(b"\xff\x00ab\n");
        assert_eq!(
            r[0],
            Ok(Some(ControlRequest::Unknown("\\xff\\x00ab".into())))
        );
    }

    #[test]
    fn overlong_lines_are_refused_with_or_without_newline() {
        assert_eq!(parse_all(&vec![b'r'; MAX_LINE + 1])[0], Err(LineTooLong));
        // Long unterminated junk waits for its newline instead of being answered per chunk.
        assert_eq!(parse_all(&[b'x'; MAX_TYPE_LEN + 1])[0], Ok(None));
        let mut long = vec![b'a'; MAX_LINE + 10];
        long.push(b'\n');
        assert_eq!(parse_all(&long)[0], Err(LineTooLong));
    }

    #[test]
    fn answers_mirror_the_request_style() {
        assert_eq!(port_answer(2223, Style::Bare), b"2223");
        assert_eq!(port_answer(2223, Style::Line), b"2223\n");
        assert_eq!(busy_answer(Style::Bare), b"-1");
        assert_eq!(error_line("x"), b"ERR x\n");
    }

    #[test]
    fn worker_messages_in_all_three_framings() {
        assert_eq!(
            parse_message(b"Hello, what time is it ?", 10),
            MessageProgress::Complete(Framing::Bare, b"Hello, what time is it ?".to_vec())
        );
        assert_eq!(
            parse_message(b"hi\r\n", 10),
            MessageProgress::Complete(Framing::Line, b"hi".to_vec())
        );
        assert_eq!(
            parse_message(b"LEN 3\nabc", 10),
            MessageProgress::Complete(Framing::Length, b"abc".to_vec())
        );
        assert_eq!(
            parse_message(b"LEN 5\nab", 10),
            MessageProgress::NeedBody {
                header_len: 6,
                body_len: 5
            }
        );
        assert_eq!(parse_message(b"LEN 5", 10), MessageProgress::NeedHeader);
        assert!(matches!(
            parse_message(b"LEN 11\n", 10),
            MessageProgress::Invalid(_)
        ));
        assert!(matches!(
            parse_message(b"LEN x\n", 10),
            MessageProgress::Invalid(_)
        ));
        assert!(matches!(
            parse_message(b"LEN -1\n", 10),
            MessageProgress::Invalid(_)
        ));
        assert!(matches!(
            parse_message(b"LEN 99999999999999999999999\n", usize::MAX),
            MessageProgress::Invalid(_)
        ));
    }

    #[test]
    fn framing_round_trips() {
        let req = frame_request(b"payload");
        assert_eq!(
            parse_message(&req, 100),
            MessageProgress::Complete(Framing::Length, b"payload".to_vec())
        );
        assert_eq!(frame_answer(Framing::Line, b"x"), b"x\n");
        assert_eq!(frame_answer(Framing::Bare, b"x"), b"x");
    }

    #[test]
    fn tokens_in_answers_and_lines() {
        assert_eq!(
            port_token_answer(2223, 0xab, Style::Line),
            b"2223 00000000000000ab\n"
        );
        assert_eq!(parse_port_answer("2223"), Some((2223, None)));
        assert_eq!(
            parse_port_answer("2223 00000000000000ab"),
            Some((2223, Some(0xab)))
        );
        assert_eq!(parse_port_answer("0"), None);
        assert_eq!(parse_port_answer("2223 xyz"), None);
        assert_eq!(parse_port_answer("2223 00000000000000ab 1"), None);
        let mut line = token_line(0xdead_beef);
        line.extend_from_slice(b"LEN 2\nhi");
        assert_eq!(parse_token_line(&line), Some(Ok((0xdead_beef, 23))));
        assert_eq!(parse_token_line(b"TOK"), None);
        assert!(matches!(parse_token_line(b"hello"), Some(Err(_))));
        assert!(matches!(
            parse_token_line(b"TOKEN zzzzzzzzzzzzzzzz\n"),
            Some(Err(_))
        ));
    }

    #[test]
    fn request_type_codes_round_trip() {
        for t in RequestType::ALL {
            assert_eq!(RequestType::from_code(t.code()), Some(t));
            assert_eq!(RequestType::from_name(t.name().as_bytes()), Some(t));
        }
        assert_eq!(RequestType::from_code(0), None);
    }
}
