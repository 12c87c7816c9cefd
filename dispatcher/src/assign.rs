//! Claiming a worker for a request: one look at the slots under the guard, the answer that
//! names the claimed worker, and the ping notice that follows it. Used for a request served at
//! once (`conn`) and for one served from the queue (`queue`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use kennel_common::clock;
use kennel_common::layout::ProcState;
use kennel_common::notice::{Notice, NoticeKind};
use kennel_common::protocol::{worker_answer, AnswerStyle, RequestKind};
use kennel_common::segment::{Claim, RecordId};

use crate::Dispatcher;

/// How long the event loop waits for the segment guard. Holders keep it for microseconds; one
/// frozen while holding it is killed by the watchdog for its silence. Until then a request
/// that cannot take the guard joins the queue rather than stall every other connection.
const GUARD_WAIT: Duration = Duration::from_millis(50);

/// One look at the slots under the guard; claims the least-loaded idle worker that offers
/// `request` (round robin among equals).
///
/// The guard is taken only if some slot looks idle without it (plain atomic loads): when every
/// worker is busy — the normal state of a saturated pool — a request costs no semaphore
/// operation, and the workers do not queue behind the dispatcher for the guard. A slot that
/// turns idle just after this look is not missed: see `queue`'s module docs.
pub fn try_claim(
    d: &Dispatcher,
    client: SocketAddr,
    request: RequestKind,
    token: u64,
) -> Option<Claim> {
    let seg = &d.ctx.segment;
    let looks_idle = (0..seg.workers())
        .any(|k| seg.record(RecordId::Worker(k)).state.load(SeqCst) == ProcState::Idle as u32);
    if !looks_idle {
        return None;
    }
    let started = std::time::Instant::now();
    let claim = match seg.lock(GUARD_WAIT) {
        Ok(guard) => {
            let start = d.cursor.load(SeqCst);
            guard.claim_idle_worker(start, client, request, clock::monotonic_ms(), token)
        }
        Err(e) => {
            kennel_common::logging::warn_limited(
                "dispatch-guard",
                format_args!("cannot dispatch now: {e}"),
            );
            None
        }
    };
    seg.record(RecordId::Dispatcher)
        .dispatch_ns
        .fetch_add(started.elapsed().as_nanos() as u64, SeqCst);
    claim
}

/// The answer naming the claimed worker (and the bookkeeping that must precede it).
pub fn answer_for(d: &Dispatcher, c: Claim, token: u64, style: AnswerStyle) -> Vec<u8> {
    d.cursor.store(c.slot + 1, SeqCst);
    d.ctx
        .segment
        .record(RecordId::Dispatcher)
        .served
        .fetch_add(1, SeqCst);
    worker_answer(c.port, token, style)
}

/// The ping notice to the worker, once the client has its answer: the worker does not need
/// it to serve, and the client should not wait for it.
pub fn notify_worker(d: &Dispatcher, c: Claim) {
    let ping = Notice {
        kind: NoticeKind::Ping,
        slot: c.slot as u32,
        pid: d.ctx.pid,
        marker: c.ping as u32,
    };
    if let Err(e) = d.worker_fifos[c.slot].send(&ping) {
        log::debug!("ping notice to slot {} not sent: {e}", c.slot);
    }
}

/// Whether `request` can be served: built-in types always; a language unless every running
/// worker has published what it offers and none offers it (while workers start, or when
/// none runs, the request waits in the queue as any other).
pub fn offered(d: &Dispatcher, request: RequestKind) -> bool {
    let Some(lang) = request.language() else {
        return true;
    };
    let seg = &d.ctx.segment;
    let bit = lang.bit();
    let mut running = (0..seg.workers())
        .map(|k| seg.read(RecordId::Worker(k)))
        .filter(|r| r.supervision() == Some(kennel_common::layout::Supervision::Running))
        .peekable();
    running.peek().is_none() || running.any(|r| r.capacity == 0 || r.languages & bit != 0)
}
