//! The worker's command line, turned into validated settings in one place. Its tunables
//! (`WorkerOptions`) are defined once here; the watchdog flattens the same group into its own
//! flags and hands them over with `to_args`.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;
use kennel_common::duration::parse_duration;
use kennel_common::options::{duration_arg, ChildOptions};
use kennel_common::protocol::DEFAULT_MAX_PAYLOAD;
use kennel_common::runtime::RuntimeDir;
use kennel_runner::RunnerOptions;

/// Largest `--max-payload` accepted.
pub const MAX_PAYLOAD_LIMIT: usize = 64 << 20;

/// The worker's tunables, as the watchdog's `--help` shows them too.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerOptions {
    /// Time a client gets to send its message to a worker (and to arrive after its assignment).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub client_timeout: Duration,
    /// Largest payload a worker accepts, in bytes (for the program runner: the submission).
    #[arg(long, default_value_t = DEFAULT_MAX_PAYLOAD)]
    pub max_payload: usize,
    /// Clients a worker serves at once, programs included (the default is this machine's
    /// number of CPUs).
    #[arg(long, default_value_t = default_max_tasks())]
    pub max_tasks: u32,
    #[command(flatten)]
    pub runner: RunnerOptions,
}

/// One task per CPU: a program runs on a CPU of its own.
pub fn default_max_tasks() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

impl WorkerOptions {
    /// The one validation of these flags, for the worker and the watchdog alike.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_timeout < Duration::from_millis(1) {
            return Err("--client-timeout must be positive".into());
        }
        if self.max_payload == 0 || self.max_payload > MAX_PAYLOAD_LIMIT {
            return Err("--max-payload must be between 1 byte and 64 MiB".into());
        }
        if !(1..=256).contains(&self.max_tasks) {
            return Err("--max-tasks must be between 1 and 256".into());
        }
        self.runner.validate()
    }

    /// The same options as worker flags.
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "--client-timeout".into(),
            duration_arg(self.client_timeout),
            "--max-payload".into(),
            self.max_payload.to_string(),
            "--max-tasks".into(),
            self.max_tasks.to_string(),
        ];
        v.extend(self.runner.to_args());
        v
    }
}

#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennel-worker",
    version,
    about = "Kennel worker (started by kennel-watchdog)"
)]
pub struct Args {
    #[command(flatten)]
    pub child: ChildOptions,
    /// Worker slot number in the shared segment.
    #[arg(long)]
    pub slot: usize,
    /// TCP port to listen on (0 = any free port; the real one is published in the segment).
    #[arg(long)]
    pub port: u16,
    #[command(flatten)]
    pub options: WorkerOptions,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub runtime: RuntimeDir,
    pub slot: usize,
    pub bind: IpAddr,
    pub port: u16,
    /// The listening socket inherited from the watchdog, if any (else `port` is bound).
    pub listen_fd: Option<i32>,
    pub client_timeout: Duration,
    pub max_payload: usize,
    pub max_tasks: u32,
    pub runner: RunnerOptions,
    pub require_token: bool,
}

impl Settings {
    pub fn from_args(args: Args) -> Result<Settings, String> {
        args.options.validate()?;
        Ok(Settings {
            runtime: args.child.runtime.resolve(),
            slot: args.slot,
            bind: args.child.shared.bind,
            port: args.port,
            listen_fd: args.child.listen.listen_fd,
            client_timeout: args.options.client_timeout,
            max_payload: args.options.max_payload,
            max_tasks: args.options.max_tasks,
            runner: args.options.runner,
            require_token: args.child.shared.require_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Settings, String> {
        let argv = ["kennel-worker", "--slot", "0", "--port", "0"]
            .iter()
            .chain(extra);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn to_args_round_trips_through_the_parser() {
        let opts = WorkerOptions {
            client_timeout: Duration::from_millis(750),
            max_payload: 4096,
            max_tasks: 3,
            runner: RunnerOptions {
                max_output: 8192,
                ..Default::default()
            },
        };
        let argv = opts.to_args();
        let s = parse(&argv.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        assert_eq!(s.client_timeout, Duration::from_millis(750));
        assert_eq!(s.max_payload, 4096);
        assert_eq!((s.max_tasks, s.runner.max_output), (3, 8192));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["--client-timeout", "0ms"]).is_err());
        assert!(parse(&["--max-payload", "0"]).is_err());
        assert!(parse(&["--max-payload", "67108865"]).is_err());
        assert!(parse(&["--max-tasks", "0"]).is_err());
        assert!(
            parse(&["--time-limit", "20s"]).is_err(),
            "over --time-limit-max"
        );
    }
}
