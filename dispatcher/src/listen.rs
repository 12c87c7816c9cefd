//! The dispatcher's main thread: polls the control listener, the pong FIFO and its shutdown,
//! stamps the heartbeat at least every `TICK`, accepts connections (each served by a small
//! thread of its own, `control.rs`, within the connection caps) and serves the queue of
//! waiting requests whenever a worker may have become free (`assign.rs`).

use std::net::TcpListener;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Instant;

use kennel_common::child::TICK;
use kennel_common::notice::NoticeKind;
use kennel_common::segment::RecordId;
use kennel_common::shutdown::Shutdown;
use kennel_common::{Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::state::Dispatcher;
use crate::{accept, assign};

/// Serves until `shutdown` fires. `listener` is already bound by the caller (the binary binds
/// the control port; an in-process test binds port 0).
pub fn run(listener: TcpListener, dispatcher: Arc<Dispatcher>, shutdown: &Shutdown) -> Result<()> {
    let local = dispatcher.ctx.go_live(&listener)?;
    log::info!(
        "ready on {local} ({}; {} worker slots, queue timeout {} ms)",
        if local.ip().is_loopback() {
            "loopback only"
        } else {
            "reachable from other machines"
        },
        dispatcher.ctx.segment.workers(),
        dispatcher.settings.queue_timeout.as_millis()
    );
    if !local.ip().is_loopback() {
        log::warn!("listening on {local}, which is reachable from other machines");
    }
    let timeout = PollTimeout::try_from(TICK.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    // Out of file descriptors: the listener is left out of the poll for a moment, so a full
    // accept queue is not a busy loop.
    let mut paused_until: Option<Instant> = None;
    loop {
        let listening = paused_until.is_none_or(|t| Instant::now() >= t);
        let mut fds = [
            PollFd::new(
                listener.as_fd(),
                if listening {
                    PollFlags::POLLIN
                } else {
                    PollFlags::empty()
                },
            ),
            PollFd::new(dispatcher.pongs.as_fd(), PollFlags::POLLIN),
            PollFd::new(shutdown.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::nix("poll", e)),
        }
        let readable = |fd: &PollFd<'_>| {
            fd.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLERR | PollFlags::POLLHUP)
            })
        };
        let (connecting, pongs, signalled) =
            (readable(&fds[0]), readable(&fds[1]), readable(&fds[2]));
        dispatcher.ctx.segment.heartbeat(RecordId::Dispatcher);
        if signalled && dispatcher.ctx.should_stop(shutdown) {
            return Ok(());
        }
        if pongs {
            for n in dispatcher.pongs.drain() {
                let slot_ok = dispatcher
                    .ctx
                    .segment
                    .worker_id(u64::from(n.slot))
                    .is_some();
                if n.kind != NoticeKind::Pong || !slot_ok {
                    kennel_common::logging::warn_limited(
                        "pong-fifo",
                        format_args!("ignoring an unexpected notice on the pong FIFO: {n:?}"),
                    );
                }
            }
        }
        if connecting && listening {
            paused_until = match accept::accept_all(&listener, &dispatcher) {
                accept::Outcome::Drained => None,
                accept::Outcome::OutOfDescriptors => Some(Instant::now() + accept::PAUSE),
            };
        }
        // A pong only wakes this loop; the queue is served whenever it is not empty, so a
        // pong lost to a full pipe delays a waiter by one tick at most.
        if dispatcher
            .ctx
            .segment
            .record(RecordId::Dispatcher)
            .waiting
            .load(SeqCst)
            > 0
        {
            assign::serve_queue(&dispatcher);
        }
        let own = dispatcher.ctx.segment.read(RecordId::Dispatcher);
        dispatcher.ctx.verify_identity(local, &own);
    }
}
