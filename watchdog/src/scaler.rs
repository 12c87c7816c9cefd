//! The elastic pool (`--min-workers`/`--max-workers`): grows when requests wait, shrinks when
//! workers idle. It acts only on *vacant* slots and never on a worker the operator stopped,
//! through the machine's `Start`/`Stop` events like every other decision; every decision is
//! logged with its reason and counted in the segment's header.
//!
//! - **Up**: a request has waited for a worker longer than `--scale-up-after` (the
//!   dispatcher's `waiting` gauge), or every running worker is full (state `busy`): the lowest
//!   vacant slot is started — one at a time, the next once it is ready.
//! - **Down**: a worker beyond the floor (the minimum, or the size the operator last set with
//!   `kennelctl scale`) that has served nothing and held no client for
//!   `--idle-stop` is drained: SIGTERM, and it finishes what it holds (an assignment on its way
//!   included) before it exits; its slot is vacant again. No request fails because of it.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use kennel_common::layout::ProcState;
use kennel_common::segment::RecordId;

use crate::machine::{Event, Phase};
use crate::supervisor::Supervisor;

/// The scaler's memory between loop turns.
pub struct Scaler {
    /// Since when requests have been waiting, without a break.
    waiting_since: Option<Instant>,
    /// Per worker slot: last activity seen, and the counters it was seen with.
    last_active: Vec<Instant>,
    counters: Vec<(u64, u64)>,
}

impl Scaler {
    pub fn new(sup: &Supervisor, now: Instant) -> Scaler {
        let n = sup.settings().workers;
        sup.publish_bounds();
        Scaler {
            waiting_since: None,
            last_active: vec![now; n],
            counters: vec![(0, 0); n],
        }
    }

    /// Workers in the pool now (wanted up).
    pub fn active(sup: &Supervisor) -> usize {
        workers(sup).filter(|id| sup.life(*id).want_up).count()
    }

    /// One look at the load; at most one decision.
    pub fn tick(&mut self, sup: &mut Supervisor, now: Instant) {
        if sup.settings().min_workers == sup.settings().workers
            && sup.pool_floor() == sup.settings().workers
        {
            return; // a fixed pool: nothing to watch
        }
        self.observe(sup, now);
        if let Some(why) = self.wants_more(sup, now) {
            if let Some(id) = workers(sup).find(|id| vacant(sup, *id)) {
                grow(sup, id, &why, now);
                return;
            }
        }
        if Self::active(sup) > sup.pool_floor() {
            let idle = workers(sup).rev().find(|id| {
                sup.life(*id).want_up
                    && matches!(sup.life(*id).phase, Phase::Running { .. })
                    && now.duration_since(self.last_active[slot(*id)]) >= sup.settings().idle_stop
            });
            if let Some(id) = idle {
                let why = format!("{id} idle for {} s", sup.settings().idle_stop.as_secs_f64());
                shrink(sup, id, &why, now);
            }
        }
    }

    /// Notes which workers did something since the last look.
    fn observe(&mut self, sup: &Supervisor, now: Instant) {
        for id in workers(sup) {
            let r = sup.segment().read(id);
            let k = slot(id);
            let counters = (r.served, r.failed);
            let busy = r.tasks > 0 || r.state() != Some(ProcState::Idle);
            if busy
                || counters != self.counters[k]
                || !matches!(sup.life(id).phase, Phase::Running { .. })
            {
                self.last_active[k] = now;
            }
            self.counters[k] = counters;
        }
        let waiting = sup.segment().read(RecordId::Dispatcher).waiting > 0;
        self.waiting_since = match (waiting, self.waiting_since) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(now),
            (false, _) => None,
        };
    }

    /// Why the pool should grow now, if it should.
    fn wants_more(&self, sup: &Supervisor, now: Instant) -> Option<String> {
        let starting = workers(sup).any(|id| matches!(sup.life(id).phase, Phase::Starting { .. }));
        if starting || Self::active(sup) >= sup.settings().workers {
            return None;
        }
        if let Some(t) = self.waiting_since {
            let waited = now.duration_since(t);
            if waited >= sup.settings().scale_up_after {
                return Some(format!(
                    "requests waited {} ms for a worker",
                    waited.as_millis()
                ));
            }
        }
        let running: Vec<RecordId> = workers(sup)
            .filter(|id| matches!(sup.life(*id).phase, Phase::Running { .. }))
            .collect();
        let all_full = !running.is_empty()
            && running
                .iter()
                .all(|id| sup.segment().read(*id).state() == Some(ProcState::Busy));
        all_full.then(|| "every running worker is at capacity".to_string())
    }
}

