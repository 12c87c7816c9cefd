//! The worker's command line (`kennel_options::worker::Args`, where its flags are defined),
//! turned into validated settings in one place.

use std::net::IpAddr;
use std::time::Duration;

use kennel_common::runtime::RuntimeDir;
use kennel_options::worker::Args;
use kennel_runner::RunnerOptions;

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
    use clap::Parser;

    fn parse(extra: &[&str]) -> Result<Settings, String> {
        let argv = ["kennel-worker", "--slot", "0", "--port", "0"]
            .iter()
            .chain(extra);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
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
