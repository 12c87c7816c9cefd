//! The dispatcher's command line (`kennel_options::dispatcher::Args`, where its flags are
//! defined), turned into validated settings in one place.

use std::net::IpAddr;
use std::time::Duration;

use kennel_common::runtime::RuntimeDir;
use kennel_options::alias::Alias;
use kennel_options::dispatcher::Args;

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
    use clap::Parser;

    fn parse(extra: &[&str]) -> Result<Settings, String> {
        let argv = ["kennel-dispatcher"].iter().chain(extra);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn advertise_names_the_workers_host() {
        assert_eq!(
            parse(&["--advertise", "10.0.0.7"]).unwrap().advertise,
            Some("10.0.0.7".parse().unwrap())
        );
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
