//! The runs the gateway knows of, for `GET /api/v1/runs/{id}`: bounded in count
//! (`--http-results`), in bytes (`--http-results-bytes`: a result can hold 2 MiB of output,
//! so a count alone would let a thousand of them take gigabytes) and in time
//! (`--http-result-ttl`). A run waiting or running is never dropped (the queue bound keeps
//! their number under the count); a finished one goes when it is older than the time limit,
//! or the oldest finished go to make room.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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

/// What a compatibility API keeps of the request beside the run (Judge0 echoes the submitted
/// fields back), opaque to the store; its size is counted against the byte bound.
pub type Attachment = Arc<dyn Any + Send + Sync>;

struct Entry {
    state: RunState,
    finished: Option<Instant>,
    /// What its result holds (outputs and message), counted against the byte bound.
    bytes: usize,
    attachment: Option<(Attachment, usize)>,
    /// Wall-clock times, for the APIs that show them (Judge0's `created_at`, `finished_at`).
    created_at: SystemTime,
    finished_at: Option<SystemTime>,
}

/// One run as the store holds it.
#[derive(Clone)]
pub struct Record {
    pub state: RunState,
    pub attachment: Option<Attachment>,
    pub created_at: SystemTime,
    pub finished_at: Option<SystemTime>,
}

/// The bytes a finished run's result holds (its texts, plus a fixed share for the rest).
fn size_of(state: &RunState) -> usize {
    const FIXED: usize = 512;
    FIXED
        + match state {
            RunState::Done(r) => {
                r.stdout.len()
                    + r.stderr.len()
                    + r.compile_output.len()
                    + r.message.len()
                    + r.tests
                        .iter()
                        .map(|t| FIXED + t.stdout.len() + t.stderr.len() + t.message.len())
                        .sum::<usize>()
            }
            RunState::Failed(e) => e.message.len(),
            RunState::Queued | RunState::Running => 0,
        }
}

/// The bounded table of runs.
pub struct Store {
    inner: Mutex<Inner>,
    max: usize,
    max_bytes: usize,
    ttl: Duration,
}

#[derive(Default)]
struct Inner {
    runs: HashMap<String, Entry>,
    /// Ids in the order they were made: the oldest first.
    order: VecDeque<String>,
    /// The bytes of every entry together.
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let e = self.runs.remove(id)?;
        self.bytes -= e.bytes + e.attachment.as_ref().map_or(0, |a| a.1);
        self.order.retain(|x| x != id);
        Some(e)
    }

    /// The oldest finished run other than `except`.
    fn oldest_done(&self, except: &str) -> Option<String> {
        self.order
            .iter()
            .find(|id| *id != except && self.runs.get(*id).is_some_and(|e| e.finished.is_some()))
            .cloned()
    }
}

