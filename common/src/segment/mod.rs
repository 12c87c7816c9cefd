//! The shared-memory segment, in layers: this module holds the attached `Segment` and its
//! lock-free reads; `lifecycle` creates, validates, attaches and removes it; `guard` is the
//! semaphore guard and its seqlock write; `transitions` every multi-field change of a record
//! under that guard; `view` the plain copies readers get; `endpoint` the address cells.
//!
//! Why POSIX `shm_open` + `mmap` through `nix` rather than the `shared_memory` crate: we need to
//! `fstat` the object to refuse one that is not ours (owner, mode, size) before mapping it, and to
//! map it read-only for `kennelctl`; `shared_memory` exposes neither and pins nix 0.23.
//!
//! Why a System V semaphore with `SEM_UNDO` rather than a `raw_sync` mutex: a process-shared
//! pthread mutex stays locked forever when its holder is SIGKILLed; the kernel gives a
//! `SEM_UNDO` unit back at once. The data a dead holder was writing is caught by the seqlock
//! word and repaired (see `transitions`).

mod endpoint;
mod guard;
mod lifecycle;
mod repair;
mod restore;
mod transitions;
mod view;

pub use endpoint::{load_endpoint, store_endpoint};
pub use guard::Guard;
pub use transitions::{Admission, Claim, WatchdogFields, STALE_HEARTBEAT_MS};
pub use view::{PoolView, RecordView, Snapshot};

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::*;
use crate::sys::{self, Mapping};

/// How a process attaches: read-write to take part, read-only to observe (`kennelctl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

/// Which record: the dispatcher's, a worker slot's or the HTTP gateway's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordId {
    Dispatcher,
    Worker(usize),
    Gateway,
}

impl RecordId {
    /// Position of the record after the header, in a segment with `workers` worker slots:
    /// the dispatcher first, then each slot, then the gateway.
    pub fn index(self, workers: usize) -> usize {
        match self {
            RecordId::Dispatcher => 0,
            RecordId::Worker(k) => k + 1,
            RecordId::Gateway => workers + 1,
        }
    }

    pub fn role(self) -> Role {
        match self {
            RecordId::Dispatcher => Role::Dispatcher,
            RecordId::Worker(_) => Role::Worker,
            RecordId::Gateway => Role::Gateway,
        }
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordId::Dispatcher => write!(f, "dispatcher"),
            RecordId::Worker(k) => write!(f, "worker {k}"),
            RecordId::Gateway => write!(f, "gateway"),
        }
    }
}

/// An attached segment.
pub struct Segment {
    map: Mapping,
    /// The instance's semaphore: replaced (by the watchdog, then followed by everyone) if it
    /// is removed from under the instance.
    semid: std::sync::atomic::AtomicI32,
    workers: usize,
    name: String,
    /// The creator's exclusive `flock` on the object itself, held for the instance's life:
    /// liveness that belongs to the instance, not to a path someone can remove.
    owner_lock: Option<nix::fcntl::Flock<std::os::fd::OwnedFd>>,
}

/// How long a process waits for the guard before giving up on one operation. Holders keep it
/// for microseconds; only a frozen (SIGSTOPped) holder makes anyone wait this long, and the
/// watchdog kills such a holder for its silent heartbeat.
pub const GUARD_TIMEOUT: Duration = Duration::from_secs(2);

impl Segment {
    /// True while the watchdog that created this segment is alive: it holds the object's lock
    /// (released by the kernel when it dies), whatever became of the runtime directory's files.
    pub fn owner_alive(&self) -> bool {
        self.owner_lock.is_some() || lifecycle::object_is_held(&self.name)
    }

