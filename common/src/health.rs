//! Whether an instance can serve a request now, said one way for everyone who asks it: the
//! HTTP gateway's `/healthz` and HAProxy's agent (`kennelctl agent`). (`kennelctl check
//! --ready` asks a stricter question: can a worker take a client *this instant*.)

use crate::layout::{ProcState, Supervision};
use crate::segment::{RecordView, Snapshot, STALE_HEARTBEAT_MS};

/// `Ok(workers running)` when the watchdog holds the instance (`watchdog_alive`), it is not
/// stopping, the dispatcher runs and beats, and at least one worker runs and beats; else why
/// not.
pub fn serving(s: &Snapshot, watchdog_alive: bool) -> Result<usize, &'static str> {
    let up = |r: &RecordView| {
        r.supervision() == Some(Supervision::Running)
            && r.endpoint.is_some()
            && matches!(
                r.state(),
                Some(ProcState::Idle | ProcState::Assigned | ProcState::Busy)
            )
            && s.age_ms(r.heartbeat_ms) <= STALE_HEARTBEAT_MS
    };
    let workers = s.workers().iter().filter(|r| up(r)).count();
    if !watchdog_alive {
        Err("the watchdog is gone")
    } else if s.stopping {
        Err("the instance is stopping")
    } else if !up(s.dispatcher()) {
        Err("the dispatcher is not ready")
    } else if workers == 0 {
        Err("no worker is ready")
    } else {
        Ok(workers)
    }
}
