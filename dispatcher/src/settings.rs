//! The dispatcher's command line, turned into validated settings in one place.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kennel_common::runtime::{RuntimeDir, ENV_RUNTIME_DIR};

#[derive(Debug, Parser)]
#[command(
    name = "kennel-dispatcher",
    version,
    about = "Kennel dispatcher (started by kennel-watchdog)"
)]
pub struct Args {
    /// Runtime directory of the instance.
    #[arg(long, env = ENV_RUNTIME_DIR)]
    pub runtime_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// TCP port to listen on (0 = any free port; the real one is published in the segment).
    #[arg(long, default_value_t = 2222)]
    pub port: u16,
    /// Milliseconds a request waits for an idle worker before the answer is -1.
    #[arg(long, default_value_t = 2000)]
    pub queue_timeout_ms: u64,
    /// Milliseconds a control connection may stay silent before it is closed.
    #[arg(long, default_value_t = 30_000)]
    pub idle_timeout_ms: u64,
    /// Most control connections open at once; more are refused with `ERR busy`.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Most control connections open at once from one source address.
    #[arg(long, default_value_t = 1024)]
    pub max_per_source: usize,
    /// Answer `PORT TOKEN` and make workers require the one-time token.
    #[arg(long)]
    pub require_token: bool,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub runtime: RuntimeDir,
    pub bind: IpAddr,
    pub port: u16,
    pub queue_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_source: usize,
    pub require_token: bool,
}

impl Settings {
    pub fn from_args(args: Args) -> Result<Settings, String> {
        if args.idle_timeout_ms == 0 {
            return Err("--idle-timeout-ms must be positive".into());
        }
        if args.max_connections == 0 || args.max_per_source == 0 {
            return Err("--max-connections and --max-per-source must be positive".into());
        }
        Ok(Settings {
            runtime: RuntimeDir::resolve(args.runtime_dir.as_deref()),
            bind: args.bind,
            port: args.port,
            queue_timeout: Duration::from_millis(args.queue_timeout_ms),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            max_connections: args.max_connections,
            max_per_source: args.max_per_source,
            require_token: args.require_token,
        })
    }
}
