//! `kennelctl restart|stop|start|signal|shutdown`: one verb to the watchdog over its control
//! socket (docs/PROTOCOL.md §7), one answer back: printed (or as JSON), exit 0 when done,
//! 1 when refused, 2 when the watchdog cannot be reached.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use kennel_common::control::{parse_answer, Verb, MAX_REQUEST};
use kennel_common::runtime::RuntimeDir;
use kennel_options::shared::Format;

/// The longest a verb may take to answer (a rolling restart of many workers).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// Sends `words` (the verb as typed) and prints the answer; returns the exit status.
pub fn run(runtime: &RuntimeDir, words: &[String], format: Format) -> i32 {
    let verb = match Verb::parse(&words.join(" ")) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kennelctl: {e}");
            return 2;
        }
    };
    let answer = match send(runtime, &verb) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kennelctl: {e}");
            return 2;
        }
    };
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "verb": verb.line(),
                "ok": answer.is_ok(),
                "message": answer.as_ref().unwrap_or_else(|e| e),
            });
            println!("{doc}");
        }
        Format::Text => match &answer {
            Ok(what) => println!("{what}"),
            Err(why) => eprintln!("kennelctl: refused: {why}"),
        },
    }
    i32::from(answer.is_err())
}

/// One exchange on the control socket.
pub fn send(runtime: &RuntimeDir, verb: &Verb) -> Result<Result<String, String>, String> {
    let path = runtime.control_socket_path();
    let mut s = UnixStream::connect(&path).map_err(|e| {
        format!(
            "cannot reach the watchdog at {}: {e} (is kennel-watchdog running with this --runtime-dir?)",
            path.display()
        )
    })?;
    let _ = s.set_read_timeout(Some(ANSWER_TIMEOUT));
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
