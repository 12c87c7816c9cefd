//! Standby workers (`--standby-workers`, default 1): workers started in advance, before any
//! slot needs them. A standby worker does everything a worker does before it serves — the
//! process start, the dynamic loading, its runner's set-up — then says `S` on its socket and
//! waits. When a worker dies, its slot goes to a ready standby in one message (the slot, its
//! port, its listening socket by `SCM_RIGHTS`): the restart costs a message instead of a
//! process start, and a new standby is started once no worker is starting.
//!
//! A standby holds no slot, so nothing in the segment names it until it takes one; it leaves
//! when the watchdog dies (the end of its socket; once it holds a slot, `PR_SET_PDEATHSIG`
//! like every child), is replaced after a reload (its flags may be stale), and one that dies
//! unready is tried again only after `RETRY_AFTER`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::MsgFlags;
use nix::unistd::Pid;

/// The byte a standby sends once it is ready for a slot.
pub const READY: &[u8] = b"S";

/// How long after a standby died unready another is started.
const RETRY_AFTER: Duration = Duration::from_secs(2);

struct Spare {
    pid: Pid,
    socket: OwnedFd,
    ready: bool,
}

/// The standby workers.
#[derive(Default)]
pub struct Spares {
    spares: Vec<Spare>,
    retry_at: Option<Instant>,
}

impl Spares {
    /// Starts standbys until `want` exist (none while `retry_at` holds). `command` builds a
    /// standby's command for its socket's descriptor number.
    pub fn tend(&mut self, want: usize, now: Instant, command: impl Fn(i32) -> Command) {
        if self.retry_at.is_some_and(|t| now < t) {
            return;
        }
        while self.spares.len() > want {
            if let Some(s) = self.spares.pop() {
                let _ = kill(s.pid, Signal::SIGKILL);
            }
        }
        while self.spares.len() < want {
            match start(&command) {
                Ok(s) => {
                    log::debug!("standby worker started (pid {})", s.pid);
                    self.spares.push(s);
                }
                Err(e) => {
                    log::warn!(
                        "a standby worker could not be started (retrying in {RETRY_AFTER:?}): {e}"
                    );
                    self.retry_at = Some(now + RETRY_AFTER);
                    return;
                }
            }
        }
    }

    /// Gives slot `slot` (its `port`, its `listener`) to a ready standby; its pid, or `None`
    /// when none is ready (the caller starts a worker the usual way).
    pub fn assign(&mut self, slot: usize, port: u16, listener: impl AsFd) -> Option<Pid> {
        for s in &mut self.spares {
            s.ready |= said_ready(&s.socket);
        }
        let i = self.spares.iter().position(|s| s.ready)?;
        let s = self.spares.swap_remove(i);
        let message = format!("{slot} {port}");
        match kennel_common::sys::send_with_fds(&s.socket, message.as_bytes(), &[&listener]) {
            Ok(()) => Some(s.pid),
            Err(e) => {
                log::warn!("standby worker {} could not take slot {slot}: {e}", s.pid);
                let _ = kill(s.pid, Signal::SIGKILL);
                None
            }
        }
    }

    /// A child exited: true if it was a standby (then it is forgotten; one that was not
    /// ready yet delays the next start).
    pub fn on_exit(&mut self, pid: Pid, now: Instant) -> bool {
        let Some(i) = self.spares.iter().position(|s| s.pid == pid) else {
            return false;
        };
        let s = self.spares.swap_remove(i);
        if !s.ready && !said_ready(&s.socket) {
            log::warn!("standby worker {pid} died before it was ready");
            self.retry_at = Some(now + RETRY_AFTER);
        }
        true
    }

    /// The standbys' pids (children of ours, not orphans).
    pub fn pids(&self) -> Vec<Pid> {
        self.spares.iter().map(|s| s.pid).collect()
    }

    /// Ends every standby (after a reload: their flags may be stale; at stop).
    pub fn discard(&mut self) {
        for s in self.spares.drain(..) {
            let _ = kill(s.pid, Signal::SIGKILL);
        }
    }
}

/// Starts one standby with its end of a new socket pair, inherited under its own number
/// (close-on-exec cleared for the spawn only, as `listeners.rs` does for a worker's socket).
///
/// No `pre_exec` step, so the standard library starts it with `posix_spawn` (a `vfork`-like
/// clone) instead of a `fork`: copying the watchdog's page tables cost more than the rest of
/// the start, and a standby is started right after a restart, while the replacement goes
/// live. It needs no parent-death signal while it waits: the watchdog's death closes our end
/// of the pair and the standby, reading the end of the stream, exits (`standby.rs` in the
/// worker); once given a slot it binds its life to the watchdog's like every worker.
fn start(command: &impl Fn(i32) -> Command) -> std::io::Result<Spare> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let (ours, theirs) = kennel_common::sys::seqpacket_pair()?;
    fcntl(&theirs, FcntlArg::F_SETFD(FdFlag::empty()))?;
    let mut cmd = command(theirs.as_raw_fd());
    let child = cmd.spawn();
    drop(theirs);
    let child = child?;
    Ok(Spare {
        pid: Pid::from_raw(child.id() as i32),
        socket: ours,
        ready: false,
    })
}

/// Whether the standby said it is ready (a non-blocking look at its socket).
fn said_ready(socket: &OwnedFd) -> bool {
    let mut buf = [0u8; 4];
    matches!(
        nix::sys::socket::recv(socket.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT),
        Ok(n) if &buf[..n] == READY
    )
}
