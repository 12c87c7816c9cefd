//! The worker's command line, turned into validated settings in one place. The watchdog
//! passes these flags; a person rarely does.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kennel_common::protocol::DEFAULT_MAX_PAYLOAD;
use kennel_common::runtime::{RuntimeDir, ENV_RUNTIME_DIR};

#[derive(Debug, Parser)]
#[command(
    name = "kennel-worker",
    version,
    about = "Kennel worker (started by kennel-watchdog)"
)]
pub struct Args {
    /// Runtime directory of the instance.
    #[arg(long, env = ENV_RUNTIME_DIR)]
    pub runtime_dir: Option<PathBuf>,
    /// Worker slot number in the shared segment.
    #[arg(long)]
    pub slot: usize,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// TCP port to listen on (0 = any free port; the real one is published in the segment).
    #[arg(long)]
    pub port: u16,
    /// Milliseconds a client may take to send its message, and an assignment may wait for
    /// its client before it is cancelled.
    #[arg(long, default_value_t = 5000)]
    pub client_timeout_ms: u64,
    /// Largest payload accepted in the LEN framing, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_PAYLOAD)]
    pub max_payload: usize,
    /// Serve only clients presenting their assignment's one-time token (`TOKEN <hex>\n`).
    #[arg(long)]
    pub require_token: bool,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub runtime: RuntimeDir,
    pub slot: usize,
    pub bind: IpAddr,
    pub port: u16,
    pub client_timeout: Duration,
    pub max_payload: usize,
    pub require_token: bool,
}

impl Settings {
    pub fn from_args(args: Args) -> Result<Settings, String> {
        if args.client_timeout_ms == 0 {
            return Err("--client-timeout-ms must be positive".into());
        }
        if args.max_payload == 0 || args.max_payload > 64 << 20 {
            return Err("--max-payload must be between 1 byte and 64 MiB".into());
        }
        Ok(Settings {
            runtime: RuntimeDir::resolve(args.runtime_dir.as_deref()),
            slot: args.slot,
            bind: args.bind,
            port: args.port,
            client_timeout: Duration::from_millis(args.client_timeout_ms),
            max_payload: args.max_payload,
            require_token: args.require_token,
        })
    }
}
