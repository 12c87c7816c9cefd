//! The watchdog's command line (`kennel_options::watchdog::Args`), turned into validated
//! settings in one place. These flags are the whole system's configuration: the children's
//! option groups are flattened in, validated by their own `validate`, and handed back to each
//! child by `spawn.rs` as that child's own typed command line.

use std::path::PathBuf;
use std::time::Duration;

use kennel_common::child::TICK;
use kennel_common::layout::MAX_WORKERS;
use kennel_common::runtime::RuntimeDir;
use kennel_options::dispatcher::DispatcherOptions;
use kennel_options::gateway::GatewayOptions;
use kennel_options::shared::SharedOptions;
use kennel_options::watchdog::Args;
use kennel_options::worker::WorkerOptions;

use crate::policy::RestartPolicy;

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The command line these settings came from: what a reload compares the new one with.
    pub args: Args,
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
    /// Workers waiting in advance for a slot (`--standby-workers`).
    pub standby_workers: usize,
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
        let args = a.clone();
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
            args,
            runtime: a.runtime.resolve(),
            shared: a.shared,
            workers,
            min_workers,
            scale_up_after: a.scale_up_after,
            idle_stop: a.idle_stop,
            port: a.port,
            worker_port_base: base,
            poll_interval: a.poll_interval,
            standby_workers: a.standby_workers as usize,
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
    use clap::Parser;

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
