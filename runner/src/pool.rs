//! Each runner's sandboxes made in advance (`--sandbox-pool`), so a run only pays for handing
//! itself over. Two threads per runner make them, off the request path, and retire finished
//! runs (the sandbox's teardown awaited, its cgroup removed); a run that finds no sandbox of
//! its shape makes one itself.
//!
//! Nothing passes between runs: a sandbox takes one run and dies with it (`prefork.rs`). What
//! is shared is only what every run sees the same anyway: the read-only system view.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::maker::Maker;
use crate::prefork::{Retired, Sandbox};
pub use crate::refill::Keep;
use crate::refill::{refill, Shared, State};
use crate::sandbox::Shape;

/// Threads making sandboxes per runner: making one is mostly the kernel's work (namespaces,
/// mounts) and waits, so two keep up with back-to-back runs better than one.
const REFILLERS: usize = 2;

/// The longest a stopping pool waits for its threads' current step.
const STOP_WAIT: Duration = Duration::from_millis(500);

/// The longest a run waits for a sandbox coming back from a run before it makes its own.
const RETURN_WAIT: Duration = Duration::from_millis(20);

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
                    recycling: Vec::new(),
                    building: false,
                    build_sandbox: None,
                    stop: false,
                    pause_until: None,
                    warm_pending,
                }),
                wake: Condvar::new(),
                settled: Condvar::new(),
                returned: Condvar::new(),
            }),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Keeps up to `n` sandboxes of the first kind (runs) when they come back; only before
    /// the threads start (later: no effect).
    pub fn retain_up_to(&mut self, n: usize) {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            if let Some(k) = shared.keep.first_mut() {
                k.retain = k.retain.max(n);
            }
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

    /// A ready sandbox of `shape`, if the pool has one, or one it is making ready again
    /// within `RETURN_WAIT` (far cheaper than making a new one on the request path).
    pub fn take(&self, shape: Shape) -> Option<Sandbox> {
        self.warm();
        let started = self.started();
        let until = Instant::now() + RETURN_WAIT;
        let mut s = self.shared.lock();
        loop {
            if let Some(i) = s.ready.iter().position(|r| r.shape == shape) {
                let sandbox = s.ready.swap_remove(i);
                s.out.push(shape);
                self.shared.wake.notify_one();
                return Some(sandbox);
            }
            let coming =
                s.recycling.contains(&shape) || s.retire.iter().any(|r| r.zygote.shape == shape);
            let left = until.saturating_duration_since(Instant::now());
            if !started || !coming || left.is_zero() {
                return None;
            }
            s = match self.shared.returned.wait_timeout(s, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
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
