//! Deaths, learned at once: every SIGCHLD wakes the main loop, which reaps with `waitpid(-1)`
//! and hands each exit to the supervisor; then what the dead child left behind and was
//! re-parented to us is killed (`orphans.rs`).

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::supervisor::Supervisor;
use kennel_common::layout::ExitCode;

/// Reaps every child that has exited, without blocking.
///
/// At most one exit per child per call: children that die again while their deaths are being
/// handled (each handling may wait on the guard) wait for the next turn, so the loop always
/// comes back to its hang check — an unbounded reap loop once starved it while a frozen child
/// held the guard and every restarted child died for want of it.
/// Returns whether anything was reaped.
pub fn reap(sup: &mut Supervisor) -> bool {
    let mut reaped = false;
    for _ in 0..sup.ids().count() {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                sup.on_exit(pid, ExitCode::Exited(code as u8));
                reaped = true;
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                sup.on_exit(pid, ExitCode::Signaled(sig as i32 as u8));
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
    // A dead child may have left orphans, now ours (orphans.rs): kill them; the next turn reaps.
    if reaped {
        kill_adopted(sup);
    }
    reaped
}

/// Kills what dead children left behind and was re-parented to us.
pub fn kill_adopted(sup: &Supervisor) {
    let own: Vec<Pid> = sup
        .ids()
        .filter_map(|id| sup.life(id).phase.pid())
        .collect();
    crate::orphans::kill_adopted(&own);
}
