//! The program-runner service on a worker connection (request types `python`, `c`, `cpp`,
//! `java`): reads the submission, runs it through `kennel_runner`, answers.
//!
//! - framed (Kennel's client): `LEN n\n` and a submission's fields (docs/PROTOCOL.md §6);
//!   answered `LEN m\n` and the result's fields;
//! - bare (a ten-line student script): the source bytes, then a half-close; answered with
//!   the program's stdout, then one verdict line (`-- accepted · exit 0 · …`).
//!
//! A submission that cannot be run as sent (malformed, over a limit, a language this host
//! lacks) is answered `ERR refused: <why>`: clients do not retry those.

use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use kennel_common::protocol::Framing;
use kennel_runner::{Language, Submission};

use crate::serve::{fill, read_message, say_error, write_answer, ReadFailure};
use crate::state::Worker;

/// Serves one submission; true if the client got a result.
pub fn serve(
    worker: &Worker,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    lang: Language,
    peer: SocketAddr,
) -> bool {
    let submission = match read_submission(worker, stream, buf, deadline) {
        Ok(s) => s,
        Err(why) => {
            log::warn!("{peer}: {why}");
            say_error(stream, &format!("refused: {why}"));
            linger(stream);
            return false;
        }
    };
    let framed = submission.1;
    let result = match worker.runner.run(lang, &submission.0, worker.port()) {
        Ok(r) => r,
        Err(why) => {
            log::warn!("{peer}: refused a {} submission: {why}", lang.name());
            say_error(stream, &format!("refused: {why}"));
            return false;
        }
    };
    log::info!("{peer}: {} {}", lang.name(), result.summary_line());
    let answer = if framed {
        result.encode()
    } else {
        let mut out = result.stdout.clone();
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(result.summary_line().as_bytes());
        out.push(b'\n');
        out
    };
    let framing = if framed {
        Framing::Length
    } else {
        Framing::Bare
    };
    let write_deadline = Instant::now() + worker.settings.client_timeout;
    match write_answer(worker, stream, framing, &answer, write_deadline) {
        Ok(()) => true,
        Err(e) => {
            log::warn!("{peer} left before its result: {e}");
            false
        }
    }
}

/// The submission, and whether it came framed.
fn read_submission(
    worker: &Worker,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<(Submission, bool), String> {
    let max = worker.settings.max_payload;
    // Enough bytes to tell the styles apart: "LEN " or anything else.
    while buf.len() < 4 && b"LEN ".starts_with(buf) {
        match fill(worker, stream, buf, deadline) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(describe(e)),
        }
    }
    if buf.starts_with(b"LEN ") {
        let (_, payload) = read_message(worker, stream, buf, deadline).map_err(describe)?;
        return Ok((Submission::decode(&payload)?, true));
    }
    // Bare: the source is everything up to the client's half-close.
    loop {
        if buf.len() > max {
            return Err(format!("source over {max} bytes (--max-payload)"));
        }
        match fill(worker, stream, buf, deadline) {
            Ok(0) => break,
            Ok(_) => {}
            Err(ReadFailure::TimedOut) => {
                return Err(
                    "timed out waiting for the source: send it, then half-close (shutdown SHUT_WR)"
                        .into(),
                )
            }
            Err(e) => return Err(describe(e)),
        }
    }
    if buf.is_empty() {
        return Err("an empty source".into());
    }
    let source = std::mem::take(buf);
    Ok((
        Submission {
            source,
            ..Default::default()
        },
        false,
    ))
}

/// After refusing a submission that is still arriving (too large), reads and drops the rest
/// for a bounded time and size before closing: closing with unread bytes would send a reset,
/// and the client, still writing, would lose the `ERR` line that says why.
fn linger(stream: &mut TcpStream) {
    use std::io::Read;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let until = Instant::now() + std::time::Duration::from_secs(2);
    let mut sink = [0u8; 64 * 1024];
    let mut left: usize = 64 << 20;
    while left > 0 && Instant::now() < until {
        let _ = stream.set_read_timeout(Some(
            until
                .saturating_duration_since(Instant::now())
                .max(std::time::Duration::from_millis(1)),
        ));
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn describe(e: ReadFailure) -> String {
    match e {
        ReadFailure::Closed => "closed before sending a submission".into(),
        ReadFailure::Truncated => "closed before the announced submission arrived".into(),
        ReadFailure::TimedOut => "timed out waiting for the submission".into(),
        ReadFailure::Invalid(why) => why,
        ReadFailure::Io(e) => format!("reading the submission: {e}"),
    }
}
