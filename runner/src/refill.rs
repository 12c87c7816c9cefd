//! The pool's threads (`pool.rs`): they retire finished runs (the sandbox back for another
//! run, or let go), make the sandboxes the pool lacks, and build the warm toolchain files.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::cgroup::RunLimits;
use crate::maker::Maker;
use crate::prefork::{Retired, Sandbox};
use crate::sandbox::Shape;

/// How long the pool waits after a sandbox could not be made before it tries again.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(2);

/// What the pool keeps ready: `count` sandboxes of `shape` made in advance, their cgroups
/// set to `limits`; up to `retain` of them kept when they come back from runs (a worker
/// running that many at once made the others on the spot: keeping them spares making them
/// again at the next burst).
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    pub shape: Shape,
    pub limits: RunLimits,
    pub count: usize,
    pub retain: usize,
}

pub(crate) struct State {
    pub(crate) ready: Vec<Sandbox>,
    pub(crate) retire: Vec<Retired>,
    /// Threads making a sandbox, building a warm file or removing cgroups.
    pub(crate) busy: usize,
    /// The shapes being made (or made ready again) now.
    pub(crate) making: Vec<Shape>,
    /// The shapes of sandboxes taken for a run and not retired yet: they come back.
    pub(crate) out: Vec<Shape>,
    /// The shapes of sandboxes back from a run being made ready for another.
    pub(crate) recycling: Vec<Shape>,
    /// A thread is building a warm toolchain file (in the sandbox of this bwrap, once known).
    pub(crate) building: bool,
    pub(crate) build_sandbox: Option<std::os::fd::OwnedFd>,
    pub(crate) stop: bool,
    /// No new sandbox before this (one could not be made).
    pub(crate) pause_until: Option<Instant>,
    /// Warm toolchain files may be left to build here.
    pub(crate) warm_pending: bool,
}

pub(crate) struct Shared {
    pub(crate) maker: Maker,
    pub(crate) keep: Vec<Keep>,
    pub(crate) state: Mutex<State>,
    /// Wakes the thread: a sandbox was taken, a cgroup retired, or the pool stops.
    pub(crate) wake: Condvar,
    /// Wakes `settle`: the thread has nothing left to do.
    pub(crate) settled: Condvar,
    /// Wakes `Pool::take`: a sandbox is ready again.
    pub(crate) returned: Condvar,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first kind of sandbox short of its count, if any may be made now.
    pub(crate) fn short(&self, s: &State) -> Option<Keep> {
        if s.pause_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        self.keep.iter().find(|k| lacks(s, k)).copied()
    }

    /// What the pool keeps of `shape`, if it lacks one (a sandbox back from a run is kept).
    pub(crate) fn wants(&self, s: &State, shape: Shape) -> Option<Keep> {
        self.keep
            .iter()
            .find(|k| k.shape == shape && holds(s, k) < k.retain.max(k.count))
            .copied()
    }
}

