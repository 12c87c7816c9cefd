//! The worker exchange's framing: one unterminated write (the student style), a
//! `\n`-terminated line, or `LEN <n>\n` and exactly n bytes; each answer mirrors its request.

use super::*;

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
