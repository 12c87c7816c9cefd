//! The record transitions of `transitions.rs`, one arrow of its diagram at a time, on a real
//! temporary segment (POSIX shared memory and its System V semaphore, removed at the end).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;

use super::*;
use crate::layout::{ExitCode, FatalReason, ProcState, Supervision};
use crate::protocol::{Language, RequestKind};
use crate::runtime::RuntimeDir;
use crate::segment::{RecordId, Segment, GUARD_TIMEOUT};

/// A segment with `workers` slots in a runtime directory of its own; removed on drop.
struct TempSegment {
    rt: RuntimeDir,
    seg: Option<Segment>,
}

impl TempSegment {
    fn new(tag: &str, workers: usize) -> TempSegment {
        let dir = std::env::temp_dir().join(format!(
            "kennel-unit-{tag}-{}-{}",
            std::process::id(),
            crate::clock::monotonic_ms()
        ));
        let rt = RuntimeDir::resolve(Some(&dir));
        rt.create().expect("runtime dir");
        let seg = Segment::create(&rt, workers, 0).expect("segment");
        TempSegment { rt, seg: Some(seg) }
    }

    fn seg(&self) -> &Segment {
        self.seg.as_ref().expect("live")
    }

    /// Worker `k` ready and supervised on port 3000 + k, as after its start.
    fn ready(&self, k: usize) {
        let g = self.seg().lock(GUARD_TIMEOUT).unwrap();
        let id = RecordId::Worker(k);
        g.reset_for_spawn(id, crate::clock::monotonic_ms(), 0);
        g.publish_ready(id, addr(3000 + k as u16));
        g.set_supervision(id, Supervision::Running, FatalReason::None);
    }
}

