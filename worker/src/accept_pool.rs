//! The worker's loops. A pool of `--max-tasks` + `SPARE_THREADS` threads each block in
//! `accept` on the listening socket (the kernel wakes one per connection: no hand-off between
//! threads, no thread started per request) and serve what they accept; the slot says when the
//! worker is full. The main thread polls the shutdown, stamps the heartbeat at least every
//! `TICK` (so a frozen worker is visible to the watchdog), reads stray ping notices, cancels an
//! assignment whose client never came and checks our record. At shutdown the pool finishes
//! what it serves (each connection bounded by its own deadlines) and leaves within a `TICK`.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use kennel_common::child::TICK;
use kennel_common::layout::ProcState;
use kennel_common::notice::NoticeKind;
use kennel_common::segment::{RecordView, GUARD_TIMEOUT};
use kennel_common::shutdown::Shutdown;
use kennel_common::{clock, Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::serve;
use crate::state::Worker;

/// Threads beyond `--max-tasks`, for the connections that are refused at once (not assigned,
/// wrong token) while the others serve.
const SPARE_THREADS: usize = 2;

/// Serves until `shutdown` fires. `listener` is already bound by the caller (the binary binds
/// the slot's port; an in-process test binds port 0).
pub fn run(listener: TcpListener, worker: &Worker, shutdown: &Shutdown) -> Result<()> {
    worker.ctx.segment.lock(GUARD_TIMEOUT)?.set_offer(
        worker.id(),
        worker.settings.max_tasks,
        worker.runner.offer_bits(),
        worker.runner.limits_mode().encode(),
    );
    let local = worker.ctx.go_live(&listener)?;
    // Blocking accepts that give up every TICK, so the pool sees a stop in time.
    listener
        .set_nonblocking(false)
        .map_err(|e| Error::io("making the listener blocking", e))?;
    nix::sys::socket::setsockopt(
        &listener,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(0, TICK.as_micros() as i64),
    )
    .map_err(|e| Error::nix("setting the accept timeout", e))?;
    worker.send_pong(0);
    log::info!(
        "ready on {local}{}, up to {} tasks at once",
        reach(local),
        worker.settings.max_tasks
    );
    let stop = AtomicBool::new(false);
    std::thread::scope(|pool| {
        for k in 0..worker.settings.max_tasks as usize + SPARE_THREADS {
            let spawned = std::thread::Builder::new()
                .name(format!("serve-{k}"))
                .spawn_scoped(pool, || accept_loop(&listener, worker, &stop));
            if let Err(e) = spawned {
                log::error!("serving thread {k} not started: {e}");
            }
        }
        // Once serving: the runner's cgroups are set up here, off the path to readiness, and
        // its sandboxes start being made in advance.
        log::info!("{}", worker.runner.describe());
        worker.runner.warm();
        let result = supervise_self(worker, shutdown, local);
        stop.store(true, SeqCst);
        result
    })
}

/// One thread of the pool: accept, serve, again, until `stop`.
fn accept_loop(listener: &TcpListener, worker: &Worker, stop: &AtomicBool) {
    while !stop.load(SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => serve::connection(worker, stream, peer),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                // EMFILE, ECONNABORTED…: say so, and back off one tick rather than spin.
                kennel_common::logging::warn_limited("accept", format_args!("accept failed: {e}"));
                std::thread::sleep(TICK);
            }
        }
    }
}

/// The main thread's loop: heartbeat, shutdown, pings, expired assignments, our record.
fn supervise_self(worker: &Worker, shutdown: &Shutdown, local: std::net::SocketAddr) -> Result<()> {
    let seg = &worker.ctx.segment;
    let timeout = PollTimeout::try_from(TICK.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    loop {
        // Not the ping FIFO: the client's connection follows its ping within microseconds and
        // wakes a serving thread anyway, so pings are read (and checked) once per turn.
        let mut fds = [PollFd::new(shutdown.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::nix("poll", e)),
        }
        let signalled = readable(&fds[0]);
        seg.heartbeat(worker.id());
        if signalled {
            if let Some(why) = shutdown.requested() {
                log::info!("received {why}: stopping (after any client on its way)");
                drain(worker);
                return Ok(());
            }
        }
        read_pings(worker);
        // One read of our record per turn serves both checks.
        let own = seg.read(worker.id());
        expire_stale_assignment(worker, &own);
        worker.ctx.verify_identity(local, &own);
    }
}

/// Before stopping: takes no new assignment, but serves the one whose client is already on
/// its way (the dispatcher answered it our port), within the client timeout — a drained or
/// restarted worker fails nobody. The pool serves meanwhile; the heartbeat goes on. When the
/// whole instance stops, nobody will be served any more: a reservation whose client has not
/// come is dropped at once, so a normal stop never waits out the grace period into a SIGKILL.
fn drain(worker: &Worker) {
    let seg = &worker.ctx.segment;
    let until = std::time::Instant::now() + worker.settings.client_timeout;
    loop {
        seg.heartbeat(worker.id());
        if seg
            .header()
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
            != 0
        {
            drop_reservation(worker);
        }
        let stopping = seg
            .lock(GUARD_TIMEOUT)
            .map(|g| g.set_stopping_unless_assigned(worker.id()))
            .unwrap_or(true);
        if stopping || std::time::Instant::now() >= until {
            return;
        }
        // No event announces a client's arrival to this thread: look again shortly.
        std::thread::sleep(std::time::Duration::from_millis(5));
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
            kennel_common::logging::warn_limited(
                "ping-fifo",
                format_args!("ignoring a notice not meant for this slot: {n:?}"),
            );
        } else if n.marker != ping as u32 {
            log::debug!("ping {} read after the slot moved to {ping}", n.marker);
        }
    }
}

/// At the instance's stop: cancels a reservation whose client never came, and says so.
fn drop_reservation(worker: &Worker) {
    // Any age counts: expired "now + 1 ms" is any assignment still waiting.
    if let Some(ping) = cancel_assignment(worker, clock::monotonic_ms() + 1, 0) {
        log::info!("dropped assignment {ping} at stop: its client had not connected");
    }
}

/// Cancels an assignment whose client never came, so the slot is not lost to it.
fn expire_stale_assignment(worker: &Worker, view: &RecordView) {
    let timeout_ms = worker.settings.client_timeout.as_millis() as u64;
    let now = clock::monotonic_ms();
    // Lock-free look first (`view`): the guard is only taken when there is something to cancel.
    let pending = view.state() == Some(ProcState::Assigned);
    if !pending || now.saturating_sub(view.assigned_ms) <= timeout_ms {
        return;
    }
    if let Some(ping) = cancel_assignment(worker, now, timeout_ms) {
        worker
            .ctx
            .segment
            .record(worker.id())
            .failed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        log::warn!("assignment {ping} expired: its client never connected within {timeout_ms} ms");
    }
}

/// Cancels this slot's assignment if it is older than `timeout_ms` at `now_ms`, under the
/// guard, and answers the dispatcher's ping for it; returns the cancelled ping.
fn cancel_assignment(worker: &Worker, now_ms: u64, timeout_ms: u64) -> Option<u64> {
    let guard = worker.ctx.segment.lock(GUARD_TIMEOUT).ok()?;
    let ping = guard.expired_assignment(worker.id(), now_ms, timeout_ms)?;
    guard.expire_assignment(worker.id(), ping);
    drop(guard);
    worker.send_pong_if_awaited(ping);
    Some(ping)
}
