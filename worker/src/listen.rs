//! The worker's main loop: polls the listening socket and its shutdown, stamps the heartbeat
//! at least every `TICK` (so a frozen worker is visible to the watchdog), hands each waiting
//! connection to a thread of its own (up to `--max-tasks` are served at once; the slot says
//! when it is full), reads stray ping notices and cancels an assignment whose client never
//! came. At shutdown it waits for the threads: each is bounded by its own deadlines.

use std::net::TcpListener;
use std::os::fd::AsFd;

use kennel_common::child::TICK;
use kennel_common::layout::ProcState;
use kennel_common::notice::NoticeKind;
use kennel_common::segment::{RecordView, GUARD_TIMEOUT};
use kennel_common::shutdown::Shutdown;
use kennel_common::{clock, Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::serve;
use crate::state::Worker;

/// Serves until `shutdown` fires. `listener` is already bound by the caller (the binary binds
/// the slot's port; an in-process test binds port 0).
pub fn run(listener: TcpListener, worker: &Worker, shutdown: &Shutdown) -> Result<()> {
    worker.ctx.segment.lock(GUARD_TIMEOUT)?.set_offer(
        worker.id(),
        worker.settings.max_tasks,
        worker.runner.offer_bits(),
    );
    let local = worker.ctx.go_live(&listener)?;
    worker.send_pong(0);
    log::info!(
        "ready on {local}{}, up to {} tasks at once; {}",
        reach(local),
        worker.settings.max_tasks,
        worker.runner.describe()
    );
    std::thread::scope(|threads| serve_until_stopped(&listener, worker, shutdown, local, threads))
}

fn serve_until_stopped<'s>(
    listener: &'s TcpListener,
    worker: &'s Worker,
    shutdown: &Shutdown,
    local: std::net::SocketAddr,
    threads: &'s std::thread::Scope<'s, '_>,
) -> Result<()> {
    let seg = &worker.ctx.segment;
    let timeout = PollTimeout::try_from(TICK.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(shutdown.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::nix("poll", e)),
        }
        let connection_waiting = readable(&fds[0]);
        let signalled = readable(&fds[1]);
        seg.heartbeat(worker.id());
        if signalled && worker.ctx.should_stop(shutdown) {
            return Ok(());
        }
        read_pings(worker);
        if connection_waiting {
            serve_pending(listener, worker, threads);
        }
        // One read of our record per turn serves both checks.
        let own = seg.read(worker.id());
        expire_stale_assignment(worker, &own);
        worker.ctx.verify_identity(local, &own);
    }
}

/// Hands every connection waiting in the accept queue to a thread of its own. At most
/// `--max-tasks` + `SPARE_THREADS` threads run at once: the spare ones answer, quickly, the
/// connections that are refused (not assigned, wrong token); past that a connection is told
/// the worker is busy.
fn serve_pending<'s>(
    listener: &'s TcpListener,
    worker: &'s Worker,
    threads: &'s std::thread::Scope<'s, '_>,
) {
    use std::sync::atomic::Ordering::SeqCst;
    let cap = worker.settings.max_tasks as usize + SPARE_THREADS;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if worker.in_flight.fetch_add(1, SeqCst) >= cap {
                    worker.in_flight.fetch_sub(1, SeqCst);
                    serve::say_error(&stream, "busy: too many connections to this worker");
                    continue;
                }
                let spawned = std::thread::Builder::new()
                    .name(format!("conn-{peer}"))
                    .spawn_scoped(threads, move || {
                        serve::connection(worker, stream, peer);
                        worker.in_flight.fetch_sub(1, SeqCst);
                    });
                if let Err(e) = spawned {
                    worker.in_flight.fetch_sub(1, SeqCst);
                    log::error!("no thread for {peer}: {e}");
                }
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

/// Threads beyond `--max-tasks` for connections that are refused at once.
const SPARE_THREADS: usize = 8;

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
        guard.expire_assignment(worker.id(), ping);
        drop(guard);
        seg.record(worker.id())
            .failed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        log::warn!("assignment {ping} expired: its client never connected within {timeout_ms} ms");
        worker.send_pong_if_awaited(ping);
    }
}