fn workers(sup: &Supervisor) -> impl DoubleEndedIterator<Item = RecordId> {
    (0..sup.settings().workers).map(RecordId::Worker)
}

fn vacant(sup: &Supervisor, id: RecordId) -> bool {
    let l = sup.life(id);
    l.vacant && !l.want_up && matches!(l.phase, Phase::Down)
}

/// Starts the vacant slot `id`.
pub fn grow(sup: &mut Supervisor, id: RecordId, why: &str, now: Instant) {
    sup.handle(id, Event::Start, now);
    sup.segment().header().scale_ups.fetch_add(1, SeqCst);
    log::info!(
        "scaling up to a pool of {} ({why}): starting {id}",
        Scaler::active(sup)
    );
}

/// Drains `id` and makes its slot vacant.
pub fn shrink(sup: &mut Supervisor, id: RecordId, why: &str, now: Instant) {
    sup.handle(id, Event::Vacate, now);
    sup.segment().header().scale_downs.fetch_add(1, SeqCst);
    log::info!(
        "scaling down to a pool of {} ({why}): draining {id}",
        Scaler::active(sup)
    );
}

/// `kennelctl scale N`: the pool to `n` workers now, within [min, max], and `n` the floor the
/// scaler shrinks to from now on (it still grows past it under load); the highest slots drain
/// first.
pub fn scale_to(sup: &mut Supervisor, n: usize, now: Instant) -> Result<String, String> {
    let (min, max) = (sup.settings().min_workers, sup.settings().workers);
    if n > max {
        return Err(format!(
            "scale {n}: this instance has {max} worker slots (--max-workers); a larger pool needs a new instance"
        ));
    }
    if n == 0 {
        return Err(
            "scale 0: a pool keeps at least one worker (stop the instance with shutdown)".into(),
        );
    }
    if n < min {
        log::info!("the pool's minimum lowered from {min} to {n} (kennelctl scale)");
    }
    let before = Scaler::active(sup);
    // Below the minimum: the minimum follows (until a reload or restart sets it again).
    sup.set_pool(min.min(n), n);
    while Scaler::active(sup) < n {
        let Some(id) = workers(sup).find(|id| vacant(sup, *id)) else {
            return Err(format!(
                "scale {n}: only {} slots can run (the others are stopped: start them)",
                Scaler::active(sup)
            ));
        };
        grow(sup, id, "kennelctl scale", now);
    }
    while Scaler::active(sup) > n {
        let Some(id) = workers(sup).rev().find(|id| sup.life(*id).want_up) else {
            break;
        };
        shrink(sup, id, "kennelctl scale", now);
    }
    let min_now = sup.settings().min_workers;
    let bounds = if min_now < min {
        format!("the minimum lowered from {min} to {min_now}, the maximum {max}")
    } else {
        format!("between {min_now} and {max}")
    };
    Ok(format!("pool: {n} workers (was {before}; {bounds})"))
}

/// A worker's slot number (the scaler only ever looks at workers).
fn slot(id: RecordId) -> usize {
    match id {
        RecordId::Worker(k) => k,
        _ => unreachable!("the scaler only looks at workers"),
    }
}
