//! The shared-memory protocol: every multi-field transition of a record, in one place.
//!
//! A worker slot moves through these states (who writes each arrow in brackets):
//!
//! ```text
//!   Starting ──set_offer, publish_ready [worker]──> Idle ──claim_idle_worker [dispatcher]──> Assigned
//!                                                    ^  ^    (ping += 1, client, type)           │
//!                         finish_task [worker]       │  └──── begin_service [worker] ───────────┤
//!                         (tasks -= 1)               │        (tasks += 1, pong = ping;         │
//!                                                    │         room left)                       │
//!                                                   Busy <─── begin_service (now full) ─────────┘
//!                                                            expire_assignment [worker]: Assigned ─> Idle
//!   any ──mark_dead [watchdog]──> Dead ──reset_for_spawn [watchdog]──> Starting
//! ```
//!
//! A worker serves up to `capacity` clients at once (`tasks` of them now): *Idle* means it has
//! room, *Busy* that it is full, *Assigned* that one client is on its way (at most one at a
//! time per slot). `ping != pong` means that assignment is outstanding; the client's arrival
//! (or the assignment's expiry) closes it. Every method runs under the guard and inside one
//! seqlock write, so a writer killed half-way leaves an odd `seq` that `repair_damaged` finds.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;

use super::endpoint::{load_endpoint, store_endpoint};
use super::{Guard, RecordId};
use crate::layout::{ExitCode, FatalReason, KillReason, ProcState, Record, Supervision};
use crate::protocol::RequestKind;

/// A worker whose heartbeat is older than this is not handed out, even if its slot says idle:
/// it stamps every 250 ms at most, so it is frozen or starved, and a client sent to it would
/// sit in its accept queue until the watchdog's hang timeout kills it.
pub const STALE_HEARTBEAT_MS: u64 = 1000;

/// The fields of a record the watchdog alone writes, as it knows them to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchdogFields {
    pub supervision: Supervision,
    pub fatal_reason: FatalReason,
    pub restarts: u32,
    /// The live process's pid, if one is alive.
    pub pid: Option<u32>,
}

/// What the dispatcher got from `claim_idle_worker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub slot: usize,
    pub port: u16,
    pub ping: u64,
}

/// The worker's verdict on an incoming connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The dispatcher sent this client here: serve `request` for assignment `ping`.
    Admitted { request: RequestKind, ping: u64 },
    /// No assignment is pending on this slot.
    NotAssigned,
    /// An assignment is pending, for another address.
    WrongPeer,
    /// The assignment is unreadable (bad type code or half-written): it was cancelled.
    Invalid,
    /// A token was required and the one presented is not this assignment's.
    BadToken,
}

pub(super) fn set_state(r: &Record, s: ProcState) {
    r.state.store(s as u32, SeqCst);
}

/// Whether the worker behind `r` serves `request`: every worker serves the built-in types; a
/// language only if its bit is published.
fn offers(r: &Record, request: RequestKind) -> bool {
    request
        .language()
        .is_none_or(|lang| r.languages.load(SeqCst) & lang.bit() != 0)
}

pub(super) fn cancel_assignment(r: &Record) {
    r.pong.store(r.ping.load(SeqCst), SeqCst);
    store_endpoint(&r.client, None);
    r.request_type.store(0, SeqCst);
    r.assigned_ms.store(0, SeqCst);
    r.token.store(0, SeqCst);
}

