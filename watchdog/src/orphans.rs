//! What a dead worker leaves behind. A worker killed at the wrong instant of a run's start
//! (after bubblewrap forked its sandbox, before the sandbox armed its parent-death signal)
//! leaves a sandbox process that nothing will ever signal: it waits forever for a parent that
//! is gone, holding the worker's memfds. The watchdog is therefore a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`): such orphans are re-parented to it instead of to init, and it
//! kills every process it adopted — anything whose parent it is but which it did not start —
//! and reaps it like a child. Killing the first process of a sandbox's PID namespace ends the
//! whole namespace.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Makes orphans of our descendants ours (Linux 3.4+).
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Our children, from `/proc/self/task/*/children` (a few reads, on the restart path), or by
/// scanning every process's parent where the kernel lacks that file (CONFIG_PROC_CHILDREN).
fn children() -> Vec<u32> {
    let mut found = false;
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            found = true;
            pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    if found {
        return pids;
    }
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| kennel_common::procfs::parent_of(*pid) == Some(me))
        .collect()
}

/// SIGKILLs every process whose parent is this one and which is not in `own` (the children
/// the supervisor started). Returns how many it killed; the caller reaps them.
pub fn kill_adopted(own: &[Pid]) -> usize {
    let mut killed = 0;
    for raw in children() {
        // Our own children first, from memory: reading a child's /proc stat takes its memory
        // map's lock, which a worker starting this very moment (exec, the loader mapping its
        // libraries) holds, and both waited (~0.4 ms of every restart).
        let pid = Pid::from_raw(raw as i32);
        if own.contains(&pid) || kennel_common::procfs::state(raw) == Some('Z') {
            continue;
        }
        let what = kennel_common::procfs::cmdline(pid.as_raw() as u32).unwrap_or_default();
        if kill(pid, Signal::SIGKILL).is_ok() {
            killed += 1;
            log::warn!(
                "killed pid {pid}, left behind by a dead worker: {}",
                what.chars().take(60).collect::<String>()
            );
        }
    }
    killed
}
