//! The supervisor's brain: one pure transition function per child, s6-supervise's habit.
//!
//! `step(life, event, now, rules) -> (life, effects)` decides; the driver
//! (`supervisor.rs`) performs the effects (spawn, signal, log) and feeds back what they
//! produced (`Spawned`, `SpawnFailed`). Nothing here touches a process, a clock or the
//! segment, so every cell of the table below is a unit test (`tests/table.rs` beside this file).
//!
//! | phase \ event | Deadline               | Spawned      | SpawnFailed | Ready (same pid) | Exited (same pid)     | Hung              | Stop                   | Start       |
//! |---------------|------------------------|--------------|-------------|------------------|-----------------------|-------------------|------------------------|-------------|
//! | Down          | spawn if wanted up     | → Starting   | policy      | –                | –                     | –                 | stays Down (want down) | spawn       |
//! | Starting      | start timeout: SIGKILL → Stopping | – | –          | → Running        | policy                | –                 | SIGTERM → Stopping     | –           |
//! | Running       | –                      | –            | –           | –                | policy                | SIGKILL → Stopping| SIGTERM → Stopping     | –           |
//! | Stopping      | grace over: SIGKILL    | –            | –           | –                | Down if wanted down, else policy | –      | (want down)            | (want up)   |
//! | Backoff       | when due: → Down, spawn| –            | –           | –                | –                     | –                 | → Down                 | → Down, spawn |
//! | Fatal         | when due: → Down, spawn| –            | –           | –                | –                     | –                 | → Down                 | → Down, spawn |
//!
//! "policy" is `policy::History::on_death`: restart now (spawn), later (→ Backoff) or not until
//! a cool-down (→ Fatal); while the child is wanted down a death only leads to Down. A spawn
//! that fails counts as a death. "–" means the event is ignored (logged by the driver when it
//! names a pid we are not tracking). A `Spawn` effect always leaves the child Down, so the
//! `Spawned`/`SpawnFailed` the driver reports back always lands in the Down row.
//! `Stop`/`Start` set what the child is *wanted* to be, as s6's `want up`/`want down`: a
//! stopped child is never revived by supervision. `Vacate` (not a column: it is `Stop` in every
//! row) also marks a worker's slot vacant, which the pool's scaler may start again; `Start`
//! clears that mark. Nothing outside this function changes a life.

use std::time::{Duration, Instant};

use kennel_common::layout::{ExitCode, FatalReason, KillReason};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

pub use crate::life::{deadline, published, Life, Phase, Rules, StopReason};
use crate::policy::{judge, Death, Next};

/// Something that happened to a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The clock passed `deadline(life)`.
    Deadline,
    /// The driver spawned the process asked for by `Effect::Spawn`.
    Spawned { pid: Pid },
    /// The driver could not spawn it.
    SpawnFailed,
    /// A ready notice from `pid`.
    Ready { pid: Pid },
    /// `pid` was reaped.
    Exited { pid: Pid, exit: ExitCode },
    /// Its heartbeat is older than the hang timeout: silent for that long.
    Hung { silent_ms: u64 },
    /// Want it down (instance stop, control verb).
    Stop,
    /// Want it down, its slot left vacant for the pool's scaler to start again (scaling down).
    Vacate,
    /// Want it up again (a vacant slot is no longer vacant).
    Start,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start the process (then report `Spawned` or `SpawnFailed`).
    Spawn,
    /// Send a signal to the tracked pid.
    Signal(Pid, Signal),
    /// Record a death in the child's record.
    /// Record a death in the child's record, with why the watchdog killed it, if it did.
    MarkDead(ExitCode, KillReason),
    /// Say something, at a level, about this child (the driver prefixes its name).
    Log(log::Level, String),
}

