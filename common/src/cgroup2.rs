//! The few cgroup-v2 primitives two crates need: the runner (a cgroup per run,
//! `runner/src/cgroup/v2.rs`) and the watchdog (a delegated subtree prepared for the runs,
//! `watchdog/src/delegate.rs`). Controllers are `limits_mode`'s bits.

use std::fs;
use std::io;
use std::path::Path;

use crate::limits_mode::{CPU, MEMORY, PIDS};

/// Where the unified hierarchy is mounted.
pub const MOUNT: &str = "/sys/fs/cgroup";

/// Whether `/sys/fs/cgroup` is a cgroup-v2 mount (the unified hierarchy, not a hybrid one).
pub fn present() -> bool {
    Path::new(MOUNT).join("cgroup.controllers").exists()
}

/// The controllers a file lists (a directory's `cgroup.controllers`: what it may enable;
/// its `cgroup.subtree_control`: what its children have).
pub fn controllers(file: &Path) -> u32 {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.split_whitespace()
        .map(|c| match c {
            "memory" => MEMORY,
            "pids" => PIDS,
            "cpu" => CPU,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// Writes `+memory +pids +cpu` (those of `want` that the directory offers) into its
/// `cgroup.subtree_control`, one at a time so one refused controller does not refuse all;
/// returns those of `want` its children now have.
pub fn enable(dir: &Path, want: u32) -> u32 {
    let offered = controllers(&dir.join("cgroup.controllers"));
    let mut on = 0;
    for (bit, name) in [(MEMORY, "memory"), (PIDS, "pids"), (CPU, "cpu")] {
        if want & offered & bit != 0
            && fs::write(dir.join("cgroup.subtree_control"), format!("+{name}")).is_ok()
        {
            on |= bit;
        }
    }
    on | (controllers(&dir.join("cgroup.subtree_control")) & want)
}

/// Makes directory `d`, or accepts the one already there.
pub fn make_dir(d: &Path) -> io::Result<()> {
    match fs::create_dir(d) {
        Err(e) if !(e.kind() == io::ErrorKind::AlreadyExists && d.is_dir()) => Err(e),
        _ => Ok(()),
    }
}
