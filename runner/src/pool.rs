//! Each runner's sandboxes made in advance (`--sandbox-pool`), so a run only pays for handing
//! itself over. Two threads per runner make them, off the request path, and retire finished
//! runs (the sandbox's teardown awaited, its cgroup removed); a run that finds no sandbox of
//! its shape makes one itself.
//!
//! Nothing passes between runs: a sandbox takes one run and dies with it (`prefork.rs`). What
//! is shared is only what every run sees the same anyway: the read-only system view.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cgroup::RunLimits;
pub use crate::maker::Maker;
use crate::prefork::{Retired, Sandbox};
use crate::sandbox::Shape;

/// Threads making sandboxes per runner: making one is mostly the kernel's work (namespaces,
/// mounts) and waits, so two keep up with back-to-back runs better than one.
const REFILLERS: usize = 2;

/// The longest a stopping pool waits for its threads' current step.
const STOP_WAIT: Duration = Duration::from_millis(500);

/// How long the pool waits after a sandbox could not be made before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// What the pool keeps ready: `count` sandboxes of `shape`, their cgroups set to `limits`.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    pub shape: Shape,
    pub limits: RunLimits,
    pub count: usize,
}

struct State {
    ready: Vec<Sandbox>,
    retire: Vec<Retired>,
    /// Threads making a sandbox, building a warm file or removing cgroups.
    busy: usize,
    /// The shapes being made (or made ready again) now.
    making: Vec<Shape>,
    /// The shapes of sandboxes taken for a run and not retired yet: they come back.
    out: Vec<Shape>,
    /// A thread is building a warm toolchain file (in the sandbox of this bwrap, once known).
    building: bool,
    build_sandbox: Option<std::os::fd::OwnedFd>,
    stop: bool,
    /// No new sandbox before this (one could not be made).
    pause_until: Option<Instant>,
    /// Warm toolchain files may be left to build here.
    warm_pending: bool,
}

struct Shared {
    maker: Maker,
    keep: Vec<Keep>,
    state: Mutex<State>,
    /// Wakes the thread: a sandbox was taken, a cgroup retired, or the pool stops.
    wake: Condvar,
    /// Wakes `settle`: the thread has nothing left to do.
    settled: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first kind of sandbox short of its count, if any may be made now.
    fn short(&self, s: &State) -> Option<Keep> {
        if s.pause_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        self.keep.iter().find(|k| lacks(s, k)).copied()
    }

    /// What the pool keeps of `shape`, if it lacks one (a sandbox back from a run is kept).
    fn wants(&self, s: &State, shape: Shape) -> Option<Keep> {
        self.keep
            .iter()
            .find(|k| k.shape == shape && lacks(s, k))
            .copied()
    }
}

/// The runner's pool and its thread (started by `warm`, stopped when the pool is dropped).
pub struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("keep", &self.shared.keep)
            .finish()
    }
}

impl Pool {
    pub fn new(maker: Maker, keep: Vec<Keep>) -> Pool {
        let keep: Vec<Keep> = keep.into_iter().filter(|k| k.count > 0).collect();
        let warm_pending = maker.warm.is_some();
        Pool {
            shared: Arc::new(Shared {
                maker,
                keep,
                state: Mutex::new(State {
                    ready: Vec::new(),
                    retire: Vec::new(),
                    busy: 0,
                    making: Vec::new(),
                    out: Vec::new(),
                    building: false,
                    build_sandbox: None,
                    stop: false,
                    pause_until: None,
                    warm_pending,
                }),
                wake: Condvar::new(),
                settled: Condvar::new(),
            }),
            threads: Mutex::new(Vec::new()),
        }
    }

    pub fn maker(&self) -> &Maker {
        &self.shared.maker
    }

