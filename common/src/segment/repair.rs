//! The repairs of the records: the watchdog puts back what it alone writes, and any record a
//! dead writer left half-written or holding impossible values is made sound again (the
//! transitions themselves are in `transitions.rs`).

use std::sync::atomic::Ordering::SeqCst;

use super::transitions::{cancel_assignment, set_state, WatchdogFields};
use super::{Guard, RecordId};
use crate::layout::{KillReason, ProcState, Supervision};
use crate::protocol::RequestKind;

impl Guard<'_> {
    /// Watchdog only: rewrites every field it alone writes that differs from what it knows
    /// (`truth`), and resets a kill reason that is no code. Returns what was restored.
    pub fn restore_watchdog_fields(&self, id: RecordId, truth: &WatchdogFields) -> Vec<String> {
        let r = self.segment().record(id);
        let mut fixed = Vec::new();
        let (sup, reason) = (r.supervision.load(SeqCst), r.fatal_reason.load(SeqCst));
        if sup != truth.supervision as u32 || reason != truth.fatal_reason as u32 {
            fixed.push(format!(
                "supervision state (found codes {sup}/{reason}, is {})",
                truth.supervision.name()
            ));
            self.set_supervision(id, truth.supervision, truth.fatal_reason);
        }
        let restarts = r.restarts.load(SeqCst);
        if restarts != truth.restarts {
            fixed.push(format!("restart count ({restarts} -> {})", truth.restarts));
            self.write(id, |r| r.restarts.store(truth.restarts, SeqCst));
        }
        let pid = r.pid.load(SeqCst);
        if let Some(want) = truth.pid.filter(|want| *want != pid) {
            fixed.push(format!("pid ({pid} -> {want})"));
            self.set_pid(id, want);
        }
        let kill = r.kill_reason.load(SeqCst);
        if KillReason::from_code(kill).is_none() {
            fixed.push(format!("kill reason (code {kill})"));
            self.write(id, |r| r.kill_reason.store(KillReason::None as u32, SeqCst));
        }
        fixed
    }

    /// Repairs every damaged record — left half-written by a writer that died (odd `seq`), or
    /// holding values no writer of ours produces (unknown codes, more than one assignment
    /// open, an assignment without a valid request type): any assignment in it is cancelled
    /// (the client will ask again), codes out of range are reset, and `seq` is made even.
    /// Returns the repaired records and why each was repaired.
    pub fn repair_damaged(&self) -> Vec<(RecordId, &'static str)> {
        let seg = self.segment();
        let damaged: Vec<(RecordId, &'static str)> = seg
            .ids()
            .filter_map(|id| damage(self, id).map(|why| (id, why)))
            .collect();
        for (id, _) in &damaged {
            self.write(*id, |r| {
                cancel_assignment(r);
                let state = ProcState::from_code(r.state.load(SeqCst));
                if matches!(state, None | Some(ProcState::Assigned | ProcState::Busy)) {
                    set_state(r, ProcState::Idle);
                }
                if Supervision::from_code(r.supervision.load(SeqCst)).is_none() {
                    r.supervision.store(Supervision::Running as u32, SeqCst);
                }
            });
        }
        damaged
    }
}

/// Why `id`'s record needs repair, if it does.
fn damage(g: &Guard<'_>, id: RecordId) -> Option<&'static str> {
    if g.is_torn(id) {
        return Some("left half-written by a dead writer");
    }
    let r = g.segment().record(id);
    let state = ProcState::from_code(r.state.load(SeqCst));
    if state.is_none() || Supervision::from_code(r.supervision.load(SeqCst)).is_none() {
        return Some("holding an unknown state code");
    }
    if r.ping.load(SeqCst).wrapping_sub(r.pong.load(SeqCst)) > 1 {
        return Some("holding impossible ping/pong markers");
    }
    let assigned = state == Some(ProcState::Assigned);
    if assigned && RequestKind::from_code(r.request_type.load(SeqCst)).is_none() {
        return Some("holding an assignment with an unknown request type");
    }
    None
}
