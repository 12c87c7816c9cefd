//! A worker's flags: its tunables (`WorkerOptions`, which the watchdog takes and hands to every
//! worker and to the gateway) and its command line.

use std::time::Duration;

use kennel_common::duration::parse_duration;
use kennel_common::protocol::DEFAULT_MAX_PAYLOAD;

use crate::option_group;
use crate::runner::RunnerOptions;
use crate::shared::ChildOptions;

/// Largest `--max-payload` accepted.
pub const MAX_PAYLOAD_LIMIT: usize = 64 << 20;

option_group! {
    /// The worker's tunables, as the watchdog's `--help` shows them too.
    #[derive(clap::Args)]
    pub struct WorkerOptions {
        /// Time a client gets to send its message to a worker (and to arrive after its assignment).
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        [Child] pub client_timeout: Duration,
        /// Largest payload a worker accepts, in bytes (for the program runner: the submission).
        #[arg(long, default_value_t = DEFAULT_MAX_PAYLOAD)]
        [Child] pub max_payload: usize,
        /// Clients a worker serves at once, programs included (the default is this machine's
        /// number of CPUs).
        #[arg(long, default_value_t = default_max_tasks())]
        [Child] pub max_tasks: u32,
        #[command(flatten)]
        [Child] pub runner: RunnerOptions,
    }
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
}

option_group! {
    /// `kennel-worker`'s command line.
    #[derive(clap::Parser)]
    #[command(
        next_line_help = true,
        name = "kennel-worker",
        version,
        about = "Kennel worker (started by kennel-watchdog)"
    )]
    pub struct Args {
        #[command(flatten)]
        [Child] pub child: ChildOptions,
        /// Worker slot number in the shared segment.
        #[arg(long)]
        [Child] pub slot: usize,
        /// TCP port to listen on (0 = any free port; the real one is published in the segment).
        #[arg(long)]
        [Child] pub port: u16,
        /// Start as a standby worker: get ready, say so on this socket, and wait there for a
        /// slot from the watchdog (its number, its port and its listening socket); `--slot`
        /// and `--port` are then placeholders (`kennel_worker::standby`).
        #[arg(long)]
        [Child] pub standby_fd: Option<i32>,
        #[command(flatten)]
        [Child] pub options: WorkerOptions,
    }
}
