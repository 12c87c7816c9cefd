//! The requests waiting for an idle worker: first come, first served, each for at most the
//! queue timeout. Owned by the event loop alone (no lock): a waiter names its connection, and
//! whoever frees a worker — a pong notice, a request that joins, the loop's turn — lets the
//! loop give it to the oldest waiter and write that waiter's answer.
//!
//! Workers send pong notices only while the queue is not empty (the `waiting` gauge in the
//! dispatcher's record, see `kennel_worker::Worker::send_pong_if_awaited`). A request raises
//! the gauge when it joins the queue and *then* looks at the slots once more; a worker makes
//! its slot idle and *then* reads the gauge: either the request sees the slot, or the worker
//! sees the gauge. No freed slot is missed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use kennel_common::protocol::{AnswerStyle, RequestKind};
use kennel_common::segment::{Claim, RecordId};

use crate::assign::{answer_for, try_claim};
use crate::Dispatcher;

/// A request waiting for a worker.
#[derive(Debug, Clone)]
pub struct Waiter {
    /// The connection (its slab key and generation: a key reused by a later connection is
    /// not this one).
    pub conn: (usize, u64),
    pub client: SocketAddr,
    pub request: RequestKind,
    pub style: AnswerStyle,
    pub token: u64,
    /// No worker by then: the answer is `-1`.
    pub deadline: Instant,
}

/// A waiter given a worker: its answer to write, then the ping to send.
pub struct Served {
    pub waiter: Waiter,
    pub answer: Vec<u8>,
    pub claim: Claim,
    /// When the claim began (the dispatch time counted in the histogram ends at the write).
    pub started: Instant,
}

#[derive(Default)]
pub struct Queue {
    waiters: VecDeque<Waiter>,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    fn publish(&self, d: &Dispatcher) {
        d.ctx
            .segment
            .record(RecordId::Dispatcher)
            .waiting
            .store(self.waiters.len() as u64, SeqCst);
    }

    /// Joins the queue (and raises the gauge the workers read).
    pub fn push(&mut self, d: &Dispatcher, w: Waiter) {
        self.waiters.push_back(w);
        self.publish(d);
    }

    /// Gives the next idle worker to the oldest waiter, if there is one.
    pub fn serve_one(&mut self, d: &Dispatcher) -> Option<Served> {
        let started = Instant::now();
        let w = self.waiters.front()?;
        let claim = try_claim(d, w.client, w.request, w.token)?;
        let waiter = self.waiters.pop_front()?;
        self.publish(d);
        let answer = answer_for(d, claim, waiter.token, waiter.style);
        Some(Served {
            waiter,
            answer,
            claim,
            started,
        })
    }

    /// The earliest queue deadline (the oldest waiter's: all wait the same time).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiters.front().map(|w| w.deadline)
    }

    /// Takes out the waiters whose time is up, oldest first.
    pub fn expire(&mut self, d: &Dispatcher, now: Instant) -> Vec<Waiter> {
        let mut out = Vec::new();
        while self.waiters.front().is_some_and(|w| w.deadline <= now) {
            out.extend(self.waiters.pop_front());
        }
        if !out.is_empty() {
            self.publish(d);
        }
        out
    }

    /// Takes out the waiter of a connection that is gone, if any.
    pub fn cancel(&mut self, d: &Dispatcher, conn: (usize, u64)) -> bool {
        let before = self.waiters.len();
        self.waiters.retain(|w| w.conn != conn);
        let removed = self.waiters.len() != before;
        if removed {
            self.publish(d);
        }
        removed
    }
}
