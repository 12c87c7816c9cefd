//! The supervisor: one small state machine per child, driven by an explicit table.
//!
//! | phase \ event | ready notice | exit (reaped)        | start timeout   | heartbeat stale | deadline due | stop requested  |
//! |---------------|--------------|----------------------|-----------------|-----------------|--------------|-----------------|
//! | Down          | –            | –                    | –               | –               | spawn        | stays Down      |
//! | Starting      | → Running    | policy               | SIGKILL → Stopping | –            | –            | SIGTERM → Stopping |
//! | Running       | –            | policy               | –               | SIGKILL → Stopping | –         | SIGTERM → Stopping |
//! | Stopping      | –            | policy (Down if stopping) | –          | –               | –            | –               |
//! | Backoff       | –            | –                    | –               | –               | spawn        | → Down          |
//! | Fatal         | –            | –                    | –               | –               | spawn (retry)| → Down          |
//!
//! "policy" is `policy::History::on_death`: restart now (→ Starting), later (→ Backoff) or
//! not until a cool-down (→ Fatal). "spawn" that fails counts as a death.
//!
//! Deaths are learned at once from SIGCHLD (the caller reaps with `waitpid` and calls
//! `on_exit`); the periodic poll is the backstop, the PID report and the hang check. The
//! watchdog only ever signals PIDs of its own unreaped children, which the kernel cannot give
//! to anyone else, never a PID read from shared memory.

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use kennel_common::clock;
use kennel_common::layout::{ExitCode, FatalReason, Supervision};
use kennel_common::notice::{Notice, NoticeKind, DISPATCHER_SLOT};
use kennel_common::segment::{RecordId, Segment, GUARD_TIMEOUT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::policy::{History, Next};
use crate::settings::Settings;
use crate::spawn;

/// Where a child is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Down,
    Starting {
        pid: Pid,
        since: Instant,
    },
    Running {
        pid: Pid,
        since: Instant,
    },
    Stopping {
        pid: Pid,
        since: Instant,
        started: Instant,
    },
    Backoff {
        until: Instant,
    },
    Fatal {
        until: Instant,
    },
}

impl Phase {
    /// The pid of a process that is (as far as we know) alive.
    pub fn pid(&self) -> Option<Pid> {
        match *self {
            Phase::Starting { pid, .. }
            | Phase::Running { pid, .. }
            | Phase::Stopping { pid, .. } => Some(pid),
            _ => None,
        }
    }

    fn started(&self) -> Option<Instant> {
        match *self {
            Phase::Starting { since, .. } | Phase::Running { since, .. } => Some(since),
            Phase::Stopping { started, .. } => Some(started),
            _ => None,
        }
    }
}

/// One supervised child.
#[derive(Debug)]
pub struct Child {
    pub id: RecordId,
    pub phase: Phase,
    pub history: History,
    /// Starts after the first one.
    pub restarts: u32,
    started_once: bool,
}

/// All children, and what the supervisor needs to act on them.
pub struct Supervisor<'a> {
    pub settings: &'a Settings,
    pub segment: &'a Segment,
    pub children: Vec<Child>,
    /// Set once stopping begins: deaths are no longer followed by restarts.
    pub stopping: bool,
    /// The port the first dispatcher bound; its successors bind the same one.
    pub dispatcher_port: Option<u16>,
}

