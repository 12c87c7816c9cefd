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

/// Exit status of a child that could not start (bad flags, segment unusable, …).
pub const EXIT_START: i32 = 2;
/// Exit status of a child that could not bind its port: the watchdog backs off.
pub const EXIT_BIND: i32 = 3;

/// The common start of a child: logging under `name`, attaching to the instance
/// (`ChildContext::start`), then binding its port. On failure, logs why and returns the exit
/// status to use.
pub fn start_child(
    name: &str,
    runtime: crate::runtime::RuntimeDir,
    id: crate::segment::RecordId,
    bind: std::net::IpAddr,
    port: u16,
) -> std::result::Result<(ChildContext, std::net::TcpListener), i32> {
    crate::logging::init(name);
    let ctx = ChildContext::start(runtime, id).map_err(|e| {
        log::error!("cannot start: {e}");
        EXIT_START
    })?;
    let listener = std::net::TcpListener::bind((bind, port)).map_err(|e| {
        log::error!("cannot listen on {bind}:{port}: {e}");
        EXIT_BIND
    })?;
    Ok((ctx, listener))
}

/// The exit status for the end of a child's main loop, logging an error.
pub fn exit_status(result: Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            1
        }
    }
}

/// What a freshly started child of the watchdog holds: the segment, its record, its signals,
/// and the watchdog's FIFO to say it is ready.
pub struct ChildContext {
    pub segment: crate::segment::Segment,
    pub id: crate::segment::RecordId,
    pub signals: SignalFd,
    pub runtime: crate::runtime::RuntimeDir,
    /// Our pid, read once: it goes into every notice and every identity check, and
    /// `getpid()` is a system call each time.
    pub pid: u32,
    watchdog_fifo: crate::notice::Fifo,
}

impl ChildContext {
    /// Attaches to the instance, binds our life to the watchdog's and takes over the
    /// termination signals. Call first thing in `main`, before spawning any thread.
    pub fn start(
        runtime: crate::runtime::RuntimeDir,
        id: crate::segment::RecordId,
    ) -> Result<ChildContext> {
        use std::sync::atomic::Ordering::SeqCst;
        let signals = termination_signals()?;
        let segment = crate::segment::Segment::attach(&runtime, crate::segment::Access::ReadWrite)?;
        if let crate::segment::RecordId::Worker(k) = id {
            if k >= segment.workers() {
                return Err(Error::Invalid(format!(
                    "slot {k} does not exist: the segment has {} worker slots",
                    segment.workers()
                )));
            }
        }
        die_with_parent(segment.header().watchdog_pid.load(SeqCst))?;
        let watchdog_fifo =
            crate::notice::Fifo::open(&runtime.fifo_path(crate::runtime::FifoName::Watchdog))?;
        segment.heartbeat(id);
        Ok(ChildContext {
            segment,
            id,
            signals,
            runtime,
            pid: std::process::id(),
            watchdog_fifo,
        })
    }

    /// Publishes our endpoint (state Idle) and tells the watchdog we are ready.
    pub fn announce_ready(&self, endpoint: std::net::SocketAddr) -> Result<()> {
        let guard = self.segment.lock(crate::segment::GUARD_TIMEOUT)?;
        guard.publish_ready(self.id, endpoint);
        drop(guard);
        let slot = match self.id {
            crate::segment::RecordId::Dispatcher => crate::notice::DISPATCHER_SLOT,
            crate::segment::RecordId::Worker(k) => k as u32,
        };
        self.watchdog_fifo
            .send(&crate::notice::Notice {
                kind: crate::notice::NoticeKind::Ready,
                slot,
                pid: self.pid,
                marker: 0,
            })
            .map_err(|e| Error::io("sending the ready notice", e))
    }

    /// Checks, between two pieces of work, that our record still says who we are: our pid, our
    /// endpoint, and a state we can be in while waiting for work (idle, or assigned for a
    /// worker). Anything else means someone scribbled on the segment: we restore it rather
    /// than let the dispatcher hand out a wrong port or skip a healthy slot. A half-written
    /// record is left to the watchdog's repair.
    /// `v` is a fresh read of our record (callers that already read it pass it on).
    pub fn verify_identity(&self, endpoint: std::net::SocketAddr, v: &crate::segment::RecordView) {
        use crate::layout::ProcState;
        if v.torn {
            return;
        }
        let state_ok = match v.state() {
            Some(ProcState::Idle) => true,
            Some(ProcState::Assigned) => self.id != crate::segment::RecordId::Dispatcher,
            _ => false,
        };
        if v.pid == self.pid && v.endpoint == Some(endpoint) && state_ok {
            return;
        }
        log::warn!(
            "our record was altered (pid {}, endpoint {:?}, state {}): restoring it",
            v.pid,
            v.endpoint,
            v.display_state()
        );
        if let Ok(g) = self.segment.lock(crate::segment::GUARD_TIMEOUT) {
            if state_ok {
                g.restore_identity(self.id, endpoint);
            } else {
                g.publish_ready(self.id, endpoint);
            }
        }
    }

    /// Marks our record Stopping (best effort: we are leaving anyway).
    pub fn mark_stopping(&self) {
        if let Ok(g) = self.segment.lock(crate::segment::GUARD_TIMEOUT) {
            g.set_stopping(self.id);
        }
    }

    /// True if a termination signal arrived (drains the signalfd).
    pub fn termination_requested(&self) -> bool {
        let sigs = pending_signals(&self.signals);
        if let Some(s) = sigs.first() {
            log::info!("received {}: stopping", s.as_str());
            return true;
        }
        false
    }
}