impl Guard<'_> {
    /// Watchdog, before spawning `id`'s process: a clean record in state Starting.
    pub fn reset_for_spawn(&self, id: RecordId, now_ms: u64, restarts: u32) {
        self.write(id, |r| {
            cancel_assignment(r);
            r.pid.store(0, SeqCst);
            store_endpoint(&r.endpoint, None);
            set_state(r, ProcState::Starting);
            r.supervision.store(Supervision::Starting as u32, SeqCst);
            r.fatal_reason.store(FatalReason::None as u32, SeqCst);
            r.restarts.store(restarts, SeqCst);
            r.waiting.store(0, SeqCst);
            r.connections.store(0, SeqCst);
            r.tasks.store(0, SeqCst);
            r.capacity.store(0, SeqCst);
            r.languages.store(0, SeqCst);
            r.limits.store(0, SeqCst);
            r.heartbeat_ms.store(now_ms, SeqCst);
            r.started_ms.store(now_ms, SeqCst);
        });
    }

    /// Watchdog, right after spawning: the new pid.
    pub fn set_pid(&self, id: RecordId, pid: u32) {
        self.write(id, |r| r.pid.store(pid, SeqCst));
    }

    /// Watchdog: its verdict on the process, with a reason when FATAL. A slot stopped or
    /// vacant has no process: its pid and what the process offered (tasks, capacity,
    /// languages, limits) are cleared, so no view shows a dead process's figures as live.
    pub fn set_supervision(&self, id: RecordId, sup: Supervision, reason: FatalReason) {
        self.write(id, |r| {
            r.supervision.store(sup as u32, SeqCst);
            r.fatal_reason.store(reason as u32, SeqCst);
            if matches!(sup, Supervision::Stopped | Supervision::Vacant) {
                r.pid.store(0, SeqCst);
                r.tasks.store(0, SeqCst);
                r.capacity.store(0, SeqCst);
                r.languages.store(0, SeqCst);
                r.limits.store(0, SeqCst);
            }
        });
    }

    /// Watchdog, after reaping `id`'s process: Dead and Down, endpoint withdrawn, assignment
    /// cancelled, exit status recorded.
    pub fn mark_dead(&self, id: RecordId, exit: ExitCode, killed_for: KillReason) {
        self.write(id, |r| {
            set_state(r, ProcState::Dead);
            r.supervision.store(Supervision::Down as u32, SeqCst);
            store_endpoint(&r.endpoint, None);
            cancel_assignment(r);
            r.tasks.store(0, SeqCst);
            r.last_exit.store(exit.encode(), SeqCst);
            r.kill_reason.store(killed_for as u32, SeqCst);
        });
    }

    /// A worker, before it is ready: how many clients it serves at once, which languages it
    /// runs (a `Language::bit` set) and how its runs are held to their limits.
    pub fn set_offer(&self, id: RecordId, capacity: u32, languages: u32, limits: u32) {
        self.write(id, |r| {
            r.capacity.store(capacity.max(1), SeqCst);
            r.languages.store(languages, SeqCst);
            r.limits.store(limits, SeqCst);
        });
    }

    /// A child, once it is ready: its pid and endpoint, state Idle, no task.
    pub fn publish_ready(&self, id: RecordId, endpoint: SocketAddr) {
        self.write(id, |r| {
            r.pid.store(std::process::id(), SeqCst);
            store_endpoint(&r.endpoint, Some(endpoint));
            cancel_assignment(r);
            r.tasks.store(0, SeqCst);
            set_state(r, ProcState::Idle);
            r.heartbeat_ms.store(crate::clock::monotonic_ms(), SeqCst);
        });
    }

    /// A child whose record was altered behind its back: its pid and endpoint again.
    pub fn restore_identity(&self, id: RecordId, endpoint: SocketAddr) {
        self.write(id, |r| {
            r.pid.store(std::process::id(), SeqCst);
            store_endpoint(&r.endpoint, Some(endpoint));
        });
    }

    /// A child, when it begins to stop.
    pub fn set_stopping(&self, id: RecordId) {
        self.write(id, |r| set_state(r, ProcState::Stopping));
    }

    /// A worker that is asked to stop: Stopping (no new assignment can be made) unless a
    /// client is on its way (Assigned), which it must serve first. True once Stopping.
    pub fn set_stopping_unless_assigned(&self, id: RecordId) -> bool {
        let r = self.segment().record(id);
        if r.state.load(SeqCst) == ProcState::Assigned as u32
            && r.ping.load(SeqCst) != r.pong.load(SeqCst)
        {
            return false;
        }
        self.set_stopping(id);
        true
    }

    /// Dispatcher: claims the least-loaded worker that has room and offers `request` (ties:
    /// the first at or after `start`, round robin), writing the ping marker and the
    /// assignment. Skips torn records, slots without a valid endpoint, and workers whose
    /// heartbeat is stale (frozen).
    pub fn claim_idle_worker(
        &self,
        start: usize,
        client: SocketAddr,
        request: RequestKind,
        now_ms: u64,
        token: u64,
    ) -> Option<Claim> {
        let seg = self.segment();
        let n = seg.workers();
        let mut best: Option<(u32, usize, u16)> = None;
        for i in 0..n {
            let slot = (start + i) % n;
            let id = RecordId::Worker(slot);
            if self.is_torn(id) {
                continue;
            }
            let r = seg.record(id);
            let tasks = r.tasks.load(SeqCst);
            let room = r.state.load(SeqCst) == ProcState::Idle as u32
                && r.supervision.load(SeqCst) == Supervision::Running as u32
                && r.ping.load(SeqCst) == r.pong.load(SeqCst)
                && tasks < r.capacity.load(SeqCst).max(1)
                && offers(r, request)
                && now_ms.saturating_sub(r.heartbeat_ms.load(SeqCst)) <= STALE_HEARTBEAT_MS;
            let port = load_endpoint(&r.endpoint).map(|e| e.port());
            if let (true, Some(port)) = (room, port) {
                if best.is_none_or(|(t, _, _)| tasks < t) {
                    best = Some((tasks, slot, port));
                }
                if tasks == 0 {
                    break; // nobody is less loaded than an empty worker
                }
            }
        }
        let (_, slot, port) = best?;
        let ping = self.write(RecordId::Worker(slot), |r| {
            let ping = r.ping.load(SeqCst).wrapping_add(1);
            store_endpoint(&r.client, Some(client));
            r.request_type.store(request.code(), SeqCst);
            r.assigned_ms.store(now_ms, SeqCst);
            r.token.store(token, SeqCst);
            r.ping.store(ping, SeqCst);
            set_state(r, ProcState::Assigned);
            ping
        });
        Some(Claim { slot, port, ping })
    }

    /// Worker: decides whether a connection from `peer` (presenting `token`, when tokens are
    /// required) is the client assigned to `slot`; if it is, the assignment is closed (pong)
    /// and counted as a task, and the slot is Idle again if it has room left, else Busy. A
    /// token is good for one connection.
    pub fn begin_service(&self, id: RecordId, peer: SocketAddr, token: Option<u64>) -> Admission {
        let r = self.segment().record(id);
        if self.is_torn(id) {
            self.write(id, |r| {
                cancel_assignment(r);
                set_state(r, ProcState::Idle);
            });
            return Admission::Invalid;
        }
        if r.state.load(SeqCst) != ProcState::Assigned as u32
            || r.ping.load(SeqCst) == r.pong.load(SeqCst)
        {
            return Admission::NotAssigned;
        }
        if load_endpoint(&r.client).map(|c| c.ip()) != Some(peer.ip()) {
            return Admission::WrongPeer;
        }
        if let Some(presented) = token {
            let expected = r.token.load(SeqCst);
            if expected == 0 || presented != expected {
                return Admission::BadToken;
            }
        }
        let Some(request) = RequestKind::from_code(r.request_type.load(SeqCst)) else {
            self.write(id, |r| {
                cancel_assignment(r);
                set_state(r, ProcState::Idle);
            });
            return Admission::Invalid;
        };
        let ping = r.ping.load(SeqCst);
        self.write(id, |r| {
            cancel_assignment(r);
            let tasks = r.tasks.load(SeqCst).saturating_add(1);
            r.tasks.store(tasks, SeqCst);
            let full = tasks >= r.capacity.load(SeqCst).max(1);
            set_state(
                r,
                if full {
                    ProcState::Busy
                } else {
                    ProcState::Idle
                },
            );
        });
        Admission::Admitted { request, ping }
    }

    /// Worker: one task is over (served or failed): one fewer, and Idle again if the slot was
    /// full. Returns true if the slot went from full to having room (the dispatcher may want
    /// to know).
    pub fn finish_task(&self, id: RecordId) -> bool {
        self.write(id, |r| {
            r.tasks
                .store(r.tasks.load(SeqCst).saturating_sub(1), SeqCst);
            let was_full = r.state.load(SeqCst) == ProcState::Busy as u32;
            if was_full {
                set_state(r, ProcState::Idle);
            }
            was_full
        })
    }

    /// Worker: the assignment `ping` ended without a task (its client never came, or its
    /// record was unreadable): pong marker, Idle. Returns false if the record had moved on.
    pub fn expire_assignment(&self, id: RecordId, ping: u64) -> bool {
        let r = self.segment().record(id);
        if r.ping.load(SeqCst) != ping || r.state.load(SeqCst) != ProcState::Assigned as u32 {
            return false;
        }
        self.write(id, |r| {
            cancel_assignment(r);
            set_state(r, ProcState::Idle);
        });
        true
    }

    /// Worker: the pending assignment's ping if it is older than `timeout_ms` and its client
    /// never arrived.
    pub fn expired_assignment(&self, id: RecordId, now_ms: u64, timeout_ms: u64) -> Option<u64> {
        let r = self.segment().record(id);
        let assigned = r.state.load(SeqCst) == ProcState::Assigned as u32;
        let at = r.assigned_ms.load(SeqCst);
        (assigned && now_ms.saturating_sub(at) > timeout_ms).then(|| r.ping.load(SeqCst))
    }
}

#[cfg(test)]
#[path = "transitions_tests.rs"]
mod tests;
