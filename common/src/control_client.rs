//! The client side of the control socket (docs/PROTOCOL.md §7): one verb, one answer. Used by
//! `kennelctl` and by the gateway's operator routes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::control::{parse_answer, Answer, Verb, MAX_REQUEST};
use crate::runtime::RuntimeDir;

/// One exchange on the control socket: the verb's line, the answer line (`timeout` bounds the
/// wait: a rolling restart of many workers takes a while). `Err` when the watchdog cannot be
/// reached or answers nonsense; `Ok(Err(why))` when it refused.
pub fn exchange(runtime: &RuntimeDir, verb: &Verb, timeout: Duration) -> Result<Answer, String> {
    let path = runtime.control_socket_path();
    let mut s = UnixStream::connect(&path).map_err(|e| {
        format!(
            "cannot reach the watchdog at {}: {e} (is kennel-watchdog running with this --runtime-dir?)",
            path.display()
        )
    })?;
    let _ = s.set_read_timeout(Some(timeout));
    // A watchdog that refuses the caller answers before reading: the answer is then waiting
    // even if sending failed, so read it either way.
    let sent = s.write_all(format!("{}\n", verb.line()).as_bytes());
    let mut line = String::new();
    let read = BufReader::new(s)
        .take(MAX_REQUEST as u64 * 16)
        .read_line(&mut line);
    match (parse_answer(line.trim_end_matches('\n')), sent, read) {
        (Some(answer), _, _) => Ok(answer),
        (None, Err(e), _) => Err(format!("sending the verb: {e}")),
        (None, _, Err(e)) => Err(format!("reading the answer: {e}")),
        (None, Ok(()), Ok(_)) => Err(format!("an unexpected answer {line:?}")),
    }
}
