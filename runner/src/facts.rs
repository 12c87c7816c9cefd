//! What `kennel-run` (PID 1 of the sandbox) tells the worker about a run: one line, written
//! after the program and everything it started are dead, to a descriptor the program cannot
//! reach. The verdict is computed from these facts, never from bwrap's exit status.
//!
//! `exit=0 signal=0 cpu_us=1234 maxrss_kib=1500 largest_file_kib=0 peak_kib=1700 over=none\n`,
//! or `error=<why>\n` when the program could not be started at all.

use crate::budget::Over;

/// How the program ended, and what it used (its whole process tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// Exit code if it exited.
    pub exit: Option<i32>,
    /// Signal number if a signal ended it.
    pub signal: Option<i32>,
    /// User + system CPU time of every process of the run, in microseconds.
    pub cpu_us: u64,
    /// Peak resident memory of the largest process of the run.
    pub maxrss_kib: u64,
    /// The largest file the run left in `/work` or `/tmp`: one at the file-size limit means
    /// it hit the limit (a program that ignores SIGXFSZ, as Python does, sees only `EFBIG`).
    pub largest_file_kib: u64,
    /// The largest memory of the whole run seen by `kennel-run`'s sampling (`budget.rs`).
    pub peak_kib: u64,
    /// The run budget it went over, when `kennel-run` killed it for that.
    pub over: Option<Over>,
}

/// The helper's report: facts, or why the program never started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Ran(Facts),
    NotStarted(String),
}

impl Report {
    pub fn encode(&self) -> String {
        match self {
            Report::Ran(f) => format!(
                "exit={} signal={} cpu_us={} maxrss_kib={} largest_file_kib={} peak_kib={} over={}\n",
                f.exit.unwrap_or(-1),
                f.signal.unwrap_or(0),
                f.cpu_us,
                f.maxrss_kib,
                f.largest_file_kib,
                f.peak_kib,
                f.over.map_or("none", Over::name),
            ),
            Report::NotStarted(why) => format!("error={}\n", why.replace('\n', " ")),
        }
    }

    /// Parses the helper's line; `None` if it is not one (missing, cut short, garbage).
    pub fn parse(text: &str) -> Option<Report> {
        let line = text.strip_suffix('\n')?;
        if let Some(why) = line.strip_prefix("error=") {
            return Some(Report::NotStarted(why.to_string()));
        }
        let mut f = Facts::default();
        let mut seen = 0;
        for field in line.split(' ') {
            let (key, value) = field.split_once('=')?;
            if key == "over" {
                f.over = Over::parse(value)?;
                seen += 1;
                continue;
            }
            let n: i64 = value.parse().ok()?;
            match key {
                "exit" => f.exit = (n >= 0).then_some(n as i32),
                "signal" => f.signal = (n > 0).then_some(n as i32),
                "cpu_us" => f.cpu_us = u64::try_from(n).ok()?,
                "maxrss_kib" => f.maxrss_kib = u64::try_from(n).ok()?,
                "largest_file_kib" => f.largest_file_kib = u64::try_from(n).ok()?,
                "peak_kib" => f.peak_kib = u64::try_from(n).ok()?,
                _ => return None,
            }
            seen += 1;
        }
        (seen == 7 && (f.exit.is_some() != f.signal.is_some())).then_some(Report::Ran(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        for r in [
            Report::Ran(Facts {
                exit: Some(3),
                signal: None,
                cpu_us: 12,
                maxrss_kib: 99,
                largest_file_kib: 7,
                peak_kib: 120,
                over: Some(Over::Memory),
            }),
            Report::Ran(Facts {
                exit: None,
                signal: Some(9),
                cpu_us: 0,
                maxrss_kib: 0,
                largest_file_kib: 0,
                peak_kib: 0,
                over: None,
            }),
            Report::NotStarted("no such file".into()),
        ] {
            assert_eq!(Report::parse(&r.encode()), Some(r));
        }
        for bad in [
            "",
            "exit=0",
            "exit=0 signal=0 cpu_us=1\n",
            "exit=x signal=0 cpu_us=1 maxrss_kib=2\n",
            "exit=-1 signal=0 cpu_us=1 maxrss_kib=2\n",
        ] {
            assert_eq!(Report::parse(bad), None, "{bad:?}");
        }
    }
}
