//! Choosing a worker for a request: claim an idle slot under the guard at once, or join a
//! first-come-first-served queue that is served the moment a slot frees up.
//!
//! The queue is served by whichever thread learns of a free slot — the main thread when a
//! worker's pong notice arrives, or the request's own thread right after it joined — and that
//! thread writes the answer to the waiting client's socket itself. The waiting request's
//! thread is not on that path, and does not even sleep on it (see `Pending`): a freed slot
//! reaches the next client in one wake-up (the dispatcher's main thread), not two, and there
//! is no herd of waiters re-checking the slots.
//!
//! Workers send pong notices only while the queue is not empty (the `waiting` gauge in the
//! dispatcher's record, see `kennel_worker::Worker::send_pong_if_awaited`). A request raises
//! the gauge when it joins the queue and *then* looks at the slots once more; a worker makes
//! its slot idle and *then* reads the gauge: either the request sees the slot, or the worker
//! sees the gauge. No freed slot is missed.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use kennel_common::clock;
use kennel_common::layout::ProcState;
use kennel_common::notice::{Notice, NoticeKind};
use kennel_common::protocol::{busy_answer, worker_answer, AnswerStyle, RequestType};
use kennel_common::segment::Claim;
use kennel_common::segment::{RecordId, GUARD_TIMEOUT};

use crate::Dispatcher;

/// Set once a queued request has been answered by another thread.
#[derive(Default)]
struct Handoff {
    answered: Mutex<bool>,
    cond: Condvar,
    /// The worker the serving thread gave it (for the connection's reservation count).
    claim: Mutex<Option<Claim>>,
}

impl Handoff {
    fn set(&self, claim: Claim) {
        *self.claim.lock().unwrap_or_else(|p| p.into_inner()) = Some(claim);
        *self.answered.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cond.notify_one();
    }

