//! How a long-running loop learns it must stop, handed to it by its caller (mini-redis's
//! `run(listener, shutdown)`): a binary passes the termination signals, a test passes a pipe
//! it can fire. Either way the loop polls one file descriptor and asks `requested()`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::{Error, Result};

/// The signals that ask a Kennel process to stop cleanly: the one list every binary blocks and
/// reads through a signalfd (the watchdog adds SIGCHLD). SIGQUIT too: its default (a core
/// dump) would leave the instance's objects behind.
pub const TERMINATION_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Asynchronous signals whose default action is to terminate, that Kennel has no use for:
/// blocked, read from the signalfd, logged (rate-limited) and ignored, so a stray `kill -USR1`
/// takes nothing down. SIGPIPE is ignored by the Rust runtime itself. The synchronous fault
/// signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS) are not in the list: a
/// real fault is delivered whatever the mask, and means a bug or a damaged mapping — a child
/// dies of it and is restarted; the watchdog's children die with it and the next start
/// cleans up (docs/FAILURE-MODEL.md).
pub const IGNORED_SIGNALS: [Signal; 10] = [
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGIO,
    Signal::SIGPWR,
    Signal::SIGSTKFLT,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
];

/// Every signal a Kennel process takes through its signalfd, besides SIGCHLD.
pub fn handled_signals() -> Vec<Signal> {
    TERMINATION_SIGNALS
        .iter()
        .chain(IGNORED_SIGNALS.iter())
        .copied()
        .collect()
}

/// Sorts signals read from a signalfd: the first termination signal, if any; the others are
/// logged (rate-limited) and ignored. SIGCHLD is the caller's.
pub fn first_termination(signals: impl IntoIterator<Item = Signal>) -> Option<Signal> {
    let mut stop = None;
    for s in signals {
        if TERMINATION_SIGNALS.contains(&s) {
            stop = stop.or(Some(s));
        } else if s != Signal::SIGCHLD {
            crate::logging::warn_limited(
                s.as_str(),
                format_args!("ignoring {} (Kennel has no use for it)", s.as_str()),
            );
        }
    }
    stop
}

/// Blocks `signals` in this thread (and the threads it spawns later) and returns a
/// non-blocking signalfd that reports them. Call before spawning threads.
pub fn signalfd_for(signals: &[Signal]) -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in signals {
        mask.add(*s);
    }
    mask.thread_block()
        .map_err(|e| Error::nix("blocking signals", e))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::nix("creating a signalfd", e))
}

/// Drains `sfd` and returns the signals that were pending.
pub fn pending_signals(sfd: &SignalFd) -> Vec<Signal> {
    let mut out = Vec::new();
    while let Ok(Some(info)) = sfd.read_signal() {
        if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
            out.push(sig);
        }
    }
    out
}

/// A stop request source to poll.
pub enum Shutdown {
    /// SIGTERM, SIGINT, SIGHUP.
    Signals(SignalFd),
    /// The read end of a pipe whose `Trigger` a test holds.
    Pipe(OwnedFd),
}

/// Fires a `Shutdown::manual` (a test's Ctrl-C).
pub struct Trigger(OwnedFd);

impl Shutdown {
    /// Stop on a termination signal. Call before spawning threads.
    pub fn on_termination_signals() -> Result<Shutdown> {
        signalfd_for(&handled_signals()).map(Shutdown::Signals)
    }

    /// Stop when the returned trigger fires.
    pub fn manual() -> Result<(Shutdown, Trigger)> {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .map_err(|e| Error::nix("creating a shutdown pipe", e))?;
        Ok((Shutdown::Pipe(r), Trigger(w)))
    }

    /// The descriptor to poll for readability.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Shutdown::Signals(s) => s.as_fd(),
            Shutdown::Pipe(p) => p.as_fd(),
        }
    }

    /// What asked us to stop, if anything did (drains the source).
    pub fn requested(&self) -> Option<String> {
        match self {
            Shutdown::Signals(s) => {
                first_termination(pending_signals(s)).map(|s| s.as_str().to_string())
            }
            Shutdown::Pipe(p) => {
                let mut b = [0u8; 16];
                match nix::unistd::read(p, &mut b) {
                    Ok(n) if n > 0 => Some("a stop request".into()),
                    // Every trigger dropped: nobody can ask any more, so stop too.
                    Ok(_) => Some("its trigger being dropped".into()),
                    Err(_) => None,
                }
            }
        }
    }
}

impl Trigger {
    pub fn fire(&self) {
        let _ = nix::unistd::write(&self.0, b"x");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_shutdown_is_requested_only_once_fired() {
        let (s, t) = Shutdown::manual().unwrap();
        assert_eq!(s.requested(), None);
        t.fire();
        assert!(s.requested().is_some());
        assert_eq!(s.requested(), None, "drained");
        drop(t);
        assert!(s.requested().is_some(), "a dropped trigger stops the loop");
    }
}
