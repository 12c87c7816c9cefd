//! The watchdog's command line, turned into validated settings in one place. These flags are
//! the whole system's configuration: the children's option groups (`DispatcherOptions`,
//! `WorkerOptions`, `SharedOptions`) are flattened in from the crates that define them, validated
//! by those crates, and handed back to each child by `spawn.rs` with their own `to_args`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kennel_common::child::TICK;
use kennel_common::duration::parse_duration;
use kennel_common::layout::MAX_WORKERS;
use kennel_common::options::{GatewayOptions, RuntimeOption, SharedOptions};
use kennel_common::runtime::RuntimeDir;
use kennel_dispatcher::settings::DispatcherOptions;
use kennel_worker::settings::WorkerOptions;

use crate::policy::RestartPolicy;

#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennel-watchdog",
    version,
    about = "Starts and supervises a Kennel instance: one dispatcher and a pool of workers",
    after_help = "Stop with Ctrl-C or SIGTERM: children are stopped, reaped, and every IPC object removed."
)]
pub struct Args {
    #[command(flatten)]
    pub runtime: RuntimeOption,
    #[command(flatten)]
    pub shared: SharedOptions,
    /// Number of workers: a fixed pool (min = max = N). Default 2.
    #[arg(long, conflicts_with_all = ["min_workers", "max_workers"])]
    pub workers: Option<usize>,
    /// An elastic pool: at least this many workers (started first)…
    #[arg(long, requires = "max_workers")]
    pub min_workers: Option<usize>,
    /// …and at most this many (every slot is sized for them).
    #[arg(long, requires = "min_workers")]
    pub max_workers: Option<usize>,
    /// Elastic pool: start a worker when requests have waited this long for one.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub scale_up_after: Duration,
    /// Elastic pool: a worker beyond the minimum idle this long drains and stops.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub idle_stop: Duration,
    /// Dispatcher port (0 = any free port).
    #[arg(long, default_value_t = 2222)]
    pub port: u16,
    /// Port of worker 0; worker k listens on base + k (default: port + 1; 0 = any free port).
    #[arg(long)]
    pub worker_port_base: Option<u16>,
    /// Time between two supervision polls (PID report, hang check).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// The poll's PID report is logged when something changed, and in full this often
    /// (0: at every poll).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub report_every: Duration,
    /// A child whose heartbeat is older than this is killed and restarted (default: 2 polls,
    /// at least 1s).
    #[arg(long, value_parser = parse_duration)]
    pub hang_timeout: Option<Duration>,
    /// A child not ready within this time after its start is killed and restarted.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub start_timeout: Duration,
    /// More than this many deaths of one child within --restart-window make it FATAL.
    #[arg(long, default_value_t = 5)]
    pub max_restarts: u32,
    /// Window over which --max-restarts is counted.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub restart_window: Duration,
    /// A FATAL child is tried again after this cool-down.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub fatal_cooldown: Duration,
    /// Time a child gets to exit after SIGTERM before SIGKILL.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub grace: Duration,
    #[command(flatten)]
    pub dispatcher: DispatcherOptions,
    #[command(flatten)]
    pub worker: WorkerOptions,
    #[command(flatten)]
    pub gateway: GatewayOptions,
    /// Serve the Prometheus metrics over HTTP at this address (e.g. 127.0.0.1:9187).
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Write every process's log to this file (appended, 0600) instead of stderr. Rotate it
    /// with logrotate's copytruncate (every process writes with O_APPEND).
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    /// Log lines as text for people, or as one JSON object per line (the children too).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// A configuration file (TOML): any of these flags by name, and [types.NAME] aliases;
    /// flags on the command line override it (docs/OPERATIONS.md, contrib/kennel.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory holding kennel-dispatcher and kennel-worker (default: next to this binary).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
}