/// The one transition function. Pure: same inputs, same outputs. Each cell of the table is a
/// named action below (s6's `actions[state][event]`); the match only says which.
pub fn step(life: &Life, event: Event, now: Instant, p: &Rules) -> (Life, Vec<Effect>) {
    let mut c = Cell {
        next: life.clone(),
        fx: Vec::new(),
        now,
        p,
    };
    match (life.phase, event) {
        // Starting a process: asked for, or a timer ran out.
        (Phase::Down, Event::Deadline) if life.want_up => c.spawn(),
        (Phase::Backoff { until } | Phase::Fatal { until, .. }, Event::Deadline)
            if now >= until =>
        {
            c.spawn()
        }
        (Phase::Down | Phase::Backoff { .. } | Phase::Fatal { .. }, Event::Start) => c.start(),
        (Phase::Down, Event::Spawned { pid }) => c.spawned(pid),
        (Phase::Down, Event::SpawnFailed) => c.spawn_failed(),
        // Readiness and its absence.
        (Phase::Starting { pid, since }, Event::Ready { pid: from }) if pid == from => {
            c.ready(pid, since)
        }
        (Phase::Starting { pid, since }, Event::Deadline)
            if now.duration_since(since) > p.start_timeout =>
        {
            c.start_timed_out(pid)
        }
        (Phase::Running { pid, .. }, Event::Hung { silent_ms }) => c.hung(pid, silent_ms),
        // Stopping on request (a vacated slot is a stopped one the pool may start again).
        (Phase::Starting { .. } | Phase::Running { .. }, Event::Stop | Event::Vacate) => {
            c.stop_process(event)
        }
        (
            Phase::Down | Phase::Backoff { .. } | Phase::Fatal { .. },
            Event::Stop | Event::Vacate,
        ) => c.stop_idle(event),
        (Phase::Stopping { .. }, Event::Stop | Event::Vacate) => c.want_down(event),
        (Phase::Stopping { .. }, Event::Start) => c.want_up(),
        (
            Phase::Stopping {
                pid,
                since,
                killed: false,
                ..
            },
            Event::Deadline,
        ) if now.duration_since(since) >= p.grace => c.grace_over(pid),
        // A death.
        (phase, Event::Exited { pid, exit }) if phase.pid() == Some(pid) => {
            c.exited(phase, pid, exit)
        }
        _ => {} // Every other cell: nothing happens.
    }
    (c.next, c.fx)
}

/// One transition in the making: the life it leads to and the effects it asks for.
struct Cell<'p> {
    next: Life,
    fx: Vec<Effect>,
    now: Instant,
    p: &'p Rules,
}

impl Cell<'_> {
    fn log(&mut self, level: log::Level, msg: String) {
        self.fx.push(Effect::Log(level, msg));
    }

    fn spawn(&mut self) {
        spawn(&mut self.next, &mut self.fx);
    }

    /// Wanted up (an operator's start, or the pool growing into a vacant slot).
    fn start(&mut self) {
        self.want_up();
        self.spawn();
    }

    fn want_up(&mut self) {
        self.next.want_up = true;
        self.next.vacant = false;
    }

    /// Wanted down; `Vacate` also leaves the slot to the pool's scaler.
    fn want_down(&mut self, event: Event) {
        self.next.want_up = false;
        if event == Event::Vacate {
            self.next.vacant = true;
        }
    }

    fn spawned(&mut self, pid: Pid) {
        self.next.phase = Phase::Starting {
            pid,
            since: self.now,
        };
        let msg = match self.next.restarts {
            0 => format!("started (pid {pid})"),
            n => format!("restarted (pid {pid}, restart #{n})"),
        };
        self.log(log::Level::Info, msg);
    }

    fn spawn_failed(&mut self) {
        let (now, p) = (self.now, self.p);
        after_death(
            &mut self.next,
            &mut self.fx,
            now,
            Duration::ZERO,
            Death::Failure,
            FatalReason::SpawnFailed,
            p,
        );
    }

    fn ready(&mut self, pid: Pid, since: Instant) {
        self.next.phase = Phase::Running {
            pid,
            since,
            ready: self.now,
        };
    }

    fn start_timed_out(&mut self, pid: Pid) {
        let msg = format!(
            "(pid {pid}) not ready within {} ms: killing it",
            self.p.start_timeout.as_millis()
        );
        self.log(log::Level::Warn, msg);
        self.kill(Signal::SIGKILL, StopReason::StartTimeout);
    }

    fn hung(&mut self, pid: Pid, silent_ms: u64) {
        let msg = format!(
            "(pid {pid}) TIMEOUT: silent for {silent_ms} ms (past the hang timeout): \
             killing it with SIGKILL"
        );
        self.log(log::Level::Warn, msg);
        self.kill(Signal::SIGKILL, StopReason::Hang);
    }

    fn stop_process(&mut self, event: Event) {
        self.want_down(event);
        self.kill(Signal::SIGTERM, StopReason::Requested);
    }

    fn stop_idle(&mut self, event: Event) {
        self.want_down(event);
        self.next.phase = Phase::Down;
    }

    fn grace_over(&mut self, pid: Pid) {
        let msg = format!("(pid {pid}) did not stop within the grace period: SIGKILL");
        self.log(log::Level::Warn, msg);
        self.fx.push(Effect::Signal(pid, Signal::SIGKILL));
        if let Phase::Stopping { killed, .. } = &mut self.next.phase {
            *killed = true;
        }
    }

    fn kill(&mut self, sig: Signal, why: StopReason) {
        kill(&mut self.next, &mut self.fx, self.now, sig, why);
    }

    /// The tracked process was reaped: down if wanted down, else the restart policy.
    fn exited(&mut self, phase: Phase, pid: Pid, exit: ExitCode) {
        let killed_for = match phase {
            Phase::Stopping { why, .. } => why.code(),
            _ => KillReason::None,
        };
        self.fx.push(Effect::MarkDead(exit, killed_for));
        if !self.next.want_up {
            self.log(log::Level::Info, format!("(pid {pid}) stopped: {exit}"));
            self.next.phase = Phase::Down;
            return;
        }
        let ran_for = phase
            .started()
            .map(|s| self.now.duration_since(s))
            .unwrap_or_default();
        self.say_death(phase, pid, exit, ran_for);
        let (ready_for, failed_check) = match phase {
            Phase::Running { ready, .. } => (Some(self.now.duration_since(ready)), false),
            // Killed on request while wanted up again (stop, then start): not a failure.
            Phase::Stopping {
                why: StopReason::Requested,
                ..
            } => (Some(self.p.restart.quick), false),
            Phase::Stopping { .. } => (Some(Duration::ZERO), true),
            _ => (None, false),
        };
        let death = judge(ready_for, exit, failed_check, &self.p.restart);
        let (now, p) = (self.now, self.p);
        after_death(
            &mut self.next,
            &mut self.fx,
            now,
            ran_for,
            death,
            FatalReason::TooManyRestarts,
            p,
        );
    }

    /// The log line of a death while wanted up: asked for (a restart) or not (and why).
    fn say_death(&mut self, phase: Phase, pid: Pid, exit: ExitCode, ran_for: Duration) {
        let why = match phase {
            Phase::Stopping { why, .. } => Some(why),
            _ => None,
        };
        let how = match why {
            Some(StopReason::Hang) => " (killed: hang)",
            Some(StopReason::StartTimeout) => " (killed: start timeout)",
            _ => "",
        };
        if why == Some(StopReason::Requested) {
            let msg = format!("(pid {pid}) stopped for a restart: {exit}");
            self.log(log::Level::Info, msg);
        } else {
            let msg = format!(
                "(pid {pid}) died: {exit}{how}, after {:.3} s",
                ran_for.as_secs_f64()
            );
            self.log(log::Level::Warn, msg);
        }
    }
}

