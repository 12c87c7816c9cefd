//! The invariants of a segment snapshot, checked one by one so that `kennelctl check` (and
//! tests) can name exactly which one is broken.

use std::collections::HashMap;

use crate::layout::{ProcState, Role, Supervision};
use crate::protocol::RequestKind;
use crate::segment::{RecordId, RecordView, Snapshot};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Short stable name, e.g. `torn-record`.
    pub invariant: &'static str,
    /// Which record, if it concerns one.
    pub record: Option<RecordId>,
    pub detail: String,
}

/// A live process whose heartbeat is older than this is reported frozen. Every Kennel process
/// (the watchdog included) stamps its heartbeat at least every `child::TICK` (250 ms), so 3 s
/// is twelve missed beats: a stopped, wedged or starved process, not a busy one.
pub const FROZEN_MS: u64 = 3000;

/// True if a record describes a process that should be stamping its heartbeat.
pub fn is_live(r: &RecordView) -> bool {
    !r.torn
        && matches!(
            r.state(),
            Some(ProcState::Idle | ProcState::Assigned | ProcState::Busy)
        )
}

/// True if `r` is live and its heartbeat is older than `FROZEN_MS`.
pub fn is_frozen(s: &Snapshot, r: &RecordView) -> bool {
    is_live(r) && s.age_ms(r.heartbeat_ms) > FROZEN_MS
}

/// True if the watchdog's own heartbeat is older than `FROZEN_MS` (and it is not stopping).
pub fn watchdog_frozen(s: &Snapshot) -> bool {
    !s.stopping && s.age_ms(s.watchdog_heartbeat_ms) > FROZEN_MS
}

/// Every invariant a consistent snapshot must satisfy. Empty means healthy.
pub fn check(s: &Snapshot) -> Vec<Violation> {
    let mut out = Vec::new();
    if watchdog_frozen(s) {
        out.push(Violation {
            invariant: "heartbeat-fresh",
            record: None,
            detail: format!(
                "the watchdog's heartbeat is {} ms old: it is frozen",
                s.age_ms(s.watchdog_heartbeat_ms)
            ),
        });
    }
    let mut ports: HashMap<u16, RecordId> = HashMap::new();
    for r in &s.records {
        check_record(s, r, &mut out);
        if let Some(e) = r.endpoint {
            if let Some(other) = ports.insert(e.port(), r.id) {
                out.push(Violation {
                    invariant: "unique-ports",
                    record: Some(r.id),
                    detail: format!("port {} is also published by {other}", e.port()),
                });
            }
        }
    }
    out
}

fn check_record(s: &Snapshot, r: &RecordView, out: &mut Vec<Violation>) {
    let mut fail = |invariant: &'static str, detail: String| {
        out.push(Violation {
            invariant,
            record: Some(r.id),
            detail,
        })
    };
    if r.torn {
        fail(
            "torn-record",
            format!("seq {} is odd: a write was cut off", r.seq),
        );
        return;
    }
    let Some(state) = codes(r, &mut fail) else {
        return;
    };
    assignment(r, state, &mut fail);
    liveness(s, r, state, &mut fail);
}