impl<'a> Supervisor<'a> {
    pub fn new(settings: &'a Settings, segment: &'a Segment) -> Supervisor<'a> {
        let children = segment
            .ids()
            .map(|id| Child {
                id,
                phase: Phase::Down,
                history: History::default(),
                restarts: 0,
                started_once: false,
            })
            .collect();
        Supervisor {
            settings,
            segment,
            children,
            stopping: false,
            dispatcher_port: None,
        }
    }

    fn index_of_pid(&self, pid: Pid) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.phase.pid() == Some(pid))
    }

    /// Spawns child `i` now (phase Down, Backoff or Fatal → Starting).
    pub fn spawn(&mut self, i: usize) {
        let now = Instant::now();
        let child = &mut self.children[i];
        if child.started_once {
            child.restarts += 1;
        }
        child.started_once = true;
        let id = child.id;
        let restarts = child.restarts;
        match self.segment.lock(GUARD_TIMEOUT) {
            Ok(g) => g.reset_for_spawn(id, clock::monotonic_ms(), restarts),
            Err(e) => log::error!("{id}: could not reset its record before the start: {e}"),
        }
        match spawn::command(self.settings, id, self.dispatcher_port).spawn() {
            Ok(process) => {
                let pid = Pid::from_raw(process.id() as i32);
                // We reap with waitpid(-1); the std handle is not needed (dropping it neither
                // waits nor kills).
                drop(process);
                if let Ok(g) = self.segment.lock(GUARD_TIMEOUT) {
                    g.set_pid(id, pid.as_raw() as u32);
                }
                self.children[i].phase = Phase::Starting { pid, since: now };
                if restarts > 0 {
                    log::info!("{} restarted (pid {pid}, restart #{restarts})", id);
                } else {
                    log::info!("{} started (pid {pid})", id);
                }
            }
            Err(e) => {
                log::error!("{}: cannot spawn: {e}", id);
                self.after_death(i, now, Duration::ZERO, FatalReason::SpawnFailed);
            }
        }
    }

    /// A ready notice arrived on the watchdog FIFO.
    pub fn on_notice(&mut self, n: &Notice) {
        let id = if n.slot == DISPATCHER_SLOT {
            Some(RecordId::Dispatcher)
        } else {
            self.segment.worker_id(u64::from(n.slot))
        };
        let found = id.and_then(|id| self.children.iter().position(|c| c.id == id));
        let (Some(i), NoticeKind::Ready) = (found, n.kind) else {
            log::warn!("ignoring an unexpected notice on the watchdog FIFO: {n:?}");
            return;
        };
        let child = &mut self.children[i];
        match child.phase {
            Phase::Starting { pid, since } if pid.as_raw() as u32 == n.pid => {
                child.phase = Phase::Running { pid, since };
                let id = child.id;
                if let Ok(g) = self.segment.lock(GUARD_TIMEOUT) {
                    g.set_supervision(id, Supervision::Running, FatalReason::None);
                }
                let endpoint = self.segment.read(id).endpoint;
                if id == RecordId::Dispatcher && self.dispatcher_port.is_none() {
                    self.dispatcher_port = endpoint.map(|e| e.port());
                }
                let endpoint = endpoint.map_or_else(|| "?".into(), |e| e.to_string());
                log::info!(
                    "{} ready (pid {pid}, {endpoint}) {:.1} ms after its start",
                    id,
                    since.elapsed().as_secs_f64() * 1000.0
                );
            }
            _ => log::warn!(
                "ignoring a ready notice from pid {} for {}: not the process being started",
                n.pid,
                child.id
            ),
        }
    }

    /// A child was reaped.
    pub fn on_exit(&mut self, pid: Pid, exit: ExitCode) {
        let Some(i) = self.index_of_pid(pid) else {
            log::warn!("reaped pid {pid} ({exit}), which is not a child we track");
            return;
        };
        let now = Instant::now();
        let id = self.children[i].id;
        let ran_for = self.children[i]
            .phase
            .started()
            .map(|s| now.duration_since(s))
            .unwrap_or_default();
        let expected = matches!(self.children[i].phase, Phase::Stopping { .. }) && self.stopping;
        match self.segment.lock(GUARD_TIMEOUT) {
            Ok(g) => {
                g.mark_dead(id, exit);
                for (id, why) in g.repair_damaged() {
                    log::warn!("repaired {id}'s record, {why}");
                }
            }
            Err(e) => log::error!("{id} died but its record could not be updated: {e}"),
        }
        if expected {
            log::info!("{} (pid {pid}) stopped: {exit}", id);
            self.children[i].phase = Phase::Down;
            return;
        }
        log::warn!(
            "{} (pid {pid}) died: {exit}, after {:.3} s",
            id,
            ran_for.as_secs_f64()
        );
        self.after_death(i, now, ran_for, FatalReason::TooManyRestarts);
    }

    /// Applies the restart policy after a death (or a failed spawn).
    fn after_death(&mut self, i: usize, now: Instant, ran_for: Duration, reason: FatalReason) {
        if self.stopping {
            self.children[i].phase = Phase::Down;
            return;
        }
        let id = self.children[i].id;
        let next = self.children[i]
            .history
            .on_death(now, ran_for, &self.settings.policy);
        match next {
            Next::RestartNow => self.spawn(i),
            Next::RestartAfter(d) => {
                self.children[i].phase = Phase::Backoff { until: now + d };
                self.set_supervision(id, Supervision::Backoff, FatalReason::None);
                log::warn!(
                    "{} died {:.0} ms after its start: next start in {} ms (backoff)",
                    id,
                    ran_for.as_secs_f64() * 1000.0,
                    d.as_millis()
                );
            }
            Next::Fatal(cooldown) => {
                let why = if reason == FatalReason::SpawnFailed {
                    reason
                } else {
                    FatalReason::TooManyRestarts
                };
                self.children[i].phase = Phase::Fatal {
                    until: now + cooldown,
                };
                self.set_supervision(id, Supervision::Fatal, why);
                log::error!(
                    "{} is FATAL: {} (more than {} deaths in {} s); next try in {} s",
                    id,
                    why.describe(),
                    self.settings.policy.max_restarts,
                    self.settings.policy.window.as_secs(),
                    cooldown.as_secs()
                );
            }
        }
    }

    fn set_supervision(&self, id: RecordId, sup: Supervision, reason: FatalReason) {
        if let Ok(g) = self.segment.lock(GUARD_TIMEOUT) {
            g.set_supervision(id, sup, reason);
        }
    }

    /// Acts on every deadline that has passed: backoff and cool-down ends, start timeouts.
    pub fn run_deadlines(&mut self, now: Instant) {
        for i in 0..self.children.len() {
            match self.children[i].phase {
                Phase::Down | Phase::Backoff { .. } | Phase::Fatal { .. } if self.stopping => {
                    self.children[i].phase = Phase::Down;
                }
                Phase::Down => self.spawn(i),
                Phase::Backoff { until } | Phase::Fatal { until } if now >= until => self.spawn(i),
                Phase::Starting { pid, since }
                    if now.duration_since(since) > self.settings.start_timeout =>
                {
                    log::warn!(
                        "{} (pid {pid}) not ready within {} ms: killing it",
                        self.children[i].id,
                        self.settings.start_timeout.as_millis()
                    );
                    self.kill(i, Signal::SIGKILL, now);
                }
                _ => {}
            }
        }
    }

    /// The earliest instant at which `run_deadlines` has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.children
            .iter()
            .filter_map(|c| match c.phase {
                Phase::Backoff { until } | Phase::Fatal { until } => Some(until),
                Phase::Starting { since, .. } => Some(since + self.settings.start_timeout),
                Phase::Down => Some(Instant::now()),
                _ => None,
            })
            .min()
    }

    /// Kills every running child whose heartbeat is older than the hang timeout.
    pub fn check_hangs(&mut self, now: Instant) {
        let limit = self.settings.hang_timeout.as_millis() as u64;
        let now_ms = clock::monotonic_ms();
        for i in 0..self.children.len() {
            let Phase::Running { pid, .. } = self.children[i].phase else {
                continue;
            };
            let id = self.children[i].id;
            let beat = self.segment.record(id).heartbeat_ms.load(SeqCst);
            let age = now_ms.saturating_sub(beat);
            if age > limit {
                log::warn!(
                    "{} (pid {pid}) TIMEOUT: silent for {age} ms (hang timeout {limit} ms): \
                     killing it with SIGKILL",
                    id
                );
                self.kill(i, Signal::SIGKILL, now);
            }
        }
    }

    /// The poll's repair pass: restores the header if anyone scribbled on it, repairs damaged
    /// records (half-written by a dead writer, or holding impossible values), and re-asserts
    /// the supervision state of running children, which the dispatcher relies on.
    pub fn repair(&self) {
        for what in self.segment.restore_header_as_owner() {
            log::warn!("restored the segment header: {what}");
        }
        let g = match self.segment.lock(GUARD_TIMEOUT) {
            Ok(g) => g,
            Err(e) => {
                log::error!("poll: {e}");
                return;
            }
        };
        for (id, why) in g.repair_damaged() {
            log::warn!("repaired {id}'s record, {why}");
        }
        for c in &self.children {
            let sup = self.segment.record(c.id).supervision.load(SeqCst);
            if matches!(c.phase, Phase::Running { .. }) && sup != Supervision::Running as u32 {
                log::warn!("restored {}'s supervision state (found code {sup})", c.id);
                g.set_supervision(c.id, Supervision::Running, FatalReason::None);
            }
        }
    }

    /// Sends `sig` to child `i` and marks it Stopping.
    pub fn kill(&mut self, i: usize, sig: Signal, now: Instant) {
        let child = &mut self.children[i];
        let Some(pid) = child.phase.pid() else {
            return;
        };
        let started = child.phase.started().unwrap_or(now);
        if let Err(e) = kill(pid, sig) {
            log::warn!("sending {} to pid {pid}: {e}", sig.as_str());
        }
        child.phase = Phase::Stopping {
            pid,
            since: now,
            started,
        };
        if let Ok(g) = self.segment.lock(GUARD_TIMEOUT) {
            g.set_supervision(child.id, Supervision::Stopping, FatalReason::None);
        }
    }

    /// True when every child is Running.
    pub fn all_running(&self) -> bool {
        self.children
            .iter()
            .all(|c| matches!(c.phase, Phase::Running { .. }))
    }

    /// One line with every PID and state, for the periodic report.
    pub fn report(&self) -> String {
        let mut parts = vec![format!("watchdog {}", std::process::id())];
        for c in &self.children {
            let state = self.segment.read(c.id).display_state();
            let pid = c
                .phase
                .pid()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into());
            parts.push(format!("{} {pid} ({state})", c.id));
        }
        parts.join(", ")
    }

    /// Pids of the children in `ids` that are still alive.
    pub fn live_pids(&self, which: impl Fn(RecordId) -> bool) -> Vec<(usize, Pid)> {
        self.children
            .iter()
            .enumerate()
            .filter(|(_, c)| which(c.id))
            .filter_map(|(i, c)| c.phase.pid().map(|p| (i, p)))
            .collect()
    }
}
