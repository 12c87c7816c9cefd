//! cgroup v2 for an ordinary user: the subtree systemd delegates to the user (`Delegate=yes`:
//! `user@UID.service`, a `systemd-run --user --scope -p Delegate=yes` scope, a unit's own
//! cgroup) is theirs to divide. At start, before any child, the watchdog:
//!
//! 1. finds its own cgroup (`/proc/self/cgroup`, the `0::` line) and checks it may write its
//!    `cgroup.subtree_control` and that `cgroup.controllers` offers memory and pids;
//! 2. moves itself into a leaf, `kennel-supervisor` (a cgroup with controllers enabled for its
//!    children may hold no process itself: the no-internal-process rule), so every child it
//!    starts is there too;
//! 3. enables memory, pids and cpu for the children, makes `kennel-runs` with the same enabled
//!    for its own children, and hands `--cgroup <it>/kennel-runs` to the workers, which make a
//!    cgroup per run below it (`runner/src/cgroup/v2.rs`).
//!
//! Anything missing (a v1 or hybrid host, a cgroup not delegated, other processes sharing it)
//! is one log line and the per-process limits with `kennel-run`'s budget, as before.

use std::fs;
use std::path::{Path, PathBuf};

use kennel_common::cgroup2::{self, enable, make_dir, MOUNT};
use kennel_common::limits_mode::{CPU, MEMORY, PIDS};

const LEAF: &str = "kennel-supervisor";
const RUNS: &str = "kennel-runs";

/// Our own cgroup-v2 directory, from `/proc/self/cgroup`.
pub fn own_cgroup() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(Path::new(MOUNT).join(rel.trim_start_matches('/')))
}

/// Prepares the delegated subtree; returns the runs' parent, or why it cannot be used.
pub fn prepare() -> Result<PathBuf, String> {
    if !cgroup2::present() {
        return Err("not a cgroup-v2 host".into());
    }
    let own = own_cgroup().ok_or("no cgroup-v2 line in /proc/self/cgroup")?;
    let control = own.join("cgroup.subtree_control");
    if nix::unistd::access(&control, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(format!(
            "{} is not delegated to us (start Kennel with systemd-run --user --scope -p Delegate=yes, or in a unit with Delegate=yes)",
            own.display()
        ));
    }
    let needed = MEMORY | PIDS;
    if cgroup2::controllers(&own.join("cgroup.controllers")) & needed != needed {
        return Err(format!(
            "{} offers no memory and pids controllers",
            own.display()
        ));
    }
    let leaf = own.join(LEAF);
    make_dir(&leaf).map_err(|e| format!("making {}: {e}", leaf.display()))?;
    fs::write(leaf.join("cgroup.procs"), "0")
        .map_err(|e| format!("moving into {}: {e}", leaf.display()))?;
    let on = enable(&own, MEMORY | PIDS | CPU);
    if on & needed != needed {
        return Err(format!(
            "memory and pids cannot be enabled in {} (other processes share it?)",
            own.display()
        ));
    }
    let runs = own.join(RUNS);
    make_dir(&runs).map_err(|e| format!("making {}: {e}", runs.display()))?;
    if enable(&runs, on) & needed != needed {
        return Err(format!(
            "memory and pids cannot be enabled in {}",
            runs.display()
        ));
    }
    Ok(runs)
}

/// As an ordinary user on a cgroup-v2 host without `--cgroup`: prepares the delegated subtree
/// for the runs (delegate.rs) and hands it to the workers; says what is in force either way.
pub fn apply(settings: &mut crate::settings::Settings) -> Option<std::path::PathBuf> {
    if nix::unistd::geteuid().is_root() || settings.worker.runner.cgroup.is_some() {
        return None;
    }
    match prepare() {
        Ok(runs) => {
            log::info!(
                "cgroup v2 delegated: runs get a cgroup each under {}",
                runs.display()
            );
            settings.worker.runner.cgroup = Some(runs.clone());
            Some(runs)
        }
        Err(why) => {
            log::info!("no cgroup for the runs ({why}): limits per run by kennel-run");
            None
        }
    }
}

/// Removes the runs' parent at stop (every worker removed its own directory; a leftover of a
/// killed one is removed by the next start's workers, or here if already empty).
pub fn cleanup(runs: &Path) {
    for e in fs::read_dir(runs).into_iter().flatten().flatten() {
        let _ = fs::remove_dir(e.path());
    }
    let _ = fs::remove_dir(runs);
}
