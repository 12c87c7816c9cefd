//! `kennelctl restart|stop|start|signal|shutdown`: one verb to the watchdog over its control
//! socket (docs/PROTOCOL.md §7), one answer back: printed (or as JSON), exit 0 when done,
//! 1 when refused, 2 when the watchdog cannot be reached.

use std::time::Duration;

use kennel_common::control::Verb;
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

/// One exchange on the control socket (`kennel_common::control_client`).
pub fn send(runtime: &RuntimeDir, verb: &Verb) -> Result<Result<String, String>, String> {
    kennel_common::control_client::exchange(runtime, verb, ANSWER_TIMEOUT)
}