/// Asks for a start: the child is Down until the driver reports `Spawned`, and every start
/// after the first counts as a restart (a failed one too).
fn spawn(next: &mut Life, fx: &mut Vec<Effect>) {
    if next.started_once {
        next.restarts += 1;
    }
    next.started_once = true;
    next.phase = Phase::Down;
    fx.push(Effect::Spawn);
}

/// Sends `sig` and moves to Stopping.
fn kill(next: &mut Life, fx: &mut Vec<Effect>, now: Instant, sig: Signal, why: StopReason) {
    let Some(pid) = next.phase.pid() else {
        return;
    };
    let started = next.phase.started().unwrap_or(now);
    fx.push(Effect::Signal(pid, sig));
    next.phase = Phase::Stopping {
        pid,
        since: now,
        started,
        why,
        killed: sig == Signal::SIGKILL,
    };
}

/// The restart policy after a death (or a failed spawn), unless the child is wanted down.
fn after_death(
    next: &mut Life,
    fx: &mut Vec<Effect>,
    now: Instant,
    ran_for: Duration,
    death: Death,
    reason: FatalReason,
    p: &Rules,
) {
    next.phase = Phase::Down;
    if !next.want_up {
        return;
    }
    match next.history.on_death(now, ran_for, death, &p.restart) {
        Next::RestartNow => spawn(next, fx),
        Next::RestartAfter(d) => {
            next.phase = Phase::Backoff { until: now + d };
            let msg = format!(
                "died {:.0} ms after its start: next start in {} ms (backoff)",
                ran_for.as_secs_f64() * 1000.0,
                d.as_millis()
            );
            fx.push(Effect::Log(log::Level::Warn, msg));
        }
        Next::Fatal(cooldown) => {
            next.phase = Phase::Fatal {
                until: now + cooldown,
                reason,
            };
            let msg = format!(
                "is FATAL: {} (more than {} deaths in {} s); next try in {} s",
                reason.describe(),
                p.restart.max_restarts,
                p.restart.window.as_secs(),
                cooldown.as_secs()
            );
            fx.push(Effect::Log(log::Level::Error, msg));
        }
    }
}

#[cfg(test)]
#[path = "machine_table.rs"]
mod table;
