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

use kennel_common::protocol::Framing;
use kennel_runner::{Language, Submission};

use crate::state::Worker;
use crate::wire::{Conn, ReadFailure};

/// Serves one submission; true if the client got a result.
pub fn serve(worker: &Worker, conn: &mut Conn, lang: Language) -> bool {
    let peer = conn.peer;
    let submission = match read_submission(worker, conn) {
        Ok(s) => s,
        Err(why) => {
            log::warn!("{peer}: {why}");
            conn.say_error(&format!("refused: {why}"));
            conn.linger();
            return false;
        }
    };
    let framed = submission.1;
    let result = match worker.runner.run(lang, &submission.0, worker.port()) {
        Ok(r) => r,
        Err(why) => {
            log::warn!("{peer}: refused a {} submission: {why}", lang.name());
            conn.say_error(&format!("refused: {why}"));
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
    match conn.write_answer(framing, &answer) {
        Ok(()) => true,
        Err(e) => {
            log::warn!("{peer} left before its result: {e}");
            false
        }
    }
}

/// The submission, and whether it came framed.
fn read_submission(worker: &Worker, conn: &mut Conn) -> Result<(Submission, bool), String> {
    let max = worker.settings.max_payload;
    // Enough bytes to tell the styles apart: "LEN " or anything else.
    while conn.buffered().len() < 4 && b"LEN ".starts_with(conn.buffered()) {
        match conn.fill() {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(describe(e)),
        }
    }
    if conn.buffered().starts_with(b"LEN ") {
        let (_, payload) = conn.read_message().map_err(describe)?;
        return Ok((Submission::decode(&payload)?, true));
    }
    // Bare: the source is everything up to the client's half-close.
    loop {
        if conn.buffered().len() > max {
            return Err(format!("source over {max} bytes (--max-payload)"));
        }
        match conn.fill() {
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
    if conn.buffered().is_empty() {
        return Err("an empty source".into());
    }
    let source = conn.take_buffered();
    Ok((
        Submission {
            source,
            ..Default::default()
        },
        false,
    ))
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
