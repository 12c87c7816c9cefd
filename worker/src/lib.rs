//! The Kennel worker: owns one TCP port, publishes it in its slot, serves the one client the
//! dispatcher assigned to it, then writes the pong marker and tells the dispatcher it is free.
//!
//! One thread, one client at a time, by design: a slot *is* a unit of work in this system,
//! and the dispatcher only sends a client to an idle slot. The main loop polls the listening
//! socket, the slot's FIFO (ping notices) and the termination signals, and stamps the
//! heartbeat at least every `TICK`, so a frozen worker is visible to the watchdog.

#![forbid(unsafe_code)]

pub mod serve;
pub mod settings;

use std::net::TcpListener;
use std::os::fd::AsFd;
use std::time::Duration;

use kennel_common::layout::ProcState;
use kennel_common::notice::{Fifo, Notice, NoticeKind};
use kennel_common::process::{exit_status, start_child, ChildContext, EXIT_START};
use kennel_common::runtime::FifoName;
use kennel_common::segment::{RecordId, RecordView, GUARD_TIMEOUT};
use kennel_common::{clock, Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::settings::{Args, Settings};

/// Longest time between two heartbeats while waiting for work.
pub const TICK: Duration = Duration::from_millis(250);

/// Everything `run` needs besides the listener.
pub struct Worker {
    pub ctx: ChildContext,
    pub settings: Settings,
    /// Ping notices from the dispatcher.
    pub notices: Fifo,
    /// Where our pong notices go.
    pub dispatcher: Fifo,
}

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel-worker: {e}");
            return EXIT_START;
        }
    };
    let (ctx, listener) = match start_child(
        &format!("worker {}", settings.slot),
        settings.runtime.clone(),
        RecordId::Worker(settings.slot),
        settings.bind,
        settings.port,
    ) {
        Ok(pair) => pair,
        Err(status) => return status,
    };
    match Worker::open(ctx, settings) {
        Ok(w) => exit_status(run(listener, &w)),
        Err(e) => {
            log::error!("cannot start: {e}");
            EXIT_START
        }
    }
}

impl Worker {
    pub fn open(ctx: ChildContext, settings: Settings) -> Result<Worker> {
        let notices = Fifo::open(&ctx.runtime.fifo_path(FifoName::Worker(settings.slot)))?;
        let dispatcher = Fifo::open(&ctx.runtime.fifo_path(FifoName::Dispatcher))?;
        Ok(Worker {
            ctx,
            settings,
            notices,
            dispatcher,
        })
    }

    pub fn id(&self) -> RecordId {
        self.ctx.id
    }

    /// Tells the dispatcher this slot is free again — but only if a request is waiting for a
    /// free worker (the dispatcher's `waiting` gauge): otherwise nobody needs waking, and the
    /// pong marker in the slot says it all. A waiter raises the gauge *before* its last look
    /// at the slots and we read it *after* making the slot idle (both sequentially
    /// consistent), so a waiter either sees this slot idle or gets this notice.
    pub fn send_pong_if_awaited(&self, ping: u64) {
        let waiting = self
            .ctx
            .segment
            .record(RecordId::Dispatcher)
            .waiting
            .load(std::sync::atomic::Ordering::SeqCst);
        if waiting > 0 {
            self.send_pong(ping);
        }
    }

    /// Tells the dispatcher this slot is free again (assignment `ping` over, or just ready).
    pub fn send_pong(&self, ping: u64) {
        let notice = Notice {
            kind: NoticeKind::Pong,
            slot: self.settings.slot as u32,
            pid: self.ctx.pid,
            marker: ping as u32,
        };
        if let Err(e) = self.dispatcher.send(&notice) {
            log::debug!("pong notice not sent ({e}); the dispatcher will see the slot anyway");
        }
    }
}

/// Serves until a termination signal: `listener` is already bound (tests bind port 0).
pub fn run(listener: TcpListener, worker: &Worker) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listening address", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("making the listener non-blocking", e))?;
    worker.ctx.announce_ready(local)?;
    worker.send_pong(0);
    log::info!("ready on {local}{}", reach(local));
    let seg = &worker.ctx.segment;
    let timeout = PollTimeout::try_from(TICK.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(worker.ctx.signals.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::nix("poll", e)),
        }
        let connection_waiting = readable(&fds[0]);
        let signalled = readable(&fds[1]);
        seg.heartbeat(worker.id());
        if signalled && worker.ctx.termination_requested() {
            worker.ctx.mark_stopping();
            return Ok(());
        }
        read_pings(worker);
        if connection_waiting {
            serve_pending(&listener, worker);
        }
        // One read of our record per turn serves both checks.
        let own = seg.read(worker.id());
        expire_stale_assignment(worker, &own);
        worker.ctx.verify_identity(local, &own);
    }
}

/// Serves every connection waiting in the accept queue, one after the other. While
/// connections keep arriving the loop does not return to `poll`, so it stamps the heartbeat
/// after each one (a busy worker must not look frozen to the dispatcher or the watchdog).
fn serve_pending(listener: &TcpListener, worker: &Worker) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                serve::connection(worker, stream, peer);
                worker.ctx.segment.heartbeat(worker.id());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE, ECONNABORTED…: log and retry on the next turn.
                log::warn!("accept failed: {e}");
                return;
            }
        }
    }
}

/// How far a listening address reaches, for the start-up log line.
fn reach(local: std::net::SocketAddr) -> &'static str {
    if local.ip().is_loopback() {
        " (loopback only)"
    } else {
        " (REACHABLE FROM OTHER MACHINES)"
    }
}

fn readable(fd: &PollFd<'_>) -> bool {
    fd.revents()
        .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLERR | PollFlags::POLLHUP))
}

/// Reads the ping notices the dispatcher wrote, without ever waiting for them: the client's
/// connection, a few microseconds behind its ping, wakes the worker anyway, so a wake-up per
/// ping would be pure cost. They are checked against the slot and logged when out of place.
fn read_pings(worker: &Worker) {
    let ping = worker
        .ctx
        .segment
        .record(worker.id())
        .ping
        .load(std::sync::atomic::Ordering::SeqCst);
    for n in worker.notices.drain() {
        if n.kind != NoticeKind::Ping || n.slot as usize != worker.settings.slot {
            log::warn!("ignoring a notice not meant for this slot: {n:?}");
        } else if n.marker != ping as u32 {
            log::debug!("ping {} read after the slot moved to {ping}", n.marker);
        }
    }
}

/// Cancels an assignment whose client never came, so the slot is not lost to it.
fn expire_stale_assignment(worker: &Worker, view: &RecordView) {
    let seg = &worker.ctx.segment;
    let timeout_ms = worker.settings.client_timeout.as_millis() as u64;
    let now = clock::monotonic_ms();
    // Lock-free look first (`view`): the guard is only taken when there is something to cancel.
    let pending = view.state() == Some(ProcState::Assigned);
    if !pending || now.saturating_sub(view.assigned_ms) <= timeout_ms {
        return;
    }
    let Ok(guard) = seg.lock(GUARD_TIMEOUT) else {
        return;
    };
    if let Some(ping) = guard.expired_assignment(worker.id(), now, timeout_ms) {
        guard.finish_assignment(worker.id(), ping);
        drop(guard);
        seg.record(worker.id())
            .failed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        log::warn!("assignment {ping} expired: its client never connected within {timeout_ms} ms");
        worker.send_pong_if_awaited(ping);
    }
}