impl Store {
    pub fn new(max: usize, max_bytes: usize, ttl: Duration) -> Store {
        Store {
            inner: Mutex::new(Inner::default()),
            max,
            max_bytes,
            ttl,
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it cannot leave the table inconsistent (every change is one
        // map operation), so a poisoned lock is used as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new run, queued; `None` if every place holds a run not yet finished.
    pub fn insert(&self, now: Instant) -> Option<String> {
        self.insert_with(now, None)
    }

    /// A new run with what a compatibility API keeps beside it (and that attachment's size in
    /// bytes).
    pub fn insert_with(
        &self,
        now: Instant,
        attachment: Option<(Attachment, usize)>,
    ) -> Option<String> {
        let mut g = self.lock();
        self.expire(&mut g, now);
        if g.runs.len() >= self.max {
            let oldest = g.oldest_done("")?;
            g.remove(&oldest);
        }
        let id = new_id();
        let bytes = size_of(&RunState::Queued);
        g.bytes += bytes + attachment.as_ref().map_or(0, |a| a.1);
        g.runs.insert(
            id.clone(),
            Entry {
                state: RunState::Queued,
                finished: None,
                bytes,
                attachment,
                created_at: SystemTime::now(),
                finished_at: None,
            },
        );
        g.order.push_back(id.clone());
        Some(id)
    }

    /// Records a run's new state; a finished one may push the oldest finished out to keep
    /// the byte bound (never itself: its client may be about to ask).
    pub fn set(&self, id: &str, state: RunState, now: Instant) {
        let mut g = self.lock();
        let bytes = size_of(&state);
        let Some(e) = g.runs.get_mut(id) else {
            return;
        };
        if matches!(state, RunState::Done(_) | RunState::Failed(_)) {
            e.finished = Some(now);
            e.finished_at = Some(SystemTime::now());
        }
        e.state = state;
        let before = std::mem::replace(&mut e.bytes, bytes);
        g.bytes = g.bytes - before + bytes;
        while g.bytes > self.max_bytes {
            let Some(oldest) = g.oldest_done(id) else {
                break;
            };
            g.remove(&oldest);
        }
    }

    pub fn get(&self, id: &str, now: Instant) -> Option<RunState> {
        let mut g = self.lock();
        self.expire(&mut g, now);
        g.runs.get(id).map(|e| e.state.clone())
    }

    /// The run with its attachment and times.
    pub fn record(&self, id: &str, now: Instant) -> Option<Record> {
        let mut g = self.lock();
        self.expire(&mut g, now);
        g.runs.get(id).map(|e| Record {
            state: e.state.clone(),
            attachment: e.attachment.as_ref().map(|a| a.0.clone()),
            created_at: e.created_at,
            finished_at: e.finished_at,
        })
    }

    /// Forgets a finished run (Judge0's DELETE); a run not finished stays (`Err` with it).
    pub fn remove_finished(&self, id: &str, now: Instant) -> Option<Result<Record, RunState>> {
        let mut g = self.lock();
        self.expire(&mut g, now);
        let e = g.runs.get(id)?;
        if e.finished.is_none() {
            return Some(Err(e.state.clone()));
        }
        let e = g.remove(id)?;
        Some(Ok(Record {
            state: e.state,
            attachment: e.attachment.map(|a| a.0),
            created_at: e.created_at,
            finished_at: e.finished_at,
        }))
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
        let Inner { runs, order, bytes } = g;
        runs.retain(|_, e| {
            let keep = e.finished.is_none_or(|f| now.duration_since(f) < ttl);
            if !keep {
                *bytes -= e.bytes + e.attachment.as_ref().map_or(0, |a| a.1);
            }
            keep
        });
        order.retain(|id| runs.contains_key(id));
    }
}

/// 122 random bits from the kernel, in hex: unguessable, so one client cannot read another's
/// results by counting. The version and variant bits of a UUID v4 are set, so the same id
/// written with dashes is a Judge0 token (`uuid_of`).
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
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A run's id as a UUID (8-4-4-4-12), Judge0's token.
pub fn uuid_of(id: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
}

/// The run id a UUID names, if it has a UUID's shape (any case).
pub fn id_of_uuid(token: &str) -> Option<String> {
    let b = token.as_bytes();
    let dashes = [8, 13, 18, 23];
    if b.len() != 36 || dashes.iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let id: String = token.chars().filter(|&c| c != '-').collect::<String>();
    let id = id.to_ascii_lowercase();
    valid_id(&id).then_some(id)
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
        let s = Store::new(2, 1 << 30, Duration::from_secs(10));
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

    fn big(n: usize) -> RunState {
        let mut r = RunResult::new(kennel_runner::Verdict::Accepted, "c");
        r.stdout = vec![b'x'; n];
        r.stderr = vec![b'y'; n];
        RunState::Done(Arc::new(r))
    }

    #[test]
    fn bounded_in_bytes_the_oldest_finished_going_first() {
        let t0 = Instant::now();
        let s = Store::new(1000, 5 << 20, Duration::from_secs(60));
        let ids: Vec<String> = (0..30).map(|_| s.insert(t0).unwrap()).collect();
        for id in &ids {
            s.set(id, big(1 << 20), t0);
            assert!(s.bytes() <= 5 << 20, "{} bytes held", s.bytes());
        }
        // Two results of 2 MiB fit in 5 MiB: the last two are kept, the newest always.
        assert!(s.get(&ids[29], t0).is_some() && s.get(&ids[28], t0).is_some());
        assert!(s.get(&ids[27], t0).is_none());
        assert_eq!(s.len(), 2);
        // One result over the whole bound is still kept alone, until the next one.
        let huge = s.insert(t0).unwrap();
        s.set(&huge, big(4 << 20), t0);
        assert!(s.get(&huge, t0).is_some());
        assert_eq!(s.len(), 1);
    }
}
