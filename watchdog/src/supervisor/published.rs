//! What the supervisor says about its children: the supervision state it publishes in their
//! records, the pool's bounds, the poll's repair of the segment from what it knows for
//! certain, and the PID report.

use std::sync::atomic::Ordering::SeqCst;

use kennel_common::segment::{RecordId, WatchdogFields};

use super::{Supervisor, WATCHDOG_GUARD_TIMEOUT};
use crate::machine;

impl Supervisor<'_> {
    /// The pool's bounds, in the segment's header word (minimum high, maximum low).
    pub fn publish_bounds(&self) {
        let bounds = (self.settings.min_workers as u64) << 32 | self.settings.workers as u64;
        self.segment.header().pool_bounds.store(bounds, SeqCst);
    }

    /// Publishes every child's supervision state (at start: vacant slots have no transition
    /// to publish them).
    pub fn publish_all(&self) {
        for id in self.ids() {
            self.publish(id);
        }
    }

    /// Writes the supervision state derived from `id`'s life.
    pub(super) fn publish(&self, id: RecordId) {
        let (sup, reason) = machine::published(self.life(id));
        match self.segment.lock(WATCHDOG_GUARD_TIMEOUT) {
            Ok(g) => g.set_supervision(id, sup, reason),
            Err(e) => log::error!("{id}: could not publish its state ({}): {e}", sup.name()),
        }
    }

    /// The poll's repair pass: restores the header if anyone scribbled on it, repairs damaged
    /// records (half-written by a dead writer, or holding impossible values), and re-publishes
    /// any supervision state that differs from the one derived from the child's life.
    pub fn repair(&self) {
        if let Some(what) = self.segment.restore_semaphore_as_owner() {
            log::warn!("{what}");
        }
        for what in self.segment.restore_header_as_owner() {
            log::warn!("restored the segment header: {what}");
        }
        let g = match self.segment.lock(WATCHDOG_GUARD_TIMEOUT) {
            Ok(g) => g,
            Err(e) => {
                log::error!("poll: {e}");
                return;
            }
        };
        for (id, why) in g.repair_damaged() {
            log::warn!("repaired {id}'s record, {why}");
        }
        for id in self.ids() {
            for what in g.restore_watchdog_fields(id, &self.truth(id)) {
                log::warn!("restored {id}'s {what}");
            }
        }
    }

    /// What the watchdog knows for certain about `id`'s record: the fields it alone writes.
    fn truth(&self, id: RecordId) -> WatchdogFields {
        let life = self.life(id);
        let (supervision, fatal_reason) = machine::published(life);
        WatchdogFields {
            supervision,
            fatal_reason,
            restarts: life.restarts,
            pid: life.phase.pid().map(|p| p.as_raw() as u32),
        }
    }

    /// One line with every PID and state, for the periodic report.
    pub fn report(&self) -> String {
        let mut parts = vec![format!("watchdog {}", std::process::id())];
        for id in self.ids() {
            // Without --http the gateway's record is a placeholder, not a process.
            if id == RecordId::Gateway && self.settings.gateway.http.is_none() {
                continue;
            }
            let state = self.segment.read(id).display_state();
            let pid = self
                .life(id)
                .phase
                .pid()
                .map_or_else(|| "-".into(), |p| p.to_string());
            parts.push(format!("{id} {pid} ({state})"));
        }
        parts.join(", ")
    }
}
