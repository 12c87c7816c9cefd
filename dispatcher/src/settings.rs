//! The dispatcher's command line, turned into validated settings in one place. Its tunables
//! (`DispatcherOptions`) are defined once here; the watchdog flattens the same group into its
//! own flags and hands them over with `to_args`.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;
use kennel_common::duration::parse_duration;
use kennel_common::options::{duration_arg, ChildOptions};
use kennel_common::runtime::RuntimeDir;

use crate::aliases::Alias;

/// The dispatcher's tunables, as the watchdog's `--help` shows them too.
#[derive(Debug, Clone, clap::Args)]
pub struct DispatcherOptions {
    /// A request waits this long for an idle worker before the answer is -1 (0 = answer -1
    /// at once when no worker is idle).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub queue_timeout: Duration,
    /// A control connection silent this long is closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Most control connections open at once; more are refused with `ERR busy`. Checked
    /// against the descriptor limit at start (raised to fit, or the cap lowered, logged).
    #[arg(long, default_value_t = 16_384)]
    pub max_connections: usize,
    /// Most control connections open at once from one source address (on loopback every
    /// local client is 127.0.0.1, so the default equals --max-connections).
    #[arg(long, default_value_t = 16_384)]
    pub max_per_source: usize,
    /// Most workers one control connection may hold reserved and unused at once; a request
    /// beyond gets an error line (a client using its workers never has more than one).
    #[arg(long, default_value_t = 2)]
    pub max_reservations: usize,
    /// This node's address for clients (one node of several behind a load balancer): every
    /// line-style answer then names it, `ADDR PORT`, and so do the types configured
    /// `addr-port`. Without it, line answers stay a bare `PORT` (the assignment's clients
    /// parse that) and `addr-port` types name --bind, or the address the client reached.
    #[arg(long)]
    pub advertise: Option<IpAddr>,
    /// Control connections start with a PROXY protocol v1 header (HAProxy's `send-proxy`):
    /// the client it names is the one a worker admits. Set it only behind such a proxy.
    #[arg(long)]
    pub proxy_protocol: bool,
    /// Another name for a request type, with its answer form: NAME=TYPE[/port|/addr-port]
    /// (repeatable), e.g. i_have_a_request_please=requetetype1/addr-port.
    #[arg(long = "type-alias", value_parser = Alias::parse)]
    pub type_aliases: Vec<Alias>,
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

    /// The same options as dispatcher flags.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--queue-timeout".into(),
            duration_arg(self.queue_timeout),
            "--idle-timeout".into(),
            duration_arg(self.idle_timeout),
            "--max-connections".into(),
            self.max_connections.to_string(),
            "--max-per-source".into(),
            self.max_per_source.to_string(),
            "--max-reservations".into(),
            self.max_reservations.to_string(),
        ]
        .into_iter()
        .chain(
            self.type_aliases
                .iter()
                .flat_map(|a| ["--type-alias".to_string(), a.spec()]),
        )
        .chain(
            self.advertise
                .iter()
                .flat_map(|a| ["--advertise".to_string(), a.to_string()]),
        )
        .chain(self.proxy_protocol.then(|| "--proxy-protocol".to_string()))
        .collect()
    }
}

#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennel-dispatcher",
    version,
    about = "Kennel dispatcher (started by kennel-watchdog)"
)]
pub struct Args {
    #[command(flatten)]
    pub child: ChildOptions,
    /// TCP port to listen on (0 = any free port; the real one is published in the segment).
    #[arg(long, default_value_t = 2222)]
    pub port: u16,
    #[command(flatten)]
    pub options: DispatcherOptions,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub runtime: RuntimeDir,
    pub bind: IpAddr,
    pub port: u16,
    /// The listening socket inherited from the watchdog, if any (else `port` is bound).
    pub listen_fd: Option<i32>,
    pub queue_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_source: usize,
    pub max_reservations: usize,
    pub type_aliases: Vec<Alias>,
    pub require_token: bool,
    /// What the answers name as the workers' host (`None`: the address the client reached).
    pub advertise: Option<IpAddr>,
    /// `--advertise` was given: line-style answers carry the address too.
    pub advertise_lines: bool,
    pub proxy_protocol: bool,
}

impl Settings {
    pub fn from_args(args: Args) -> Result<Settings, String> {
        args.options.validate()?;
        let o = args.options;
        Ok(Settings {
            runtime: args.child.runtime.resolve(),
            bind: args.child.shared.bind,
            port: args.port,
            listen_fd: args.child.listen.listen_fd,
            queue_timeout: o.queue_timeout,
            idle_timeout: o.idle_timeout,
            max_connections: o.max_connections,
            max_per_source: o.max_per_source,
            max_reservations: o.max_reservations,
            type_aliases: o.type_aliases.clone(),
            require_token: args.child.shared.require_token,
            advertise: o
                .advertise
                .or(Some(args.child.shared.bind).filter(|b| !b.is_unspecified())),
            advertise_lines: o.advertise.is_some(),
            proxy_protocol: o.proxy_protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Settings, String> {
        let argv = ["kennel-dispatcher"].iter().chain(extra);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn to_args_round_trips_through_the_parser() {
        let s = parse(&[
            "--queue-timeout",
            "1.5s",
            "--max-per-source",
            "7",
            "--type-alias",
            "hi=echo/addr-port",
        ])
        .unwrap();
        let opts = DispatcherOptions {
            queue_timeout: s.queue_timeout,
            idle_timeout: s.idle_timeout,
            max_connections: s.max_connections,
            max_per_source: s.max_per_source,
            max_reservations: s.max_reservations,
            type_aliases: s.type_aliases.clone(),
            advertise: Some("10.0.0.7".parse().unwrap()),
            proxy_protocol: true,
        };
        let argv: Vec<String> = opts.to_args();
        let again = parse(&argv.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        assert_eq!(again.queue_timeout, Duration::from_millis(1500));
        assert_eq!(again.max_per_source, 7);
        assert_eq!(again.idle_timeout, Duration::from_secs(30));
        assert_eq!(again.type_aliases, s.type_aliases);
        assert_eq!(again.advertise, Some("10.0.0.7".parse().unwrap()));
        assert!(again.proxy_protocol);
        assert!(parse(&["--advertise", "0.0.0.0"]).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["--queue-timeout", "11m"]).is_err());
        assert!(parse(&["--idle-timeout", "0s"]).is_err());
        assert!(parse(&["--max-connections", "0"]).is_err());
        assert!(parse(&["--queue-timeout", "0s"]).is_ok(), "0 = no waiting");
        assert!(parse(&["--type-alias", "echo=echo"]).is_err());
    }
}
