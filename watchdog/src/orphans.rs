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

/// SIGKILLs every process whose parent is this one and which is not in `own` (the children
/// the supervisor started). Returns how many it killed; the caller reaps them.
pub fn kill_adopted(own: &[Pid]) -> usize {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if kennel_common::procfs::parent_of(pid) != Some(me)
            || kennel_common::procfs::state(pid) == Some('Z')
        {
            continue;
        }
        let pid = Pid::from_raw(pid as i32);
        if own.contains(&pid) {
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