/// The pool's threads: each retires finished runs (keeping their sandboxes for more runs, or
/// ending them), makes what is short, builds the warm toolchain files once the pool is full
/// (one thread at a time), sleeps when none is left.
pub(crate) fn refill(shared: &Shared) {
    loop {
        let mut s = shared.lock();
        while !s.stop && s.retire.is_empty() && !may_build(&s) && shared.short(&s).is_none() {
            if s.busy == 0 {
                shared.settled.notify_all();
            }
            let nap = s
                .pause_until
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600))
                .max(Duration::from_millis(1));
            s = match shared.wake.wait_timeout(s, nap) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        if s.stop {
            return stop(shared, s);
        }
        s.busy += 1;
        let (recycle, finish) = sort_retired(shared, &mut s);
        // Runs waiting for a sandbox to come back: this step only retires, the next makes.
        let retiring = !recycle.is_empty() || !finish.is_empty();
        let short = shared.short(&s).filter(|_| !retiring);
        if let Some(k) = &short {
            s.making.push(k.shape);
        }
        let build = !retiring && short.is_none() && may_build(&s);
        s.building |= build;
        drop(s);
        for r in finish {
            r.finish(false);
        }
        // Back from a run: once its namespace is gone, the next run's init (fast: a fork).
        let mut made: Vec<(Shape, Result<Sandbox, String>)> = recycle
            .into_iter()
            .map(|(r, k)| {
                let again = match r.finish(true) {
                    Some((z, kept)) => shared.maker.arm(z, kept, &k.limits),
                    None => Err("its last run did not end".into()),
                };
                (
                    k.shape,
                    again.map_err(|e| format!("kept for another run: {e}")),
                )
            })
            .collect();
        let built = build.then(|| build_warm(shared));
        let fresh = short.map(|k| (k.shape, shared.maker.make(k.shape, &k.limits)));
        let new_failed = matches!(fresh, Some((_, Err(_))));
        made.extend(fresh);
        let mut s = shared.lock();
        s.busy -= 1;
        if let Some(more) = built {
            s.building = false;
            s.warm_pending = more;
        }
        for (shape, made) in made {
            if let Some(i) = s.making.iter().position(|m| *m == shape) {
                s.making.swap_remove(i);
            }
            if let Some(i) = s.recycling.iter().position(|m| retiring && *m == shape) {
                s.recycling.swap_remove(i);
            }
            match made {
                Ok(sandbox) => s.ready.push(sandbox),
                Err(e) => log::warn!("a sandbox for the pool: {e}"),
            }
        }
        if new_failed {
            log::warn!("no new sandbox for the pool: retrying in {RETRY_AFTER:?}");
            s.pause_until = Some(Instant::now() + RETRY_AFTER);
        }
        shared.returned.notify_all();
    }
}

/// The pool stops: every sandbox ready or retired is let go.
fn stop(shared: &Shared, mut s: MutexGuard<'_, State>) {
    let ready = std::mem::take(&mut s.ready);
    let retire = std::mem::take(&mut s.retire);
    drop(s);
    ready.into_iter().for_each(Sandbox::end);
    for r in retire {
        r.finish(false);
    }
    shared.settled.notify_all();
    shared.wake.notify_all();
}

/// Builds the next warm toolchain file; whether one was built (more may be left).
fn build_warm(shared: &Shared) -> bool {
    // A pidfd, taken while the sandbox is our unreaped child: it cannot name another.
    let running = |pid: Option<u32>| {
        shared.lock().build_sandbox = pid.and_then(|p| kennel_common::sys::pidfd_open(p).ok())
    };
    let built = crate::warm_build::build_next(&shared.maker, &running);
    match &built {
        Some(Ok(a)) => log::info!("warm toolchain file built: {a:?}"),
        Some(Err(e)) => log::warn!("a warm toolchain file could not be built: {e}"),
        None => {}
    }
    matches!(built, Some(Ok(_)))
}

/// The retired runs, split into the sandboxes the pool keeps for another run (marked as
/// being made) and those it lets go.
#[allow(clippy::type_complexity)]
fn sort_retired(shared: &Shared, s: &mut State) -> (Vec<(Retired, Keep)>, Vec<Retired>) {
    let (mut recycle, mut finish) = (Vec::new(), Vec::new());
    for r in std::mem::take(&mut s.retire) {
        let shape = r.zygote.shape;
        if let Some(i) = s.out.iter().position(|o| *o == shape) {
            s.out.swap_remove(i);
        }
        match shared.wants(s, shape) {
            Some(k) => {
                s.making.push(k.shape);
                s.recycling.push(k.shape);
                recycle.push((r, k));
            }
            None => finish.push(r),
        }
    }
    (recycle, finish)
}

/// Whether the pool has fewer than `k.count` sandboxes of its shape: ready, being made, or
/// out for a run (those come back).
pub(crate) fn lacks(s: &State, k: &Keep) -> bool {
    holds(s, k) < k.count
}

/// The sandboxes of `k.shape` the pool holds: ready, being made, or out for a run.
fn holds(s: &State, k: &Keep) -> usize {
    let of = |v: &[Shape]| v.iter().filter(|m| **m == k.shape).count();
    let ready = s.ready.iter().filter(|r| r.shape == k.shape).count();
    ready + of(&s.making) + of(&s.out)
}

/// Whether a thread may start building a warm toolchain file.
pub(crate) fn may_build(s: &State) -> bool {
    s.warm_pending && !s.building
}