    /// The POSIX name of the segment (under /dev/shm).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn semid(&self) -> i32 {
        self.semid.load(SeqCst)
    }

    /// Number of worker slots.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Every record id, in the segment's order: the dispatcher, each worker slot, the gateway.
    pub fn ids(&self) -> impl Iterator<Item = RecordId> {
        std::iter::once(RecordId::Dispatcher)
            .chain((0..self.workers).map(RecordId::Worker))
            .chain(std::iter::once(RecordId::Gateway))
    }

    /// Position of `id`'s record (its index in `ids()` and in a snapshot's records).
    pub fn index(&self, id: RecordId) -> usize {
        id.index(self.workers)
    }

    pub fn header(&self) -> &Header {
        self.map
            .get::<Header>(0)
            .expect("segment size validated at attach")
    }

    /// The record for `id`. Panics only on a programming error (an id out of range that did
    /// not come from `ids()` or a validated slot number).
    pub fn record(&self, id: RecordId) -> &Record {
        if let RecordId::Worker(k) = id {
            assert!(k < self.workers, "worker slot {k} out of range");
        }
        self.map
            .get::<Record>(HEADER_SIZE + id.index(self.workers) * RECORD_SIZE)
            .expect("segment size validated at attach")
    }

    /// Checks a slot number that came from outside (a FIFO notice, a command line).
    pub fn worker_id(&self, slot: u64) -> Option<RecordId> {
        usize::try_from(slot)
            .ok()
            .filter(|k| *k < self.workers)
            .map(RecordId::Worker)
    }

    /// Takes the guard, waiting at most `timeout`. If the semaphore was removed (`ipcrm`),
    /// follows the one the segment's header names now — after checking it is the instance's
    /// (ours, 0600, one semaphore) — never an id from anywhere else.
    pub fn lock(&self, timeout: Duration) -> Result<Guard<'_>> {
        let semid = self.semid();
        match sys::sem_lock(semid, timeout) {
            Ok(true) => Ok(Guard { seg: self, semid }),
            Ok(false) => Err(Error::Timeout(format!(
                "the segment guard was not free within {} ms",
                timeout.as_millis()
            ))),
            Err(e) if sys::sem_is_gone(&e) => match self.follow_semaphore(semid) {
                Some(_) => self.lock(timeout),
                None => Err(Error::io(
                    format!("taking the segment guard (semaphore {semid} was removed; the watchdog replaces it at its next poll)"),
                    e,
                )),
            },
            Err(e) => Err(Error::io("taking the segment guard", e)),
        }
    }

    /// Switches to the semaphore the header names, if it differs from `old` and is the
    /// instance's. Returns the new id.
    fn follow_semaphore(&self, old: i32) -> Option<i32> {
        let named = self.header().semid.load(SeqCst) as i32;
        if named == old || lifecycle::check_semaphore(named).is_err() {
            return None;
        }
        if self
            .semid
            .compare_exchange(old, named, SeqCst, SeqCst)
            .is_ok()
        {
            log::warn!("semaphore {old} is gone: using the instance's new one, {named}");
        }
        Some(named)
    }

    /// Current value of the guard semaphore (1 = free).
    pub fn guard_value(&self) -> Result<i32> {
        sys::sem_value(self.semid()).map_err(|e| Error::io("reading the segment guard", e))
    }

    /// Counts one request's dispatch time in the header's histogram (one word, no guard).
    pub fn record_dispatch_time(&self, took: std::time::Duration) {
        let k = (took.as_micros() as usize).min(DISPATCH_BUCKETS - 1);
        self.header().dispatch_hist[k].fetch_add(1, SeqCst);
    }

    /// A copy of the dispatch-time histogram.
    pub fn dispatch_histogram(&self) -> [u64; DISPATCH_BUCKETS] {
        let mut out = [0u64; DISPATCH_BUCKETS];
        for (o, cell) in out.iter_mut().zip(self.header().dispatch_hist.iter()) {
            *o = cell.load(SeqCst);
        }
        out
    }

    /// Stamps `id`'s heartbeat: one word, no guard needed.
    pub fn heartbeat(&self, id: RecordId) {
        self.record(id)
            .heartbeat_ms
            .store(crate::clock::monotonic_ms(), SeqCst);
    }

    /// A consistent copy of one record, read without the guard (seqlock). If a writer is in
    /// the middle of an update we retry a few times; a record left odd for good (its writer
    /// died) is returned with `torn = true`.
    pub fn read(&self, id: RecordId) -> RecordView {
        let r = self.record(id);
        for _ in 0..1000 {
            let s1 = r.seq.load(SeqCst);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let view = RecordView::load(id, r);
            if r.seq.load(SeqCst) == s1 {
                return view;
            }
        }
        let mut view = RecordView::load(id, r);
        view.torn = r.seq.load(SeqCst) % 2 == 1;
        view
    }

    /// A copy of the whole segment, record by record.
    pub fn snapshot(&self) -> Snapshot {
        let h = self.header();
        Snapshot {
            watchdog_pid: h.watchdog_pid.load(SeqCst),
            watchdog_heartbeat_ms: h.watchdog_heartbeat_ms.load(SeqCst),
            created_unix_ms: h.created_unix_ms.load(SeqCst),
            stopping: h.stopping.load(SeqCst) != 0,
            now_ms: crate::clock::monotonic_ms(),
            records: self.ids().map(|id| self.read(id)).collect(),
            pool: {
                let bounds = h.pool_bounds.load(SeqCst);
                view::PoolView {
                    min: (bounds >> 32) as u32,
                    max: bounds as u32,
                    scale_ups: h.scale_ups.load(SeqCst),
                    scale_downs: h.scale_downs.load(SeqCst),
                    served_by_type: std::array::from_fn(|k| h.served_by_type[k].load(SeqCst)),
                    failed_by_type: std::array::from_fn(|k| h.failed_by_type[k].load(SeqCst)),
                }
            },
        }
    }
}
