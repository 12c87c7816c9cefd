//! The dispatcher's flags: its tunables (`DispatcherOptions`, which the watchdog takes and
//! hands over) and its command line.

use std::net::IpAddr;
use std::time::Duration;

use kennel_common::duration::parse_duration;

use crate::alias::Alias;
use crate::option_group;
use crate::shared::ChildOptions;

option_group! {
    /// The dispatcher's tunables, as the watchdog's `--help` shows them too.
    #[derive(clap::Args)]
    pub struct DispatcherOptions {
        /// A request waits this long for an idle worker before the answer is -1 (0 = answer -1
        /// at once when no worker is idle).
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        [Child] pub queue_timeout: Duration,
        /// A control connection silent this long is closed.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        [Child] pub idle_timeout: Duration,
        /// Most control connections open at once; more are refused with `ERR busy`. Checked
        /// against the descriptor limit at start (raised to fit, or the cap lowered, logged).
        #[arg(long, default_value_t = 16_384)]
        [Child] pub max_connections: usize,
        /// Most control connections open at once from one source address (on loopback every
        /// local client is 127.0.0.1, so the default equals --max-connections).
        #[arg(long, default_value_t = 16_384)]
        [Child] pub max_per_source: usize,
        /// Most workers one control connection may hold reserved and unused at once; a request
        /// beyond gets an error line (a client using its workers never has more than one).
        #[arg(long, default_value_t = 2)]
        [Child] pub max_reservations: usize,
        /// This node's address for clients (one node of several behind a load balancer): every
        /// line-style answer then names it, `ADDR PORT`, and so do the types configured
        /// `addr-port`. Without it, line answers stay a bare `PORT` (the assignment's clients
        /// parse that) and `addr-port` types name --bind, or the address the client reached.
        #[arg(long)]
        [Child] pub advertise: Option<IpAddr>,
        /// Control connections start with a PROXY protocol v1 header (HAProxy's `send-proxy`):
        /// the client it names is the one a worker admits. Set it only behind such a proxy.
        #[arg(long)]
        [Child] pub proxy_protocol: bool,
        /// Another name for a request type, with its answer form: NAME=TYPE[/port|/addr-port]
        /// (repeatable), e.g. i_have_a_request_please=requetetype1/addr-port.
        #[arg(long = "type-alias", value_parser = Alias::parse)]
        [Child] pub type_aliases: Vec<Alias>,
    }
}

/// Upper bound on `--max-connections` (each costs a descriptor and a few hundred bytes).
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// Upper bound on `--queue-timeout`: a request held longer than this is held by mistake.
pub const MAX_QUEUE_TIMEOUT: Duration = Duration::from_secs(600);

impl DispatcherOptions {
    /// The one validation of these flags, for the dispatcher and the watchdog alike.
    pub fn validate(&self) -> Result<(), String> {
        if self.idle_timeout < Duration::from_millis(1) {
            return Err("--idle-timeout must be positive".into());
        }
        if self.queue_timeout > MAX_QUEUE_TIMEOUT {
            return Err(format!(
                "--queue-timeout must be at most {} s",
                MAX_QUEUE_TIMEOUT.as_secs()
            ));
        }
        if self.max_connections > MAX_CONNECTIONS || self.max_per_source > MAX_CONNECTIONS {
            return Err(format!(
                "--max-connections and --max-per-source must be at most {MAX_CONNECTIONS}"
            ));
        }
        if self.advertise.is_some_and(|a| a.is_unspecified()) {
            return Err(
                "--advertise must name an address clients can reach, not 0.0.0.0 or ::".into(),
            );
        }
        if self.max_connections == 0 || self.max_per_source == 0 || self.max_reservations == 0 {
            return Err(
                "--max-connections, --max-per-source and --max-reservations must be positive"
                    .into(),
            );
        }
        Ok(())
    }
}

option_group! {
    /// `kennel-dispatcher`'s command line.
    #[derive(clap::Parser)]
    #[command(
        next_line_help = true,
        name = "kennel-dispatcher",
        version,
        about = "Kennel dispatcher (started by kennel-watchdog)"
    )]
    pub struct Args {
        #[command(flatten)]
        [Child] pub child: ChildOptions,
        /// TCP port to listen on (0 = any free port; the real one is published in the segment).
        #[arg(long, default_value_t = 2222)]
        [Child] pub port: u16,
        #[command(flatten)]
        [Child] pub options: DispatcherOptions,
    }
}