    fn claim(&self) -> Option<Claim> {
        *self.claim.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_set(&self) -> bool {
        *self.answered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until answered or `deadline`; true if answered.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut done = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            done = match self.cond.wait_timeout(done, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }
}

/// A request waiting for an idle worker.
struct Waiter {
    /// A second handle on the client's socket, to write the answer from another thread.
    stream: TcpStream,
    client: SocketAddr,
    request: RequestType,
    style: AnswerStyle,
    token: u64,
    handoff: Arc<Handoff>,
}

/// The requests waiting for an idle worker, oldest first.
#[derive(Default)]
pub struct Queue {
    waiters: Mutex<VecDeque<Waiter>>,
}

/// What the request's own thread must do after `dispatch`.
pub enum Dispatched {
    /// Write this answer (the port, or `-1`), then, if a worker was claimed, call
    /// `notify_worker` with the claim: the client gets its port before the ping is written.
    Answer {
        bytes: Vec<u8>,
        claim: Option<Claim>,
    },
    /// The request is in the queue; whoever frees a worker writes its answer. The
    /// connection's thread goes back to reading and settles this before it writes anything
    /// else on the connection, or when the queue timeout comes.
    Queued(Pending),
}

/// A queued request, as its connection's thread holds it.
///
/// The thread does not sleep on the request: it returns to reading its socket (which it must
/// do anyway for the client's next request), so answering a queued request from the main
/// thread wakes nobody but the client. The connection's thread comes back to it only when
/// it has something else to write, when the queue timeout is up, at end-of-file (settled:
/// the client may have only half-closed), or when the connection fails (cancelled).
pub struct Pending {
    handoff: Arc<Handoff>,
    client: SocketAddr,
    style: AnswerStyle,
    /// The queue timeout: no worker by then, the answer is `-1`.
    pub deadline: Instant,
}

impl Pending {
    /// True once another thread has written the answer.
    pub fn is_answered(&self) -> bool {
        self.handoff.is_set()
    }

    /// The worker another thread gave this request, once answered.
    pub fn claim(&self) -> Option<Claim> {
        self.handoff.claim()
    }

    /// Resolves the request: waits (until its deadline) for a worker; if none came, takes
    /// the request out of the queue and returns the `-1` answer for the caller to write. A
    /// request a serving thread took in the meantime is waited for, never answered twice.
    pub fn settle(&self, d: &Dispatcher) -> Option<Vec<u8>> {
        if self.handoff.wait_until(self.deadline) {
            return None;
        }
        if !self.leave_queue(d) {
            // A serving thread holds it and is writing its answer right now.
            self.handoff
                .wait_until(Instant::now() + Duration::from_secs(5));
            return None;
        }
        d.ctx
            .segment
            .record(RecordId::Dispatcher)
            .busy
            .fetch_add(1, SeqCst);
        log::warn!(
            "no idle worker for {} within the queue timeout: -1",
            self.client
        );
        Some(busy_answer(self.style.framing))
    }

    /// The connection failed: its request leaves the queue, so no worker is claimed for a
    /// client that cannot be answered.
    pub fn cancel(self, d: &Dispatcher) {
        if self.leave_queue(d) {
            log::debug!("{}: connection failed while queued", self.client);
        }
    }

    /// Removes this request from the queue; false if a serving thread already took it.
    fn leave_queue(&self, d: &Dispatcher) -> bool {
        let mut q = d.queue.waiters.lock().unwrap_or_else(|p| p.into_inner());
        match q
            .iter()
            .position(|w| Arc::ptr_eq(&w.handoff, &self.handoff))
        {
            Some(i) => {
                q.remove(i);
                d.ctx
                    .segment
                    .record(RecordId::Dispatcher)
                    .waiting
                    .store(q.len() as u64, SeqCst);
                true
            }
            None => false,
        }
    }
}

/// Finds a worker for `client`'s `request`: at once if one is idle and nobody is queued,
/// else through the queue, for at most the queue timeout.
pub fn dispatch(
    d: &Dispatcher,
    stream: &TcpStream,
    client: SocketAddr,
    request: RequestType,
    style: AnswerStyle,
) -> Dispatched {
    let started = Instant::now();
    let record = d.ctx.segment.record(RecordId::Dispatcher);
    let token = if d.settings.require_token {
        d.new_token()
    } else {
        0
    };
    if record.waiting.load(SeqCst) == 0 {
        if let Some(c) = try_claim(d, client, request, token) {
            return Dispatched::Answer {
                bytes: answer_for(d, c, token, style),
                claim: Some(c),
            };
        }
    }
    let handoff = Arc::new(Handoff::default());
    let joined = stream.try_clone().map(|stream| Waiter {
        stream,
        client,
        request,
        style,
        token,
        handoff: Arc::clone(&handoff),
    });
    let waiter = match joined {
        Ok(w) => w,
        Err(e) => {
            log::error!("cannot queue {client}: {e}");
            record.busy.fetch_add(1, SeqCst);
            return Dispatched::Answer {
                bytes: busy_answer(style.framing),
                claim: None,
            };
        }
    };
    {
        let mut q = d.queue.waiters.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back(waiter);
        record.waiting.store(q.len() as u64, SeqCst);
    }
    serve_queue(d);
    Dispatched::Queued(Pending {
        handoff,
        client,
        style,
        deadline: started + d.settings.queue_timeout,
    })
}

/// Gives idle workers to queued requests, oldest first, writing each answer itself.
///
/// The queue's lock is held to pick the oldest request and claim its worker, not to write
/// its answer or the ping: requests joining the queue meanwhile do not wait behind socket
/// and FIFO writes. (Two serving threads never write to one client: a connection has at most
/// one request queued at a time, see `Pending`.)
pub fn serve_queue(d: &Dispatcher) {
    let record = d.ctx.segment.record(RecordId::Dispatcher);
    loop {
        let started = Instant::now();
        let (mut w, c) = {
            let mut q = d.queue.waiters.lock().unwrap_or_else(|p| p.into_inner());
            let Some(w) = q.front() else {
                return;
            };
            let Some(c) = try_claim(d, w.client, w.request, w.token) else {
                return;
            };
            let w = q.pop_front().expect("front exists");
            record.waiting.store(q.len() as u64, SeqCst);
            (w, c)
        };
        let bytes = answer_for(d, c, w.token, w.style);
        send_without_blocking(&mut w, &bytes);
        d.ctx.segment.record_dispatch_time(started.elapsed());
        notify_worker(d, c);
        w.handoff.set(c);
    }
}

/// Writes a queued request's answer without ever blocking the thread serving the queue: a
/// client whose socket buffer is full (it sent requests without reading the answers) is cut
/// off instead. Either way its reservation expires at the worker, as for any client that
/// leaves.
fn send_without_blocking(w: &mut Waiter, bytes: &[u8]) {
    use nix::sys::socket::{send, MsgFlags};
    use std::os::fd::AsRawFd;
    match send(
        w.stream.as_raw_fd(),
        bytes,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
    ) {
        Ok(n) if n == bytes.len() => {}
        Ok(_) | Err(nix::errno::Errno::EAGAIN) => {
            log::warn!(
                "{} does not read its answers: closing its connection",
                w.client
            );
            let _ = w.stream.shutdown(std::net::Shutdown::Both);
        }
        Err(e) => log::debug!("{} left before its answer: {e}", w.client),
    }
}

/// One look at the slots under the guard; claims the first idle worker (round robin).
///
/// The guard is taken only if some slot looks idle without it (plain atomic loads): when every
/// worker is busy — the normal state of a saturated pool — a request costs no semaphore
/// operation, and the workers do not queue behind the dispatcher for the guard. A slot that
/// turns idle just after this look is not missed: see the module docs.
fn try_claim(
    d: &Dispatcher,
    client: SocketAddr,
    request: RequestType,
    token: u64,
) -> Option<Claim> {
    let seg = &d.ctx.segment;
    let looks_idle = (0..seg.workers())
        .any(|k| seg.record(RecordId::Worker(k)).state.load(SeqCst) == ProcState::Idle as u32);
    if !looks_idle {
        return None;
    }
    let started = Instant::now();
    let claim = match seg.lock(GUARD_TIMEOUT) {
        Ok(guard) => {
            let start = d.cursor.load(SeqCst);
            guard.claim_idle_worker(start, client, request, clock::monotonic_ms(), token)
        }
        Err(e) => {
            log::error!("cannot dispatch: {e}");
            None
        }
    };
    seg.record(RecordId::Dispatcher)
        .dispatch_ns
        .fetch_add(started.elapsed().as_nanos() as u64, SeqCst);
    claim
}

/// The answer naming the claimed worker (and the bookkeeping that must precede it).
fn answer_for(d: &Dispatcher, c: Claim, token: u64, style: AnswerStyle) -> Vec<u8> {
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