impl Drop for TempSegment {
    fn drop(&mut self) {
        if let Some(seg) = self.seg.take() {
            let _ = seg.destroy(&self.rt);
        }
        let _ = std::fs::remove_dir_all(self.rt.path());
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

const CLIENT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40_000);

#[test]
fn claim_serve_finish_walks_idle_assigned_busy_idle() {
    let t = TempSegment::new("walk", 2);
    t.ready(0);
    t.ready(1);
    let now = crate::clock::monotonic_ms();
    let g = t.seg().lock(GUARD_TIMEOUT).unwrap();
    let claim = g
        .claim_idle_worker(1, CLIENT, RequestKind::TIME, now, 0)
        .expect("an idle worker");
    assert_eq!(
        (claim.slot, claim.port, claim.ping),
        (1, 3001, 1),
        "round robin from 1"
    );
    let w1 = RecordId::Worker(1);
    assert_eq!(t.seg().read(w1).state(), Some(ProcState::Assigned));
    assert_eq!(t.seg().read(w1).client, Some(CLIENT));
    assert_eq!(
        g.begin_service(w1, addr(1), None),
        Admission::Admitted {
            request: RequestKind::TIME,
            ping: 1
        },
        "any port of the assigned client's address is admitted"
    );
    let v = t.seg().read(w1);
    assert_eq!(
        (v.state(), v.tasks, v.ping, v.pong, v.client),
        (Some(ProcState::Busy), 1, 1, 1, None),
        "capacity 1: full; the assignment is closed by the arrival"
    );
    assert!(!g.expire_assignment(w1, 1), "nothing left to expire");
    assert!(g.finish_task(w1), "full -> room");
    let v = t.seg().read(w1);
    assert_eq!((v.state(), v.tasks), (Some(ProcState::Idle), 0));
}

#[test]
fn a_worker_with_capacity_takes_clients_until_full_and_the_least_loaded_is_chosen() {
    let t = TempSegment::new("capacity", 2);
    let (w0, w1) = (RecordId::Worker(0), RecordId::Worker(1));
    let g = t.seg().lock(GUARD_TIMEOUT).unwrap();
    for id in [w0, w1] {
        g.reset_for_spawn(id, crate::clock::monotonic_ms(), 0);
        g.set_offer(id, 2, 0, 0);
        g.publish_ready(id, addr(3000 + id.index(8) as u16));
        g.set_supervision(id, Supervision::Running, FatalReason::None);
    }
    let now = crate::clock::monotonic_ms();
    let serve = |start: usize| {
        let c = g
            .claim_idle_worker(start, CLIENT, RequestKind::ECHO, now, 0)
            .unwrap();
        let id = RecordId::Worker(c.slot);
        assert!(matches!(
            g.begin_service(id, CLIENT, None),
            Admission::Admitted { .. }
        ));
        c.slot
    };
    assert_eq!(serve(0), 0);
    assert_eq!(serve(0), 1, "the empty worker before the loaded one");
    assert_eq!(serve(1), 1, "tie: round robin from the cursor");
    assert_eq!(t.seg().read(w1).state(), Some(ProcState::Busy), "2/2: full");
    assert_eq!(serve(1), 0, "the only one with room");
    assert_eq!(
        g.claim_idle_worker(0, CLIENT, RequestKind::ECHO, now, 0),
        None,
        "every worker full"
    );
    assert!(g.finish_task(w1));
    assert_eq!(t.seg().read(w1).tasks, 1);
    assert_eq!(
        g.claim_idle_worker(0, CLIENT, RequestKind::ECHO, now, 0)
            .map(|c| c.slot),
        Some(1)
    );
}

#[test]
fn a_language_goes_only_to_a_worker_that_offers_it() {
    let t = TempSegment::new("languages", 2);
    let g = t.seg().lock(GUARD_TIMEOUT).unwrap();
    for (k, langs) in [(0, 0), (1, Language::C.bit())] {
        let id = RecordId::Worker(k);
        g.reset_for_spawn(id, crate::clock::monotonic_ms(), 0);
        g.set_offer(id, 1, langs, 0);
        g.publish_ready(id, addr(3000 + k as u16));
        g.set_supervision(id, Supervision::Running, FatalReason::None);
    }
    let now = crate::clock::monotonic_ms();
    assert_eq!(
        g.claim_idle_worker(0, CLIENT, RequestKind::Run(Language::Java), now, 0),
        None
    );
    assert_eq!(
        g.claim_idle_worker(0, CLIENT, RequestKind::Run(Language::C), now, 0)
            .map(|c| c.slot),
        Some(1)
    );
    assert_eq!(
        t.seg().read(RecordId::Worker(1)).language_names(),
        vec!["c"]
    );
}

#[test]
fn only_idle_running_fresh_slots_are_claimed() {
    let t = TempSegment::new("claim", 3);
    t.ready(0);
    t.ready(1);
    t.ready(2);
    let now = crate::clock::monotonic_ms();
    let g = t.seg().lock(GUARD_TIMEOUT).unwrap();
    // Slot 0 is being stopped, slot 1's heartbeat is stale: only slot 2 can take work.
    g.set_supervision(
        RecordId::Worker(0),
        Supervision::Stopping,
        FatalReason::None,
    );
    t.seg()
        .record(RecordId::Worker(1))
        .heartbeat_ms
        .store(now.saturating_sub(STALE_HEARTBEAT_MS + 1), SeqCst);
    let c = g
        .claim_idle_worker(0, CLIENT, RequestKind::ECHO, now, 0)
        .unwrap();
    assert_eq!(c.slot, 2);
    assert_eq!(
        g.claim_idle_worker(0, CLIENT, RequestKind::ECHO, now, 0),
        None,
        "slot 2 is assigned now; nothing else qualifies"
    );
}

#[test]
fn admission_refuses_strangers_wrong_tokens_and_unassigned_slots() {
    let t = TempSegment::new("admit", 1);
    t.ready(0);
    let w0 = RecordId::Worker(0);
    let g = t.seg().lock(GUARD_TIMEOUT).unwrap();
    assert_eq!(g.begin_service(w0, CLIENT, None), Admission::NotAssigned);
    let now = crate::clock::monotonic_ms();
    g.claim_idle_worker(0, CLIENT, RequestKind::DATE, now, 0xfeed)
        .unwrap();
    let stranger = SocketAddr::from(([10, 0, 0, 9], 40_000));
    assert_eq!(g.begin_service(w0, stranger, None), Admission::WrongPeer);
    assert_eq!(
        g.begin_service(w0, CLIENT, Some(0xbad)),
        Admission::BadToken
    );
    assert_eq!(
        t.seg().read(w0).state(),
        Some(ProcState::Assigned),
        "a refusal leaves the assignment for its real client"
    );
    assert!(matches!(
        g.begin_service(w0, CLIENT, Some(0xfeed)),
        Admission::Admitted { .. }
    ));
}

#[test]
fn an_assignment_expires_only_after_its_timeout() {
    let t = TempSegment::new("expire", 1);
    t.ready(0);
    let w0 = RecordId::Worker(0);
    let g = t.seg().lock(GUARD_TIMEOUT).unwrap();
    let at = crate::clock::monotonic_ms();
    let c = g
        .claim_idle_worker(0, CLIENT, RequestKind::TIME, at, 0)
        .unwrap();
    assert_eq!(g.expired_assignment(w0, at + 100, 100), None);
    assert_eq!(g.expired_assignment(w0, at + 101, 100), Some(c.ping));
    assert!(
        !g.expire_assignment(w0, c.ping + 1),
        "a stale ping changes nothing"
    );
    assert!(g.expire_assignment(w0, c.ping));
    let v = t.seg().read(w0);
    assert_eq!(
        (v.state(), v.ping, v.pong, v.tasks),
        (Some(ProcState::Idle), 1, 1, 0)
    );
}

#[test]
fn death_and_respawn_clear_the_record_and_keep_the_exit() {
    let t = TempSegment::new("death", 1);
    t.ready(0);
    let w0 = RecordId::Worker(0);
    let g = t.seg().lock(GUARD_TIMEOUT).unwrap();
    g.claim_idle_worker(
        0,
        CLIENT,
        RequestKind::TIME,
        crate::clock::monotonic_ms(),
        0,
    )
    .unwrap();
    g.mark_dead(w0, ExitCode::Signaled(9), crate::layout::KillReason::Hang);
    let v = t.seg().read(w0);
    assert_eq!(v.state(), Some(ProcState::Dead));
    assert_eq!(v.endpoint, None);
    assert_eq!(v.ping, v.pong, "the pending assignment was cancelled");
    assert_eq!(v.last_exit(), Some(ExitCode::Signaled(9)));
    assert_eq!(v.killed_for(), Some(crate::layout::KillReason::Hang));
    g.reset_for_spawn(w0, 42, 3);
    let v = t.seg().read(w0);
    assert_eq!(
        (v.state(), v.restarts, v.started_ms),
        (Some(ProcState::Starting), 3, 42)
    );
    assert_eq!(
        v.last_exit(),
        Some(ExitCode::Signaled(9)),
        "kept for LAST EXIT"
    );
}

#[test]
fn damaged_records_are_found_and_repaired() {
    let t = TempSegment::new("repair", 3);
    for k in 0..3 {
        t.ready(k);
    }
    let seg = t.seg();
    // A writer died half-way (odd seq); an unknown state code; impossible markers.
    seg.record(RecordId::Worker(0)).seq.fetch_add(1, SeqCst);
    seg.record(RecordId::Worker(1)).state.store(99, SeqCst);
    seg.record(RecordId::Worker(2)).ping.store(5, SeqCst);
    let g = seg.lock(GUARD_TIMEOUT).unwrap();
    let mut repaired: Vec<usize> = g
        .repair_damaged()
        .into_iter()
        .map(|(id, _)| id.index(8) - 1)
        .collect();
    repaired.sort();
    assert_eq!(repaired, vec![0, 1, 2]);
    for k in 0..3 {
        let v = seg.read(RecordId::Worker(k));
        assert!(!v.torn, "worker {k}");
        assert_eq!(v.state(), Some(ProcState::Idle), "worker {k}");
        assert_eq!(v.ping, v.pong, "worker {k}");
    }
    assert!(g.repair_damaged().is_empty(), "nothing left to repair");
}
