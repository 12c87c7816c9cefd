//! The watchdog's flags: the whole system's configuration in one command line (and the same
//! names in `--config`'s file).

use std::path::PathBuf;
use std::time::Duration;

use kennel_common::duration::parse_duration;

use crate::dispatcher::DispatcherOptions;
use crate::gateway::GatewayOptions;
use crate::option_group;
use crate::shared::{RuntimeOption, SharedOptions};
use crate::worker::WorkerOptions;

option_group! {
    /// `kennel-watchdog`'s command line: the whole system's configuration. The children's
    /// groups are flattened in; the bracketed class says what a reload does about each flag.
    #[derive(clap::Parser)]
    #[command(
        next_line_help = true,
        name = "kennel-watchdog",
        version,
        about = "Starts and supervises a Kennel instance: one dispatcher and a pool of workers",
        after_help = "Stop with Ctrl-C or SIGTERM: children are stopped, reaped, and every IPC object removed."
    )]
    pub struct Args {
        #[command(flatten)]
        [Keep] pub runtime: RuntimeOption,
        #[command(flatten)]
        [Keep] pub shared: SharedOptions,
        /// Number of workers: a fixed pool (min = max = N). Default 2.
        #[arg(long, conflicts_with_all = ["min_workers", "max_workers"])]
        [Keep] pub workers: Option<usize>,
        /// An elastic pool: at least this many workers (started first)…
        #[arg(long, requires = "max_workers")]
        [Live] pub min_workers: Option<usize>,
        /// …and at most this many (every slot is sized for them).
        #[arg(long, requires = "min_workers")]
        [Keep] pub max_workers: Option<usize>,
        /// Elastic pool: start a worker when requests have waited this long for one.
        #[arg(long, default_value = "200ms", value_parser = parse_duration)]
        [Live] pub scale_up_after: Duration,
        /// Elastic pool: a worker beyond the minimum idle this long drains and stops.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        [Live] pub idle_stop: Duration,
        /// Dispatcher port (0 = any free port).
        #[arg(long, default_value_t = 2222)]
        [Keep] pub port: u16,
        /// Port of worker 0; worker k listens on base + k (default: port + 1; 0 = any free port).
        #[arg(long)]
        [Keep] pub worker_port_base: Option<u16>,
        /// Time between two supervision polls (PID report, hang check).
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        [Live] pub poll_interval: Duration,
        /// The poll's PID report is logged when something changed, and in full this often
        /// (0: at every poll).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        [Live] pub report_every: Duration,
        /// A child whose heartbeat is older than this is killed and restarted (default: 2 polls,
        /// at least 1s).
        #[arg(long, value_parser = parse_duration)]
        [Live] pub hang_timeout: Option<Duration>,
        /// A child not ready within this time after its start is killed and restarted.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        [Live] pub start_timeout: Duration,
        /// More than this many deaths of one child within --restart-window make it FATAL.
        #[arg(long, default_value_t = 5)]
        [Live] pub max_restarts: u32,
        /// Window over which --max-restarts is counted.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        [Live] pub restart_window: Duration,
        /// A FATAL child is tried again after this cool-down.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        [Live] pub fatal_cooldown: Duration,
        /// Workers started in advance and waiting for a slot: a dead worker's slot goes to one
        /// at once, so a restart costs no process start (0: every restart starts a process).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=4))]
        [Live] pub standby_workers: u32,
        /// Time a child gets to exit after SIGTERM before SIGKILL.
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        [Live] pub grace: Duration,
        #[command(flatten)]
        [Dispatcher] pub dispatcher: DispatcherOptions,
        #[command(flatten)]
        [Workers] pub worker: WorkerOptions,
        #[command(flatten)]
        [Gateway] pub gateway: GatewayOptions,
        /// Serve the Prometheus metrics over HTTP at this address (e.g. 127.0.0.1:9187).
        #[arg(long)]
        [Keep] pub metrics_addr: Option<std::net::SocketAddr>,
        /// Write every process's log to this file (appended, 0600) instead of stderr. Rotate it
        /// with logrotate's copytruncate (every process writes with O_APPEND).
        #[arg(long)]
        [Keep] pub log_file: Option<PathBuf>,
        /// Log lines as text for people, or as one JSON object per line (the children too).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        [Keep] pub log_format: LogFormat,
        /// A configuration file (TOML): any of these flags by name, and [types.NAME] aliases;
        /// flags on the command line override it (docs/OPERATIONS.md, contrib/kennel.toml).
        #[arg(long)]
        [Keep] pub config: Option<PathBuf>,
        /// Directory holding kennel-dispatcher and kennel-worker (default: next to this binary).
        #[arg(long)]
        [Keep] pub bin_dir: Option<PathBuf>,
    }
}

/// How every Kennel process writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

crate::value_enum_arg!(LogFormat);

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}
