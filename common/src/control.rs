//! The operator's verbs, as they travel from `kennelctl` to the watchdog over the control
//! socket (`<runtime dir>/control.sock`, 0600, the caller's uid checked): one request line,
//! one answer line, then the connection closes (docs/PROTOCOL.md §7). Pure parsing and
//! formatting, so every rule is unit-tested and fuzzable.
//!
//! ```text
//! restart worker 2 | restart dispatcher | restart workers     (rolling: one at a time)
//! stop worker 2    | start worker 2
//! signal worker 2 HUP | signal dispatcher USR1
//! scale 3
//! reload
//! shutdown
//! ```
//! Answers: `ok <what was done>` or `error <why nothing was done>`.

use nix::sys::signal::Signal;

/// Longest request line (a verb is a few words).
pub const MAX_REQUEST: usize = 256;

/// A child the verb names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    Dispatcher,
    Worker(usize),
    /// The HTTP gateway (when the instance runs one).
    Gateway,
}

/// One verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Restart(Child),
    /// Every worker, one at a time, the next once the new one is ready.
    RollingRestart,
    Stop(Child),
    Start(Child),
    Signal(Child, Signal),
    /// The pool to N workers now (within --min-workers and --max-workers).
    Scale(usize),
    /// Read the configuration again and apply what changed.
    Reload,
    Shutdown,
}

/// The signals an operator may send to a child (not SIGSTOP: a frozen child is killed for
/// its silence, which `kill -STOP` already shows).
pub const SIGNALS: [Signal; 8] = [
    Signal::SIGTERM,
    Signal::SIGKILL,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCONT,
];

const USAGE: &str =
    "verbs: restart worker K | restart dispatcher | restart workers | stop worker K | \
                     start worker K | signal worker K SIG | signal dispatcher SIG | restart|stop|start gateway | \
                     scale N | reload | shutdown";

fn child(words: &[&str]) -> Result<Child, String> {
    match words {
        ["dispatcher"] => Ok(Child::Dispatcher),
        ["gateway"] => Ok(Child::Gateway),
        ["worker", k] => k
            .parse::<usize>()
            .map(Child::Worker)
            .map_err(|_| format!("{k:?} is not a worker number")),
        _ => Err(format!(
            "expected `worker K`, `dispatcher` or `gateway`; {USAGE}"
        )),
    }
}

fn signal(name: &str) -> Result<Signal, String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    SIGNALS
        .into_iter()
        .find(|s| s.as_str() == full)
        .ok_or_else(|| {
            let names: Vec<&str> = SIGNALS.iter().map(|s| &s.as_str()[3..]).collect();
            format!(
                "{name:?} is not a signal an operator may send (one of {})",
                names.join(" ")
            )
        })
}

impl Verb {
    /// Parses a request line (without its newline).
    pub fn parse(line: &str) -> Result<Verb, String> {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        match words.as_slice() {
            ["restart", "workers"] => Ok(Verb::RollingRestart),
            ["restart", rest @ ..] => child(rest).map(Verb::Restart),
            ["stop", rest @ ..] => child(rest).map(Verb::Stop),
            ["start", rest @ ..] => child(rest).map(Verb::Start),
            ["signal", rest @ .., sig] if !rest.is_empty() => {
                Ok(Verb::Signal(child(rest)?, signal(sig)?))
            }
            ["shutdown"] => Ok(Verb::Shutdown),
            ["reload"] => Ok(Verb::Reload),
            ["scale", n] => n
                .parse::<usize>()
                .map(Verb::Scale)
                .map_err(|_| format!("{n:?} is not a number of workers")),
            [] => Err(format!("an empty request; {USAGE}")),
            [verb, ..] => Err(format!(
                "unknown verb {:?}; {USAGE}",
                crate::protocol::printable_excerpt(verb.as_bytes())
            )),
        }
    }

    /// The request line (without its newline) that `parse` reads back.
    pub fn line(&self) -> String {
        let c = |c: &Child| match c {
            Child::Dispatcher => "dispatcher".to_string(),
            Child::Gateway => "gateway".to_string(),
            Child::Worker(k) => format!("worker {k}"),
        };
        match self {
            Verb::Restart(x) => format!("restart {}", c(x)),
            Verb::RollingRestart => "restart workers".into(),
            Verb::Stop(x) => format!("stop {}", c(x)),
            Verb::Start(x) => format!("start {}", c(x)),
            Verb::Signal(x, s) => format!("signal {} {}", c(x), &s.as_str()[3..]),
            Verb::Scale(n) => format!("scale {n}"),
            Verb::Reload => "reload".into(),
            Verb::Shutdown => "shutdown".into(),
        }
    }
}

/// The watchdog's answer.
pub type Answer = Result<String, String>;

/// The answer as it travels: `ok …\n` or `error …\n` (one line: newlines are replaced).
pub fn answer_line(a: &Answer) -> String {
    let (word, text) = match a {
        Ok(t) => ("ok", t),
        Err(t) => ("error", t),
    };
    format!("{word} {}\n", text.replace('\n', " "))
}

/// Reads an answer line back (without its newline); `None` if it is neither.
pub fn parse_answer(line: &str) -> Option<Answer> {
    if let Some(t) = line.strip_prefix("ok ") {
        Some(Ok(t.to_string()))
    } else {
        line.strip_prefix("error ").map(|t| Err(t.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_round_trips_and_nonsense_is_refused_with_the_usage() {
        for v in [
            Verb::Restart(Child::Worker(3)),
            Verb::Restart(Child::Dispatcher),
            Verb::RollingRestart,
            Verb::Stop(Child::Worker(0)),
            Verb::Start(Child::Worker(12)),
            Verb::Signal(Child::Worker(1), Signal::SIGHUP),
            Verb::Signal(Child::Dispatcher, Signal::SIGUSR1),
            Verb::Restart(Child::Gateway),
            Verb::Stop(Child::Gateway),
            Verb::Scale(3),
            Verb::Reload,
            Verb::Shutdown,
        ] {
            assert_eq!(Verb::parse(&v.line()), Ok(v), "{}", v.line());
        }
        assert_eq!(
            Verb::parse("signal worker 1 sigterm"),
            Ok(Verb::Signal(Child::Worker(1), Signal::SIGTERM))
        );
        for bad in [
            "",
            "reboot",
            "restart",
            "restart worker",
            "restart worker x",
            "stop worker -1",
            "signal worker 1 STOP",
            "signal worker 1",
            "signal 1 TERM",
            "shutdown now",
        ] {
            let e = Verb::parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad:?}");
        }
        assert!(Verb::parse("reboot")
            .unwrap_err()
            .contains("verbs: restart worker K"));
        assert_eq!(
            parse_answer(answer_line(&Ok("done".into())).trim_end()),
            Some(Ok("done".into()))
        );
        assert_eq!(
            parse_answer("error a\nb".trim_end()),
            Some(Err("a\nb".into()))
        );
        assert_eq!(answer_line(&Err("a\nb".into())), "error a b\n");
        assert_eq!(parse_answer("maybe"), None);
    }
}
