//! `kennelctl reload` and SIGHUP: the configuration read again (the same command line, the
//! same `--config` file), and what changed applied — live where it can be, by replacing
//! processes where their flags changed (the dispatcher restarted; the workers in a rolling
//! restart, one at a time), and reported where it needs a new instance (ports, address, slot
//! count, runtime directory: those keep their old values until a restart).
//! A file that does not parse changes nothing and says why, with its line.

use std::sync::atomic::Ordering::SeqCst;

use crate::settings::{Args, Settings};
use crate::supervisor::Supervisor;

/// What a reload did.
#[derive(Debug, Default)]
pub struct Report {
    pub applied: Vec<&'static str>,
    pub restart_dispatcher: bool,
    pub restart_workers: bool,
    /// The gateway's flags (or the runner limits it checks) changed.
    pub restart_gateway: bool,
    /// Changes that need a new instance, kept as they were.
    pub kept: Vec<&'static str>,
}

impl Report {
    pub fn text(&self) -> String {
        let list = |v: &[&str]| {
            if v.is_empty() {
                "nothing".to_string()
            } else {
                v.join(", ")
            }
        };
        let mut restarting = Vec::new();
        if self.restart_dispatcher {
            restarting.push("the dispatcher");
        }
        if self.restart_workers {
            restarting.push("the workers, one at a time");
        }
        if self.restart_gateway {
            restarting.push("the gateway");
        }
        format!(
            "reloaded: applied {}; restarting {}; needs a new instance (kept): {}",
            list(&self.applied),
            list(&restarting),
            list(&self.kept)
        )
    }
}

/// The settings the same command line (and its `--config` file) give now.
pub fn read_settings() -> Result<Settings, String> {
    let argv = crate::config::merged_args(std::env::args_os().collect())?;
    let args = <Args as clap::Parser>::try_parse_from(argv)
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    Settings::from_args(args)
}

/// Puts `new` in force on `sup`, as far as a running instance allows; returns what it did.
/// The processes to replace are only named: the caller restarts them.
pub fn apply(sup: &mut Supervisor, mut new: Settings) -> Report {
    let old = &sup.settings;
    let mut r = Report::default();
    // What a running instance cannot change: the old values stay.
    macro_rules! keep {
        ($field:ident, $name:literal) => {
            if format!("{:?}", new.$field) != format!("{:?}", old.$field) {
                r.kept.push($name);
                new.$field = old.$field.clone();
            }
        };
    }
    keep!(runtime, "runtime-dir");
    keep!(port, "port");
    keep!(worker_port_base, "worker-port-base");
    keep!(workers, "max-workers");
    keep!(bin_dir, "bin-dir");
    keep!(metrics_addr, "metrics-addr");
    if new.gateway.http != old.gateway.http {
        r.kept.push("http");
        new.gateway.http = old.gateway.http;
    }
    // The runs' cgroup parent was found (or prepared from a delegated subtree) at start.
    if new.worker.runner.cgroup != old.worker.runner.cgroup {
        r.kept.push("cgroup");
        new.worker.runner.cgroup = old.worker.runner.cgroup.clone();
    }
    if new.shared.to_args() != old.shared.to_args() {
        r.kept.push("bind / require-token");
        new.shared = old.shared.clone();
    }
    macro_rules! live {
        ($field:ident, $name:literal) => {
            if format!("{:?}", new.$field) != format!("{:?}", old.$field) {
                r.applied.push($name);
            }
        };
    }
    live!(min_workers, "min-workers");
    live!(scale_up_after, "scale-up-after");
    live!(idle_stop, "idle-stop");
    live!(poll_interval, "poll-interval");
    live!(report_every, "report-every");
    live!(hang_timeout, "hang-timeout");
    live!(start_timeout, "start-timeout");
    live!(policy, "restart policy");
    live!(grace, "grace");
    r.restart_dispatcher = new.dispatcher.to_args() != old.dispatcher.to_args();
    r.restart_workers = new.worker.to_args() != old.worker.to_args();
    r.restart_gateway = new.gateway.http.is_some()
        && (r.restart_workers || new.gateway.to_args() != old.gateway.to_args());
    if new.min_workers != old.min_workers {
        sup.pool_floor = new.min_workers;
        let bounds = (new.min_workers as u64) << 32 | new.workers as u64;
        sup.segment.header().pool_bounds.store(bounds, SeqCst);
    }
    sup.policy.restart = new.policy;
    sup.policy.start_timeout = new.start_timeout;
    sup.policy.grace = new.grace;
    sup.settings = new;
    r
}
