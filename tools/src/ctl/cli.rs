//! `kennelctl`'s flags, turned into validated settings in one place (ripgrep's shape): one
//! global `--format text|json` for every subcommand (`common::options::FormatOption`, shared
//! by every client tool), one `--runtime-dir`.

use std::time::Duration;

use clap::{Parser, Subcommand};
use kennel_common::duration::parse_duration;
use kennel_common::runtime::RuntimeDir;
pub use kennel_options::shared::Format;
use kennel_options::shared::{FormatOption, RuntimeOption};

#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennelctl",
    version,
    about = "Inspect a Kennel instance's shared memory, and control it through its watchdog"
)]
pub struct Args {
    #[command(flatten)]
    pub runtime: RuntimeOption,
    #[command(flatten)]
    pub format: FormatOption,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every process: slot, pid, state, port, counters, heartbeat age.
    Status,
    /// Refresh the status table until Ctrl-C.
    Watch {
        /// Time between refreshes (at least 50ms).
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        interval: Duration,
    },
    /// Verify every invariant of the segment; exit status 1 naming the broken ones.
    Check {
        /// Readiness probe instead: exit 0 only if the dispatcher is ready and at least one
        /// worker can take work now.
        #[arg(long, conflicts_with = "live")]
        ready: bool,
        /// Liveness probe instead: exit 0 only if the watchdog holds the instance and its
        /// loop turned within the last 3 s.
        #[arg(long)]
        live: bool,
    },
    /// The instance's numbers in Prometheus's text format (what --metrics-addr serves).
    Metrics,
    /// Serve HAProxy's agent check on this address: each connection gets `up` or `down`
    /// (the dispatcher and at least one worker running, the watchdog alive), then is closed.
    Agent {
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
    /// State changes (started, stopped, restarted, FATAL, scaling) as they happen, as text
    /// or JSON lines, until the instance stops or Ctrl-C.
    Events {
        #[arg(long, short)]
        follow: bool,
    },
    /// The live console: the pool, one row per slot, events; keys r/s/+/-/q act through the
    /// watchdog (the plain `watch` table when stdout is not a terminal).
    Top {
        /// Time between refreshes (at least 50ms).
        #[arg(long, default_value = "500ms", value_parser = parse_duration)]
        interval: Duration,
    },
    /// Restart a child: `worker K`, `dispatcher`, or `workers` (rolling: one at a time, the
    /// next once the new one is ready).
    Restart {
        /// `worker K`, `dispatcher`, `gateway` or `workers`.
        #[arg(required = true, num_args = 1..=2, value_name = "WHAT")]
        what: Vec<String>,
    },
    /// Stop `worker K`: it finishes what it serves and stays stopped until started.
    Stop {
        /// `worker K`, or `gateway`.
        #[arg(required = true, num_args = 1..=2, value_name = "WHAT")]
        what: Vec<String>,
    },
    /// Start a stopped `worker K` (or one waiting in backoff or FATAL).
    Start {
        /// `worker K`, or `gateway`.
        #[arg(required = true, num_args = 1..=2, value_name = "WHAT")]
        what: Vec<String>,
    },
    /// Send a signal to `worker K` or `dispatcher`: TERM KILL INT HUP QUIT USR1 USR2 CONT.
    Signal {
        /// `worker K SIGNAL` or `dispatcher SIGNAL`.
        #[arg(required = true, num_args = 2..=3, value_name = "WHAT")]
        what: Vec<String>,
    },
    /// Set the pool to N workers now (within --min-workers and --max-workers).
    Scale {
        /// The number of workers wanted, between --min-workers and --max-workers.
        workers: usize,
    },
    /// Read the configuration (command line and --config file) again and apply what changed;
    /// says what was applied, what is restarted, and what needs a new instance.
    Reload,
    /// Stop the whole instance cleanly, as SIGTERM to the watchdog does.
    Shutdown,
    /// Print the shell completion script of a Kennel binary (default: kennelctl).
    Completions {
        shell: clap_complete::Shell,
        /// The binary: kennelctl, kennel-client, kennel-watchdog, kennel-bench, kennel-chaos, …
        #[arg(long = "for", default_value = "kennelctl")]
        binary: String,
    },
    /// Write the man pages of every Kennel binary (and of each subcommand) into a directory.
    Man {
        #[arg(long, default_value = "target/man")]
        out: std::path::PathBuf,
    },
}

impl Command {
    /// The verb words of a control subcommand (`restart worker 2`), `None` for the others.
    pub fn verb_words(&self) -> Option<Vec<String>> {
        let with = |verb: &str, rest: &[String]| {
            let mut v = vec![verb.to_string()];
            v.extend(rest.iter().cloned());
            Some(v)
        };
        match self {
            Command::Restart { what } => with("restart", what),
            Command::Stop { what } => with("stop", what),
            Command::Start { what } => with("start", what),
            Command::Signal { what } => with("signal", what),
            Command::Shutdown => with("shutdown", &[]),
            Command::Reload => with("reload", &[]),
            Command::Scale { workers } => with("scale", &[workers.to_string()]),
            Command::Status
            | Command::Watch { .. }
            | Command::Check { .. }
            | Command::Top { .. }
            | Command::Metrics
            | Command::Agent { .. }
            | Command::Events { .. }
            | Command::Completions { .. }
            | Command::Man { .. } => None,
        }
    }
}

/// Validated settings.
#[derive(Debug)]
pub struct Settings {
    pub runtime: RuntimeDir,
    pub format: Format,
    pub command: Command,
}

impl Settings {
    pub fn from_args(a: Args) -> Result<Settings, String> {
        if let Command::Watch { interval } | Command::Top { interval } = a.command {
            if interval < Duration::from_millis(50) {
                return Err("--interval must be at least 50ms".into());
            }
        }
        Ok(Settings {
            runtime: a.runtime.resolve(),
            format: a.format.resolve(),
            command: a.command,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Settings, String> {
        let argv = ["kennelctl"].iter().chain(argv);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn format_is_global_and_json_is_its_short_form() {
        assert_eq!(parse(&["status"]).unwrap().format, Format::Text);
        assert_eq!(parse(&["status", "--json"]).unwrap().format, Format::Json);
        assert_eq!(
            parse(&["--format", "json", "check"]).unwrap().format,
            Format::Json
        );
        assert_eq!(
            parse(&["check", "--format", "table"]).unwrap().format,
            Format::Text
        );
        assert!(parse(&["watch", "--interval", "1ms"]).is_err());
        assert!(parse(&["status", "--format", "yaml"]).is_err());
    }
}
