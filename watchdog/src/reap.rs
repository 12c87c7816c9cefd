//! Deaths, learned at once: every SIGCHLD wakes the main loop, which looks at each exited
//! child with `waitid(P_ALL, WNOWAIT)`, hands the exit to the supervisor and only then reaps
//! it. What the dead child left behind and was re-parented to us is killed at the next poll
//! if it has not ended by then (`sweep`, `orphans.rs`).
//!
//! Why look before reaping: reaping is not free. The kernel drops the dead process's `/proc`
//! entries in the reaper's `wait` (tens of microseconds for a worker, whose threads and files
//! were looked at), and a dead worker's slot should go to its standby before that, not after.
//! A zombie cannot be reused as a pid, so the pid seen by the look is still the same child
//! when it is reaped.

use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::supervisor::Supervisor;
use kennel_common::layout::ExitCode;

/// Reaps every child that has exited, without blocking.
///
/// Bounded: at most one exit per child per call, and no further exit once handling the ones
/// reaped took a poll interval (each handling may wait on the guard): children that die again
/// meanwhile wait for the next turn, so the loop always comes back to its hang check and its
/// poll — an unbounded reap loop once starved them while a frozen child held the guard and
/// every restarted child died for want of it. (The loop runs `reap` every turn, so an exit
/// left pending is taken at the next one even though its SIGCHLD was already read.)
/// Returns whether anything was reaped.
pub fn reap(sup: &mut Supervisor) -> bool {
    let mut reaped = false;
    let started = std::time::Instant::now();
    for _ in 0..sup.ids().count() {
        if reaped && started.elapsed() >= sup.settings().poll_interval {
            break;
        }
        let look = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::All, look) {
            Ok(WaitStatus::Exited(pid, code)) => {
                sup.on_exit(pid, ExitCode::Exited(code as u8));
                reap_one(pid);
                reaped = true;
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                sup.on_exit(pid, ExitCode::Signaled(sig as i32 as u8));
                reap_one(pid);
                reaped = true;
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => break,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                log::error!("waitpid: {e}");
                break;
            }
        }
    }
    // What a dead child leaves is re-parented to us (orphans.rs), but not killed here: a dead
    // worker's sandboxes (bwrap, waiting for its zygote) end on their own within milliseconds
    // of the worker's death (the end of their control socket), and killing them at once only
    // put three "left behind" warnings and their kills into every restart. Whatever is still
    // ours at the next poll is a real leftover: `sweep` kills it then (and the stop does).
    reaped
}

/// Reaps `pid`, which `waitid` showed exited (so this does not block).
fn reap_one(pid: Pid) {
    while let Err(e) = waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        if e != nix::errno::Errno::EINTR {
            log::error!("waitpid({pid}): {e}");
            return;
        }
    }
}

/// At each poll: kills what dead children left behind and was re-parented to us (the next
/// turn reaps it).
pub fn sweep(sup: &Supervisor) {
    let mut own: Vec<Pid> = sup
        .ids()
        .filter_map(|id| sup.life(id).phase.pid())
        .collect();
    own.extend(sup.spare_pids());
    crate::orphans::kill_adopted(&own);
}
