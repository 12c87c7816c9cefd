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

const MOUNT: &str = "/sys/fs/cgroup";
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
    if !Path::new(MOUNT).join("cgroup.controllers").exists() {
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
    let offered = fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| offered.split_whitespace().any(|x| x == c);
    if !(has("memory") && has("pids")) {
        return Err(format!(
            "{} offers no memory and pids controllers ({offered:?})",
            own.display()
        ));
    }
    let leaf = own.join(LEAF);
    make_dir(&leaf)?;
    fs::write(leaf.join("cgroup.procs"), "0")
        .map_err(|e| format!("moving into {}: {e}", leaf.display()))?;
    let wanted: Vec<&str> = ["memory", "pids", "cpu"]
        .into_iter()
        .filter(|c| has(c))
        .collect();
    for c in &wanted {
        fs::write(&control, format!("+{c}")).map_err(|e| {
            format!(
                "enabling {c} in {} (other processes share it?): {e}",
                own.display()
            )
        })?;
    }
    let runs = own.join(RUNS);
    make_dir(&runs)?;
    for c in &wanted {
        fs::write(runs.join("cgroup.subtree_control"), format!("+{c}"))
            .map_err(|e| format!("enabling {c} in {}: {e}", runs.display()))?;
    }
    Ok(runs)
}

fn make_dir(d: &Path) -> Result<(), String> {
    match fs::create_dir(d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => Ok(()),
        Err(e) => Err(format!("making {}: {e}", d.display())),
    }
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
