//! The workers one control connection has reserved and not used yet, bounded
//! (`--max-reservations`): one connection asking for port after port without ever connecting
//! to them could otherwise hold the whole pool, each reservation until its client timeout.

use std::sync::atomic::Ordering::SeqCst;

use kennel_common::layout::ProcState;
use kennel_common::segment::{Claim, RecordId, Segment};

/// A connection's outstanding reservations.
pub struct Reservations {
    held: Vec<Claim>,
    max: usize,
}

impl Reservations {
    pub fn new(max: usize) -> Reservations {
        Reservations {
            held: Vec::new(),
            max,
        }
    }

    /// Remembers a worker handed to this connection.
    pub fn add(&mut self, claim: Claim) {
        self.held.push(claim);
    }

    /// How many reservations are still unused, if that is the limit (no new one then).
    /// Unused means the worker still waits for its client (state Assigned, this ping): one
    /// the client reached (Busy), finished, that expired or whose worker restarted no longer
    /// counts — so a client that uses its workers, even one retrying after failures, never
    /// meets the limit; only one that never connects does.
    pub fn at_limit(&mut self, seg: &Segment) -> Option<usize> {
        self.held.retain(|c| {
            let r = seg.record(RecordId::Worker(c.slot));
            r.ping.load(SeqCst) == c.ping && r.state.load(SeqCst) == ProcState::Assigned as u32
        });
        (self.held.len() >= self.max).then_some(self.held.len())
    }
}
