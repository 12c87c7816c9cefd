//! What every child process (dispatcher, worker) does to live and die with its watchdog: the
//! one start-up skeleton (`main_with`), dying with the parent, attaching to the instance,
//! announcing readiness and guarding its own record.

use nix::sys::signal::Signal;

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

/// Exit status of a child that could not start (bad flags, segment unusable, …).
pub const EXIT_START: i32 = 2;
/// Exit status of a child that could not bind its port: the watchdog backs off.
pub const EXIT_BIND: i32 = 3;

/// Longest time between two heartbeats of a child's main loop (the dispatcher's and each
/// worker's): the watchdog's hang timeout is validated against it.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// Where a child lives: its log name, instance, record and listening socket (inherited from
/// the watchdog, or bound here when run by hand).
pub struct Placement {
    pub name: String,
    pub runtime: crate::runtime::RuntimeDir,
    pub id: crate::segment::RecordId,
    pub bind: std::net::IpAddr,
    pub port: u16,
    pub listen_fd: Option<i32>,
}

/// The whole life of a child binary, the same for the dispatcher and the workers: validated
/// settings (or exit `EXIT_START`), logging, the termination signals as its `Shutdown`,
/// attaching to the instance (`ChildContext::start`), adopting the listener the watchdog
/// passed (or binding its port when run by hand; exit `EXIT_BIND` if that fails),
/// opening its own state, then `run(listener, state, shutdown)` until asked to stop.
pub fn main_with<S, T>(
    binary: &str,
    settings: std::result::Result<S, String>,
    placement: impl FnOnce(&S) -> Placement,
    open: impl FnOnce(ChildContext, S) -> Result<T>,
    run: impl FnOnce(std::net::TcpListener, T, crate::shutdown::Shutdown) -> Result<()>,
) -> i32 {
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{binary}: {e}");
            return EXIT_START;
        }
    };
    let p = placement(&settings);
    let started = prepare_process(&p.name, &p.listen_fd.into_iter().collect::<Vec<_>>())
        .and_then(|shutdown| Ok((shutdown, ChildContext::start(p.runtime, p.id)?)));
    let (shutdown, ctx) = match started {
        Ok(pair) => pair,
        Err(e) => {
            log::error!("cannot start: {e}");
            return EXIT_START;
        }
    };
    let listener = match p.listen_fd {
        Some(fd) => match crate::sys::adopt_listener(fd) {
            Ok(l) => l,
            Err(e) => {
                log::error!("cannot use the inherited listener: {e}");
                return EXIT_START;
            }
        },
        None => match std::net::TcpListener::bind((p.bind, p.port)) {
            Ok(l) => {
                crate::resources::widen_backlog(&l);
                l
            }
            Err(e) => {
                log::error!("cannot listen on {}:{}: {e}", p.bind, p.port);
                return EXIT_BIND;
            }
        },
    };
    match open(ctx, settings) {
        Ok(state) => exit_status(run(listener, state, shutdown)),
        Err(e) => {
            log::error!("cannot start: {e}");
            EXIT_START
        }
    }
}

/// What every child does first, under the log name `name`: its log, every inherited
/// descriptor but `keep` close-on-exec (only what was handed down on purpose — a worker's
/// listener, a standby's socket — is kept; nothing else may reach a process it starts, a
/// worker's sandboxes above all), SIGBUS said rather than silent, the termination signals.
pub fn prepare_process(
    name: &str,
    keep: &[std::os::fd::RawFd],
) -> Result<crate::shutdown::Shutdown> {
    crate::logging::init(name);
    if let Err(e) = crate::sys::cloexec_inherited(keep) {
        log::warn!("cannot mark inherited descriptors close-on-exec: {e}");
    }
    if let Err(e) = crate::sys::exit_on_mapping_fault(name) {
        log::warn!("cannot catch SIGBUS (a truncated segment would kill silently): {e}");
    }
    crate::shutdown::Shutdown::on_termination_signals()
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

/// What a freshly started child of the watchdog holds: the segment, its record, and the
/// watchdog's FIFO to say it is ready.
pub struct ChildContext {
    pub segment: crate::segment::Segment,
    pub id: crate::segment::RecordId,
    pub runtime: crate::runtime::RuntimeDir,
    /// Our pid, read once: it goes into every notice and every identity check, and
    /// `getpid()` is a system call each time.
    pub pid: u32,
    watchdog_fifo: crate::notice::Fifo,
}

impl ChildContext {
    /// Attaches to the instance and binds our life to the watchdog's (which must be our
    /// parent).
    pub fn start(
        runtime: crate::runtime::RuntimeDir,
        id: crate::segment::RecordId,
    ) -> Result<ChildContext> {
        use std::sync::atomic::Ordering::SeqCst;
        let ctx = Self::attach(runtime, id)?;
        die_with_parent(ctx.segment.header().watchdog_pid.load(SeqCst))?;
        Ok(ctx)
    }

    /// Attaches to the instance in `runtime` as record `id`, without binding our life to a
    /// parent: what `start` does after checking, and what in-process tests use.
    pub fn attach(
        runtime: crate::runtime::RuntimeDir,
        id: crate::segment::RecordId,
    ) -> Result<ChildContext> {
        let segment = crate::segment::Segment::attach(&runtime, crate::segment::Access::ReadWrite)?;
        if let crate::segment::RecordId::Worker(k) = id {
            if k >= segment.workers() {
                return Err(Error::Invalid(format!(
                    "slot {k} does not exist: the segment has {} worker slots",
                    segment.workers()
                )));
            }
        }
        let watchdog_fifo =
            crate::notice::Fifo::open(&runtime.fifo_path(crate::runtime::FifoName::Watchdog))?;
        segment.heartbeat(id);
        Ok(ChildContext {
            segment,
            id,
            runtime,
            pid: std::process::id(),
            watchdog_fifo,
        })
    }

    /// Makes `listener` non-blocking, publishes its address and tells the watchdog we are
    /// ready: the start of every child's `run`. Returns the address.
    pub fn go_live(&self, listener: &std::net::TcpListener) -> Result<std::net::SocketAddr> {
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listening address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the listener non-blocking", e))?;
        self.announce_ready(local)?;
        Ok(local)
    }

    /// Publishes our endpoint (state Idle) and tells the watchdog we are ready.
    pub fn announce_ready(&self, endpoint: std::net::SocketAddr) -> Result<()> {
        let guard = self.segment.lock(crate::segment::GUARD_TIMEOUT)?;
        guard.publish_ready(self.id, endpoint);
        drop(guard);
        let slot = match self.id {
            crate::segment::RecordId::Dispatcher => crate::notice::DISPATCHER_SLOT,
            crate::segment::RecordId::Gateway => crate::notice::GATEWAY_SLOT,
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
    /// endpoint, and a state we can be in (idle; for a worker also assigned, or busy while
    /// its serving threads are full). Anything else means someone scribbled on the segment: we restore it rather
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
            // A worker serving its capacity is Busy while this check runs on its main thread.
            Some(ProcState::Assigned | ProcState::Busy) => {
                self.id != crate::segment::RecordId::Dispatcher
            }
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

    /// True if `shutdown` asks us to stop; then our record is marked Stopping.
    pub fn should_stop(&self, shutdown: &crate::shutdown::Shutdown) -> bool {
        match shutdown.requested() {
            Some(why) => {
                log::info!("received {why}: stopping");
                self.mark_stopping();
                true
            }
            None => false,
        }
    }
}
