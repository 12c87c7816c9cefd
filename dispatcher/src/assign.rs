//! Choosing a worker for a request: claim an idle slot under the guard, or wait (bounded by the
//! queue timeout) for a pong notice that says one became free.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use kennel_common::clock;
use kennel_common::notice::{Notice, NoticeKind};
use kennel_common::protocol::RequestType;
use kennel_common::segment::{RecordId, GUARD_TIMEOUT};
use kennel_common::slots::Claim;

use crate::Dispatcher;

/// Re-check this often even without a pong notice: notices are hints and may be lost, and a
/// restarted worker becomes idle without one reaching a waiter in between.
const RECHECK: Duration = Duration::from_millis(100);

/// "A worker may have become idle": a generation counter under a mutex, with a condvar.
/// Reading the generation before looking at the slots means a pong that lands in between is
/// never missed.
#[derive(Default)]
pub struct IdleSignal {
    generation: Mutex<u64>,
    cond: Condvar,
}

impl IdleSignal {
    /// `freed` slots became idle: wake that many waiters (not all of them — with 60 requests
    /// queued for 4 workers, waking every waiter for each freed slot is a thundering herd).
    pub fn notify(&self, freed: usize) {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        *g = g.wrapping_add(1);
        for _ in 0..freed {
            self.cond.notify_one();
        }
    }

    fn current(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the generation moves past `seen`, or `timeout`.
    fn wait_past(&self, seen: u64, timeout: Duration) {
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .cond
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .map_err(|p| p.into_inner());
    }
}

/// The outcome of a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// Go to this worker port (with this one-time token, 0 when tokens are off).
    Worker {
        slot: usize,
        port: u16,
        token: u64,
        /// Time spent waiting for a worker to become idle.
        waited: Duration,
    },
    /// No worker became idle within the queue timeout.
    Busy,
}

/// Finds a worker for `client`'s `request`, waiting up to the queue timeout.
///
/// A request that finds no idle worker raises the `waiting` gauge in the dispatcher's record
/// *before* looking again: workers send a pong notice only while the gauge is up (see
/// `kennel_worker::Worker::send_pong_if_awaited`), so when nobody waits, finishing a request
/// costs no wake-up here.
pub fn dispatch(d: &Dispatcher, client: SocketAddr, request: RequestType) -> Dispatch {
    let record = d.ctx.segment.record(RecordId::Dispatcher);
    let deadline = Instant::now() + d.settings.queue_timeout;
    let token = if d.settings.require_token {
        d.new_token()
    } else {
        0
    };
    if let Some(c) = try_claim(d, client, request, token) {
        return answered(d, c, token, Duration::ZERO);
    }
    record.waiting.fetch_add(1, SeqCst);
    let wait_started = Instant::now();
    let outcome = loop {
        let seen = d.idle.current();
        if let Some(c) = try_claim(d, client, request, token) {
            break Some(c);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break None;
        }
        d.idle.wait_past(seen, left.min(RECHECK));
    };
    record.waiting.fetch_sub(1, SeqCst);
    match outcome {
        Some(c) => answered(d, c, token, wait_started.elapsed()),
        None => {
            record.busy.fetch_add(1, SeqCst);
            Dispatch::Busy
        }
    }
}

/// One look at the slots under the guard; claims the first idle worker (round robin).
fn try_claim(
    d: &Dispatcher,
    client: SocketAddr,
    request: RequestType,
    token: u64,
) -> Option<Claim> {
    let seg = &d.ctx.segment;
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

/// Bookkeeping after a claim: round-robin cursor, counter, ping notice to the worker.
fn answered(d: &Dispatcher, c: Claim, token: u64, waited: Duration) -> Dispatch {
    d.cursor.store(c.slot + 1, SeqCst);
    d.ctx
        .segment
        .record(RecordId::Dispatcher)
        .served
        .fetch_add(1, SeqCst);
    let ping = Notice {
        kind: NoticeKind::Ping,
        slot: c.slot as u32,
        pid: std::process::id(),
        marker: c.ping as u32,
    };
    if let Err(e) = d.worker_fifos[c.slot].send(&ping) {
        log::debug!("ping notice to slot {} not sent: {e}", c.slot);
    }
    Dispatch::Worker {
        slot: c.slot,
        port: c.port,
        token,
        waited,
    }
}