    /// Starts the threads that fill the pool (once; a worker calls it when it is ready).
    pub fn warm(&self) {
        if self.shared.keep.is_empty() {
            return;
        }
        let mut t = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        if !t.is_empty() {
            return;
        }
        for k in 0..REFILLERS {
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("sandbox-pool-{k}"))
                .spawn(move || refill(&shared));
            match spawned {
                Ok(h) => t.push(h),
                Err(e) => log::warn!("a sandbox pool thread not started: {e}"),
            }
        }
    }

    fn started(&self) -> bool {
        !self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// A ready sandbox of `shape`, if the pool has one.
    pub fn take(&self, shape: Shape) -> Option<Sandbox> {
        self.warm();
        let mut s = self.shared.lock();
        let i = s.ready.iter().position(|r| r.shape == shape)?;
        let sandbox = s.ready.swap_remove(i);
        s.out.push(shape);
        self.shared.wake.notify_one();
        Some(sandbox)
    }

    /// A finished run: its sandbox's teardown awaited and its cgroup removed by the pool's
    /// threads (or here, without them).
    pub fn retire(&self, done: Retired) {
        if !self.started() {
            done.finish(false);
            return;
        }
        self.shared.lock().retire.push(done);
        self.shared.wake.notify_one();
    }

    /// Waits (at most `within`) until the thread has nothing left to do: the pool full, every
    /// retired cgroup removed. True if it settled.
    pub fn settle(&self, within: Duration) -> bool {
        if !self.started() {
            return true;
        }
        let until = Instant::now() + within;
        let mut s = self.shared.lock();
        loop {
            if s.busy == 0
                && s.retire.is_empty()
                && !s.warm_pending
                && self.shared.short(&s).is_none()
            {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = match self.shared.settled.wait_timeout(s, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// The cgroup directories of the sandboxes waiting in the pool.
    pub fn waiting_cgroups(&self) -> Vec<PathBuf> {
        let s = self.shared.lock();
        s.ready.iter().flat_map(|r| r.cgroup_dirs()).collect()
    }

    /// How many sandboxes wait in the pool now.
    pub fn ready(&self) -> usize {
        self.shared.lock().ready.len()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut s = self.shared.lock();
        s.stop = true;
        // A warm file half built is not waited for (a worker stopping would wait seconds):
        // its sandbox is killed, the build fails, the next instance builds it again.
        if let Some(pidfd) = s.build_sandbox.take() {
            let _ = kennel_common::sys::pidfd_kill(&pidfd);
        }
        self.shared.wake.notify_all();
        // The threads end once their current step does: a sandbox being made (its first
        // cgroup set-up may wait on a dead worker's leftovers), a retirement. A stopping
        // worker waits at most STOP_WAIT for them; one still busy then is left to end with
        // the process (its sandboxes die with it, PR_SET_PDEATHSIG; the watchdog sweeps any
        // launcher caught mid-start).
        let until = Instant::now() + STOP_WAIT;
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        while handles.iter().any(|h| !h.is_finished()) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!("sandbox pool threads still busy after {STOP_WAIT:?}: not waited for");
                break;
            }
            s = match self
                .shared
                .settled
                .wait_timeout(s, left.min(Duration::from_millis(50)))
            {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        drop(s);
        for h in handles.into_iter().filter(|h| h.is_finished()) {
            let _ = h.join();
        }
    }
}

/// The pool's threads: each removes retired cgroups, makes what is short, builds the warm
/// toolchain files once the pool is full (one thread at a time), sleeps when none is left.
/// The sandboxes a thread makes die with it (`PR_SET_PDEATHSIG`), so it lives as long as
/// the pool.
fn refill(shared: &Shared) {
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
            let ready = std::mem::take(&mut s.ready);
            let retire = std::mem::take(&mut s.retire);
            drop(s);
            for c in ready.into_iter().flat_map(Sandbox::discard) {
                c.remove();
            }
            for r in retire {
                r.finish(false);
            }
            shared.settled.notify_all();
            shared.wake.notify_all();
            return;
        }
        s.busy += 1;
        let (recycle, finish) = sort_retired(shared, &mut s);
        let short = shared.short(&s);
        if let Some(k) = &short {
            s.making.push(k.shape);
        }
        let build = short.is_none() && may_build(&s);
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
                    Some(z) => shared.maker.arm(z, &k.limits),
                    None => Err("its last run did not end".into()),
                };
                (
                    k.shape,
                    again.map_err(|e| format!("kept for another run: {e}")),
                )
            })
            .collect();
        let built = if build {
            // A pidfd, taken while the sandbox is our unreaped child: it cannot name another.
            let running = |pid: Option<u32>| {
                shared.lock().build_sandbox =
                    pid.and_then(|p| kennel_common::sys::pidfd_open(p).ok())
            };
            let built = crate::warm_build::build_next(&shared.maker, &running);
            match &built {
                Some(Ok(a)) => log::info!("warm toolchain file built: {a:?}"),
                Some(Err(e)) => log::warn!("a warm toolchain file could not be built: {e}"),
                None => {}
            }
            Some(matches!(built, Some(Ok(_))))
        } else {
            None
        };
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
            match made {
                Ok(sandbox) => s.ready.push(sandbox),
                Err(e) => log::warn!("a sandbox for the pool: {e}"),
            }
        }
        if new_failed {
            log::warn!("no new sandbox for the pool: retrying in {RETRY_AFTER:?}");
            s.pause_until = Some(Instant::now() + RETRY_AFTER);
        }
    }
}

/// The retired runs, split into the sandboxes the pool keeps for another run (marked as
/// being made) and those it lets go.
#[allow(clippy::type_complexity)]
fn sort_retired(shared: &Shared, s: &mut State) -> (Vec<(Retired, Keep)>, Vec<Retired>) {
    let (mut recycle, mut finish) = (Vec::new(), Vec::new());
    for r in std::mem::take(&mut s.retire) {
        let shape = r.zygote.as_ref().map(|z| z.shape);
        if let Some(i) = shape.and_then(|sh| s.out.iter().position(|o| *o == sh)) {
            s.out.swap_remove(i);
        }
        match shape.and_then(|sh| shared.wants(s, sh)) {
            Some(k) => {
                s.making.push(k.shape);
                recycle.push((r, k));
            }
            None => finish.push(r),
        }
    }
    (recycle, finish)
}

/// Whether the pool has fewer than `k.count` sandboxes of its shape: ready, being made, or
/// out for a run (those come back).
fn lacks(s: &State, k: &Keep) -> bool {
    let of = |v: &[Shape]| v.iter().filter(|m| **m == k.shape).count();
    let ready = s.ready.iter().filter(|r| r.shape == k.shape).count();
    ready + of(&s.making) + of(&s.out) < k.count
}

/// Whether a thread may start building a warm toolchain file.
fn may_build(s: &State) -> bool {
    s.warm_pending && !s.building
}