/// How every Kennel process writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub runtime: RuntimeDir,
    pub shared: SharedOptions,
    /// Worker slots: the pool's maximum.
    pub workers: usize,
    /// The pool's minimum (= `workers` for a fixed pool).
    pub min_workers: usize,
    pub scale_up_after: Duration,
    pub idle_stop: Duration,
    pub port: u16,
    pub worker_port_base: u16,
    pub poll_interval: Duration,
    pub report_every: Duration,
    pub hang_timeout: Duration,
    pub start_timeout: Duration,
    pub policy: RestartPolicy,
    pub grace: Duration,
    /// Handed to the dispatcher as they are (validated by its crate).
    pub dispatcher: DispatcherOptions,
    /// Handed to every worker as they are (validated by its crate).
    pub worker: WorkerOptions,
    /// The HTTP gateway's, handed to it as they are; `gateway.http` says whether it runs.
    pub gateway: GatewayOptions,
    pub bin_dir: PathBuf,
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Settings {
    pub fn from_args(a: Args) -> Result<Settings, String> {
        let (min_workers, workers) = match (a.workers, a.min_workers, a.max_workers) {
            (Some(n), _, _) => (n, n),
            (None, Some(min), Some(max)) => (min, max),
            _ => (2, 2),
        };
        if workers == 0 || workers > MAX_WORKERS {
            return Err(format!(
                "--workers / --max-workers must be between 1 and {MAX_WORKERS}"
            ));
        }
        if min_workers == 0 || min_workers > workers {
            return Err(format!(
                "--min-workers must be between 1 and --max-workers ({workers})"
            ));
        }
        if a.scale_up_after < Duration::from_millis(1) || a.idle_stop < Duration::from_millis(100) {
            return Err("--scale-up-after must be positive and --idle-stop at least 100ms".into());
        }
        let base = match a.worker_port_base {
            Some(b) => b,
            None if a.port == 0 => 0,
            None => a
                .port
                .checked_add(1)
                .ok_or("--port 65535 leaves no worker ports")?,
        };
        if base != 0 {
            let last = u32::from(base) + workers as u32 - 1;
            if last > 65_535 {
                return Err(format!("worker ports {base}..={last} go past 65535"));
            }
            if a.port != 0 && (u32::from(base)..=last).contains(&u32::from(a.port)) {
                return Err(format!(
                    "worker ports {base}..={last} include the dispatcher port"
                ));
            }
        }
        if a.poll_interval < Duration::from_millis(10) {
            return Err("--poll-interval must be at least 10ms".into());
        }
        // Two polls by default, but never less than four heartbeat periods.
        let hang_timeout = a
            .hang_timeout
            .unwrap_or((a.poll_interval * 2).max(Duration::from_secs(1)));
        if hang_timeout < 2 * TICK {
            return Err(format!(
                "--hang-timeout must be at least {} ms (children beat every {} ms)",
                (2 * TICK).as_millis(),
                TICK.as_millis()
            ));
        }
        if a.restart_window.is_zero() {
            return Err("--restart-window must be positive".into());
        }
        if a.start_timeout < Duration::from_millis(1) {
            return Err("--start-timeout must be positive".into());
        }
        a.dispatcher.validate()?;
        a.worker.validate()?;
        a.gateway.validate()?;
        let bin_dir = match a.bin_dir {
            Some(d) => d,
            None => std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.to_path_buf()))
                .ok_or("cannot find the directory of kennel-watchdog; pass --bin-dir")?,
        };
        Ok(Settings {
            runtime: a.runtime.resolve(),
            shared: a.shared,
            workers,
            min_workers,
            scale_up_after: a.scale_up_after,
            idle_stop: a.idle_stop,
            port: a.port,
            worker_port_base: base,
            poll_interval: a.poll_interval,
            report_every: a.report_every,
            hang_timeout,
            start_timeout: a.start_timeout,
            policy: RestartPolicy {
                max_restarts: a.max_restarts,
                window: a.restart_window,
                fatal_cooldown: a.fatal_cooldown,
                ..RestartPolicy::default()
            },
            grace: a.grace,
            metrics_addr: a.metrics_addr,
            dispatcher: a.dispatcher,
            worker: a.worker,
            gateway: a.gateway,
            bin_dir,
        })
    }

    /// The port worker `slot` is told to bind (0 = any).
    pub fn worker_port(&self, slot: usize) -> u16 {
        if self.worker_port_base == 0 {
            0
        } else {
            self.worker_port_base + slot as u16
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Settings, String> {
        let mut argv = vec!["kennel-watchdog", "--bin-dir", "/x"];
        argv.extend_from_slice(extra);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn defaults_follow_the_assignment() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.port, 2222);
        assert_eq!(s.worker_port(0), 2223);
        assert_eq!(s.worker_port(1), 2224);
        assert_eq!(s.workers, 2);
        assert_eq!(s.poll_interval, Duration::from_secs(2));
        assert_eq!(s.hang_timeout, Duration::from_secs(4));
        assert_eq!(s.policy.max_restarts, 5);
    }

    #[test]
    fn bad_combinations_are_refused_with_a_reason() {
        assert!(parse(&["--workers", "0"]).is_err());
        let elastic = parse(&["--min-workers", "1", "--max-workers", "4"]).unwrap();
        assert_eq!((elastic.min_workers, elastic.workers), (1, 4));
        assert!(parse(&["--min-workers", "5", "--max-workers", "4"]).is_err());
        assert!(parse(&["--min-workers", "1"]).is_err(), "min without max");
        assert!(parse(&["--workers", "2", "--max-workers", "4"]).is_err());
        assert!(parse(&["--workers", "65"]).is_err());
        assert!(parse(&["--port", "65535"]).is_err());
        assert!(parse(&["--worker-port-base", "65535", "--workers", "2"]).is_err());
        assert!(parse(&["--port", "3000", "--worker-port-base", "2999"]).is_err());
        assert!(parse(&["--hang-timeout", "100ms"]).is_err());
        assert!(parse(&["--poll-interval", "1ms"]).is_err());
        assert!(parse(&["--queue-timeout", "1h"]).is_err());
        assert!(parse(&["--client-timeout", "0s"]).is_err());
        let s = parse(&["--port", "0"]).unwrap();
        assert_eq!(
            s.worker_port(5),
            0,
            "ephemeral dispatcher port means ephemeral workers"
        );
    }
}
