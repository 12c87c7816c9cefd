//! `kennelctl reload` and SIGHUP: the configuration read again (the same command line, the
//! same `--config` file), and what changed applied — live where it can be, by replacing
//! processes where their flags changed (the dispatcher restarted; the workers in a rolling
//! restart, one at a time), and reported where it needs a new instance (ports, address, slot
//! count, runtime directory: those keep their old values until a restart).
//! A file that does not parse changes nothing and says why, with its line.

use kennel_options::watchdog::Args;
use kennel_options::{Group, Reload};

use crate::settings::Settings;
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

/// The command line as it reads now (the same argv, the same `--config` file read again).
pub fn read_args() -> Result<Args, String> {
    let argv = crate::config::merged_args(std::env::args_os().collect())?;
    <Args as clap::Parser>::try_parse_from(argv)
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())
}

/// Puts `args` in force on `sup`, as far as a running instance allows, and says what it did;
/// a value the settings refuse changes nothing. Each flag's reload class (where the flag is
/// defined, `kennel_options`) decides: kept, applied live, or its process replaced. The
/// processes to replace are only named: the caller restarts them.
pub fn apply(sup: &mut Supervisor, mut args: Args) -> Result<Report, String> {
    let old = sup.settings();
    let mut r = Report {
        kept: args.keep_from(&old.args),
        ..Report::default()
    };
    let changes = args.changes(&old.args);
    let mut new = Settings::from_args(args)?;
    // Found (or prepared from a delegated subtree) at start, not read from the command line.
    new.worker.runner.cgroup = old.worker.runner.cgroup.clone();
    let mut workers_changed = false;
    for c in changes {
        match c.reload {
            Reload::Live => r.applied.push(c.flag),
            Reload::Dispatcher => r.restart_dispatcher = true,
            Reload::Workers => workers_changed = true,
            Reload::Gateway => r.restart_gateway = true,
            // Put back by keep_from; a group's own class is resolved where it is flattened.
            Reload::Keep | Reload::Child => {}
        }
    }
    r.restart_workers = workers_changed;
    // The gateway checks submissions against the workers' limits: it takes their flags too.
    r.restart_gateway = new.gateway.http.is_some() && (r.restart_gateway || workers_changed);
    sup.set_settings(new);
    Ok(r)
}