/// Every code is one its type knows; the state, if it is one.
fn codes(r: &RecordView, fail: &mut impl FnMut(&'static str, String)) -> Option<ProcState> {
    if Role::from_code(r.role) != Some(r.id.role()) {
        fail("role", format!("role code {}", r.role));
    }
    let Some(state) = r.state() else {
        fail(
            "state-code",
            format!("state code {} is not a state", r.state),
        );
        return None;
    };
    if r.supervision().is_none() {
        fail(
            "supervision-code",
            format!("supervision code {}", r.supervision),
        );
    }
    if r.fatal_reason().is_none() {
        fail("fatal-reason", format!("reason code {}", r.fatal_reason));
    }
    Some(state)
}

/// At most one assignment open, marked the same way by the state and the ping/pong pair, and
/// naming a request type and a client; tasks within the capacity.
fn assignment(r: &RecordView, state: ProcState, fail: &mut impl FnMut(&'static str, String)) {
    let outstanding = r.ping.wrapping_sub(r.pong);
    if outstanding > 1 {
        fail(
            "ping-pong",
            format!(
                "ping {} and pong {}: at most one assignment may be open",
                r.ping, r.pong
            ),
        );
    }
    let assigned = state == ProcState::Assigned;
    if r.id.role() == Role::Worker && assigned != (outstanding == 1) {
        fail(
            "assignment-markers",
            format!(
                "state {} with ping {} / pong {}",
                state.name(),
                r.ping,
                r.pong
            ),
        );
    }
    if assigned && RequestKind::from_code(r.request_type).is_none() {
        fail(
            "request-type",
            format!("assignment with request type code {}", r.request_type),
        );
    }
    if assigned && r.client.is_none() {
        fail(
            "client-endpoint",
            "assignment without a client endpoint".into(),
        );
    }
    if r.id.role() == Role::Worker && r.capacity > 0 && r.tasks > r.capacity {
        fail(
            "tasks",
            format!("{} tasks for a capacity of {}", r.tasks, r.capacity),
        );
    }
}

/// A live process has a pid, an endpoint and a fresh heartbeat (never one from the future),
/// and is not both supervised as running and marked dead.
fn liveness(
    s: &Snapshot,
    r: &RecordView,
    state: ProcState,
    fail: &mut impl FnMut(&'static str, String),
) {
    let live = matches!(
        state,
        ProcState::Idle | ProcState::Assigned | ProcState::Busy
    );
    if live && r.pid().is_none() {
        fail(
            "pid",
            format!("state {} with implausible pid {}", state.name(), r.pid),
        );
    }
    if live && r.endpoint.is_none() {
        fail(
            "endpoint",
            format!("state {} without a published endpoint", state.name()),
        );
    }
    if is_frozen(s, r) {
        fail(
            "heartbeat-fresh",
            format!(
                "heartbeat {} ms old (over {FROZEN_MS} ms): the process is frozen",
                s.age_ms(r.heartbeat_ms)
            ),
        );
    }
    if r.heartbeat_ms > s.now_ms.saturating_add(1000) {
        fail(
            "heartbeat",
            format!("heartbeat {} ms in the future", r.heartbeat_ms - s.now_ms),
        );
    }
    if r.supervision() == Some(Supervision::Running) && state == ProcState::Dead {
        fail(
            "supervision-vs-state",
            "supervised as running but marked dead".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::RecordView;

    fn record(id: RecordId) -> RecordView {
        RecordView {
            id,
            seq: 2,
            role: id.role() as u32,
            state: ProcState::Idle as u32,
            supervision: Supervision::Running as u32,
            pid: 1234,
            restarts: 0,
            last_exit: 0,
            fatal_reason: 0,
            kill_reason: 0,
            endpoint: Some(format!("127.0.0.1:{}", 3000 + id.index(8)).parse().unwrap()),
            client: None,
            request_type: 0,
            ping: 4,
            pong: 4,
            assigned_ms: 0,
            heartbeat_ms: 100,
            started_ms: 50,
            served: 4,
            failed: 0,
            busy: 0,
            dispatch_ns: 0,
            waiting: 0,
            token: 0,
            connections: 0,
            tasks: 0,
            capacity: 1,
            languages: 0,
            limits: 0,
            torn: false,
        }
    }

    fn snapshot(records: Vec<RecordView>) -> Snapshot {
        Snapshot {
            watchdog_pid: 1000,
            watchdog_heartbeat_ms: 100,
            created_unix_ms: 0,
            stopping: false,
            now_ms: 200,
            records,
            pool: Default::default(),
        }
    }

    fn names(s: &Snapshot) -> Vec<&'static str> {
        check(s).iter().map(|v| v.invariant).collect()
    }

    #[test]
    fn a_healthy_snapshot_passes() {
        let s = snapshot(vec![
            record(RecordId::Dispatcher),
            record(RecordId::Worker(0)),
        ]);
        assert_eq!(check(&s), vec![]);
    }

    #[test]
    fn each_broken_invariant_is_named() {
        let d = record(RecordId::Dispatcher);
        let mut torn = record(RecordId::Worker(0));
        torn.torn = true;
        assert_eq!(names(&snapshot(vec![d.clone(), torn])), vec!["torn-record"]);

        let mut w = record(RecordId::Worker(0));
        w.state = 99;
        assert_eq!(names(&snapshot(vec![d.clone(), w])), vec!["state-code"]);

        let mut w = record(RecordId::Worker(0));
        w.ping = 7;
        assert_eq!(names(&snapshot(vec![d.clone(), w])), vec!["ping-pong"]);

        let mut w = record(RecordId::Worker(0));
        w.ping = 5;
        assert_eq!(
            names(&snapshot(vec![d.clone(), w])),
            vec!["assignment-markers"]
        );

        let mut w = record(RecordId::Worker(0));
        w.state = ProcState::Assigned as u32;
        w.ping = 5;
        w.request_type = 42;
        assert_eq!(
            names(&snapshot(vec![d.clone(), w])),
            vec!["request-type", "client-endpoint"]
        );

        let mut w = record(RecordId::Worker(0));
        w.endpoint = d.endpoint;
        assert_eq!(names(&snapshot(vec![d.clone(), w])), vec!["unique-ports"]);

        let mut w = record(RecordId::Worker(0));
        w.pid = 0;
        w.heartbeat_ms = 10_000;
        assert_eq!(names(&snapshot(vec![d, w])), vec!["pid", "heartbeat"]);
    }
}
