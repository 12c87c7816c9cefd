//! What every child process (dispatcher, worker) does to live and die with its watchdog:
//! die with the parent, and turn termination signals into a file descriptor to poll.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::{Error, Result};

/// Asks the kernel to SIGKILL us when our parent dies, then checks the parent is still the
/// expected watchdog (it may have died before the request was made). A child of a killed
/// watchdog therefore never outlives it, even if it is frozen.
pub fn die_with_parent(expected_parent: u32) -> Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| Error::nix("prctl(PR_SET_PDEATHSIG)", e))?;
    let parent = nix::unistd::getppid().as_raw() as u32;
    if parent != expected_parent {
        return Err(Error::InUse(format!(
            "our parent is pid {parent}, not the watchdog (pid {expected_parent}); it has died"
        )));
    }
    Ok(())
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and in threads it spawns later) and
/// returns a non-blocking signalfd that reports them. Call before spawning threads.
pub fn termination_signals() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGHUP);
    mask.thread_block()
        .map_err(|e| Error::nix("blocking termination signals", e))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::nix("creating a signalfd", e))
}

/// Drains `sfd` and returns the termination signals that were pending.
pub fn pending_signals(sfd: &SignalFd) -> Vec<Signal> {
    let mut out = Vec::new();
    while let Ok(Some(info)) = sfd.read_signal() {
        if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
            out.push(sig);
        }
    }
    out
}
