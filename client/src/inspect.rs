//! kennelctl's access to an instance: a read-only attachment to the segment, the watchdog's
//! liveness (its instance lock), and checks that go beyond the segment itself (are the PIDs in
//! the slots really children of the watchdog?).

use kennel_common::invariants::{self, Violation};
use kennel_common::layout::ProcState;
use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, Segment, Snapshot};
use kennel_common::Result;

use crate::status::{Context, WatchdogLiveness};

/// A read-only view of a running (or dead) instance.
pub struct Inspector {
    pub runtime: RuntimeDir,
    pub segment: Segment,
}

impl Inspector {
    pub fn open(runtime: RuntimeDir) -> Result<Inspector> {
        let segment = Segment::attach(&runtime, Access::ReadOnly)?;
        Ok(Inspector { runtime, segment })
    }

    /// Alive if someone holds the instance lock (we cannot take it, even shared).
    /// Alive while the watchdog that created the segment holds the segment's own lock (the
    /// kernel releases it when that watchdog dies); a removed `watchdog.lock` changes nothing.
    pub fn watchdog_liveness(&self) -> WatchdogLiveness {
        if self.segment.owner_alive() {
            WatchdogLiveness::Alive
        } else {
            WatchdogLiveness::Gone
        }
    }

    pub fn context(&self) -> Context {
        Context {
            runtime_dir: self.runtime.path().display().to_string(),
            segment_name: self.segment.name().to_string(),
            watchdog: self.watchdog_liveness(),
        }
    }

    /// Every invariant of the segment, plus: the watchdog is alive, the guard is not stuck,
    /// no child is FATAL (a child that cannot stay up is never a silent state), and each live
    /// record's PID is a child of the watchdog.
    pub fn check(&self, snapshot: &Snapshot) -> Vec<Violation> {
        let mut out = invariants::check(snapshot);
        for r in &snapshot.records {
            use kennel_common::layout::Supervision;
            match r.supervision() {
                Some(Supervision::Fatal) => {
                    let why = r.fatal_reason().map_or("unknown reason", |f| f.describe());
                    out.push(Violation {
                        invariant: "child-not-fatal",
                        record: Some(r.id),
                        detail: format!("{} is FATAL: {why}", r.id),
                    });
                }
                Some(Supervision::Backoff) if !snapshot.stopping => out.push(Violation {
                    invariant: "child-up",
                    record: Some(r.id),
                    detail: format!("{} is down, waiting to be started again (backoff)", r.id),
                }),
                _ => {}
            }
        }
        if self.watchdog_liveness() == WatchdogLiveness::Gone {
            out.push(Violation {
                invariant: "watchdog-alive",
                record: None,
                detail: "nobody holds the instance lock: the segment is stale".into(),
            });
        }
        if let Some(v) = self.stuck_guard() {
            out.push(v);
        }
        for r in &snapshot.records {
            let live = matches!(
                r.state(),
                Some(ProcState::Idle | ProcState::Assigned | ProcState::Busy)
            );
            let Some(pid) = r.pid().filter(|_| live && !r.torn) else {
                continue;
            };
            match parent_of(pid) {
                Some(ppid) if ppid == snapshot.watchdog_pid => {}
                Some(ppid) => out.push(Violation {
                    invariant: "pid-is-child",
                    record: Some(r.id),
                    detail: format!(
                        "pid {pid} is a child of {ppid}, not of the watchdog ({})",
                        snapshot.watchdog_pid
                    ),
                }),
                None => out.push(Violation {
                    invariant: "pid-is-child",
                    record: Some(r.id),
                    detail: format!("pid {pid} does not exist"),
                }),
            }
        }
        out
    }

    /// The guard semaphore held continuously for half a second means a wedged holder.
    fn stuck_guard(&self) -> Option<Violation> {
        let start = std::time::Instant::now();
        loop {
            match self.segment.guard_value() {
                Ok(1) => return None,
                Ok(0) => {}
                Ok(v) => {
                    return Some(Violation {
                        invariant: "guard-value",
                        record: None,
                        detail: format!("guard semaphore value {v}, expected 0 or 1"),
                    })
                }
                Err(e) => {
                    return Some(Violation {
                        invariant: "guard-value",
                        record: None,
                        detail: e.to_string(),
                    })
                }
            }
            if start.elapsed() > std::time::Duration::from_millis(500) {
                return Some(Violation {
                    invariant: "guard-free",
                    record: None,
                    detail: "the guard stayed taken for 500 ms".into(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

pub use kennel_common::procfs::parent_of;
