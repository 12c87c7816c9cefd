//! The runs the gateway knows of, for `GET /api/v1/runs/{id}`: bounded in count
//! (`--http-results`) and in time (`--http-result-ttl`). A run waiting or running is never
//! dropped (the queue bound keeps their number under the count); a finished one goes when it
//! is older than the time limit, or the oldest finished goes to make room.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kennel_runner::RunResult;
use serde::Serialize;

use crate::error::ApiError;

/// Where a run is.
#[derive(Debug, Clone)]
pub enum RunState {
    Queued,
    Running,
    Done(Arc<RunResult>),
    /// No result could be had (no capacity, Kennel unreachable).
    Failed(ApiError),
}

/// What the API shows of a run.
#[derive(Serialize)]
pub struct RunDoc {
    pub id: String,
    /// queued, running, done or failed.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Arc<RunResult>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDoc>,
}

#[derive(Serialize)]
pub struct ErrorDoc {
    pub code: &'static str,
    pub message: String,
}

impl RunDoc {
    pub fn new(id: &str, state: &RunState) -> RunDoc {
        let (status, result, error) = match state {
            RunState::Queued => ("queued", None, None),
            RunState::Running => ("running", None, None),
            RunState::Done(r) => ("done", Some(r.clone()), None),
            RunState::Failed(e) => (
                "failed",
                None,
                Some(ErrorDoc {
                    code: e.code,
                    message: e.message.clone(),
                }),
            ),
        };
        RunDoc {
            id: id.to_string(),
            status,
            result,
            error,
        }
    }
}

struct Entry {
    state: RunState,
    finished: Option<Instant>,
}

/// The bounded table of runs.
pub struct Store {
    inner: Mutex<Inner>,
    max: usize,
    ttl: Duration,
}

#[derive(Default)]
struct Inner {
    runs: HashMap<String, Entry>,
    /// Ids in the order they were made: the oldest first.
    order: VecDeque<String>,
}

impl Store {
    pub fn new(max: usize, ttl: Duration) -> Store {
        Store {
            inner: Mutex::new(Inner::default()),
            max,
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it cannot leave the table inconsistent (every change is one
        // map operation), so a poisoned lock is used as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new run, queued; `None` if every place holds a run not yet finished.
    pub fn insert(&self, now: Instant) -> Option<String> {
        let mut g = self.lock();
        self.expire(&mut g, now);
        if g.runs.len() >= self.max {
            let oldest_done = g
                .order
                .iter()
                .position(|id| g.runs.get(id).is_some_and(|e| e.finished.is_some()))?;
            if let Some(id) = g.order.remove(oldest_done) {
                g.runs.remove(&id);
            }
        }
        let id = new_id();
        g.runs.insert(
            id.clone(),
            Entry {
                state: RunState::Queued,
                finished: None,
            },
        );
        g.order.push_back(id.clone());
        Some(id)
    }

    pub fn set(&self, id: &str, state: RunState, now: Instant) {
        let mut g = self.lock();
        if let Some(e) = g.runs.get_mut(id) {
            if matches!(state, RunState::Done(_) | RunState::Failed(_)) {
                e.finished = Some(now);
            }
            e.state = state;
        }
    }

    pub fn get(&self, id: &str, now: Instant) -> Option<RunState> {
        let mut g = self.lock();
        self.expire(&mut g, now);
        g.runs.get(id).map(|e| e.state.clone())
    }

    pub fn len(&self) -> usize {
        self.lock().runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the finished runs older than the time limit.
    fn expire(&self, g: &mut Inner, now: Instant) {
        let ttl = self.ttl;
        let Inner { runs, order } = g;
        runs.retain(|_, e| e.finished.is_none_or(|f| now.duration_since(f) < ttl));
        order.retain(|id| runs.contains_key(id));
    }
}

/// 128 random bits from the kernel, in hex: unguessable, so one client cannot read another's
/// results by counting.
fn new_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // getrandom(2) does not fail once the pool is initialised; a clock is the fallback.
        b[..16].copy_from_slice(
            &std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
                .to_le_bytes(),
        );
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `id` has the shape of one of ours (32 lowercase hex digits).
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done() -> RunState {
        RunState::Done(Arc::new(RunResult::new(
            kennel_runner::Verdict::Accepted,
            "python",
        )))
    }

    #[test]
    fn bounded_in_count_and_time_and_never_drops_a_pending_run() {
        let t0 = Instant::now();
        let s = Store::new(2, Duration::from_secs(10));
        let a = s.insert(t0).unwrap();
        let b = s.insert(t0).unwrap();
        assert!(valid_id(&a) && a != b);
        assert!(s.insert(t0).is_none(), "both places hold pending runs");
        s.set(&a, done(), t0);
        let c = s.insert(t0).unwrap();
        assert!(s.get(&a, t0).is_none(), "the finished run made room");
        assert!(matches!(s.get(&b, t0), Some(RunState::Queued)));
        s.set(&c, done(), t0);
        assert!(s.get(&c, t0 + Duration::from_secs(9)).is_some());
        assert!(s.get(&c, t0 + Duration::from_secs(11)).is_none(), "expired");
        assert_eq!(s.len(), 1);
        assert!(!valid_id("../../etc") && !valid_id(&"A".repeat(32)));
    }
}
