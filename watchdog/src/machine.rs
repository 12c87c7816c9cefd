//! The supervisor's brain: one pure transition function per child, s6-supervise's habit.
//!
//! `step(life, event, now, policy) -> (life, effects)` decides; the driver
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
//! `Spawned`/`SpawnFailed` the driver reports back always lands in the Down row. `Stop`/`Start` set what the child is *wanted* to be, as
//! s6's `want up`/`want down`: a stopped child is never revived by supervision.

use std::time::{Duration, Instant};

use kennel_common::layout::{ExitCode, FatalReason, KillReason};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

pub use crate::life::{deadline, published, Life, Phase, StopReason};
use crate::policy::{judge, Death, Next, RestartPolicy};

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
    /// Want it up again.
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

/// Timings the machine needs besides the restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub restart: RestartPolicy,
    pub start_timeout: Duration,
    pub grace: Duration,
}

/// The one transition function. Pure: same inputs, same outputs.
pub fn step(life: &Life, event: Event, now: Instant, p: &Policy) -> (Life, Vec<Effect>) {
    let mut next = life.clone();
    let mut fx = Vec::new();
    match (life.phase, event) {
        // Starting a process: asked for, or a timer ran out.
        (Phase::Down, Event::Deadline) if life.want_up => spawn(&mut next, &mut fx),
        (Phase::Backoff { until } | Phase::Fatal { until, .. }, Event::Deadline)
            if now >= until =>
        {
            spawn(&mut next, &mut fx)
        }
        (Phase::Down | Phase::Backoff { .. } | Phase::Fatal { .. }, Event::Start) => {
            next.want_up = true;
            spawn(&mut next, &mut fx);
        }
        (Phase::Down, Event::Spawned { pid }) => {
            next.phase = Phase::Starting { pid, since: now };
            let msg = match next.restarts {
                0 => format!("started (pid {pid})"),
                n => format!("restarted (pid {pid}, restart #{n})"),
            };
            fx.push(Effect::Log(log::Level::Info, msg));
        }
        (Phase::Down, Event::SpawnFailed) => after_death(
            &mut next,
            &mut fx,
            now,
            Duration::ZERO,
            Death::Failure,
            FatalReason::SpawnFailed,
            p,
        ),
        // Readiness and its absence.
        (Phase::Starting { pid, since }, Event::Ready { pid: from }) if pid == from => {
            next.phase = Phase::Running {
                pid,
                since,
                ready: now,
            };
        }
        (Phase::Starting { pid, since }, Event::Deadline)
            if now.duration_since(since) > p.start_timeout =>
        {
            let msg = format!(
                "(pid {pid}) not ready within {} ms: killing it",
                p.start_timeout.as_millis()
            );
            fx.push(Effect::Log(log::Level::Warn, msg));
            kill(
                &mut next,
                &mut fx,
                now,
                Signal::SIGKILL,
                StopReason::StartTimeout,
            );
        }
        (Phase::Running { pid, .. }, Event::Hung { silent_ms }) => {
            let msg = format!(
                "(pid {pid}) TIMEOUT: silent for {silent_ms} ms (past the hang timeout): \
                 killing it with SIGKILL"
            );
            fx.push(Effect::Log(log::Level::Warn, msg));
            kill(&mut next, &mut fx, now, Signal::SIGKILL, StopReason::Hang);
        }
        // Stopping on request.
        (Phase::Starting { .. } | Phase::Running { .. }, Event::Stop) => {
            next.want_up = false;
            kill(
                &mut next,
                &mut fx,
                now,
                Signal::SIGTERM,
                StopReason::Requested,
            );
        }
        (Phase::Down | Phase::Backoff { .. } | Phase::Fatal { .. }, Event::Stop) => {
            next.want_up = false;
            next.phase = Phase::Down;
        }
        (Phase::Stopping { .. }, Event::Stop) => next.want_up = false,
        (Phase::Stopping { .. }, Event::Start) => next.want_up = true,
        (
            Phase::Stopping {
                pid,
                since,
                started,
                why,
                killed: false,
            },
            Event::Deadline,
        ) if now.duration_since(since) >= p.grace => {
            let msg = format!("(pid {pid}) did not stop within the grace period: SIGKILL");
            fx.push(Effect::Log(log::Level::Warn, msg));
            fx.push(Effect::Signal(pid, Signal::SIGKILL));
            next.phase = Phase::Stopping {
                pid,
                since,
                started,
                why,
                killed: true,
            };
        }
        // A death.
        (phase, Event::Exited { pid, exit }) if phase.pid() == Some(pid) => {
            let killed_for = match phase {
                Phase::Stopping { why, .. } => why.code(),
                _ => KillReason::None,
            };
            fx.push(Effect::MarkDead(exit, killed_for));
            let ran_for = phase
                .started()
                .map(|s| now.duration_since(s))
                .unwrap_or_default();
            if !life.want_up {
                fx.push(Effect::Log(
                    log::Level::Info,
                    format!("(pid {pid}) stopped: {exit}"),
                ));
                next.phase = Phase::Down;
            } else {
                let how = match phase {
                    Phase::Stopping {
                        why: StopReason::Hang,
                        ..
                    } => " (killed: hang)",
                    Phase::Stopping {
                        why: StopReason::StartTimeout,
                        ..
                    } => " (killed: start timeout)",
                    _ => "",
                };
                let asked = matches!(
                    phase,
                    Phase::Stopping {
                        why: StopReason::Requested,
                        ..
                    }
                );
                if asked {
                    let msg = format!("(pid {pid}) stopped for a restart: {exit}");
                    fx.push(Effect::Log(log::Level::Info, msg));
                } else {
                    let msg = format!(
                        "(pid {pid}) died: {exit}{how}, after {:.3} s",
                        ran_for.as_secs_f64()
                    );
                    fx.push(Effect::Log(log::Level::Warn, msg));
                }
                let (ready_for, failed_check) = match phase {
                    Phase::Running { ready, .. } => (Some(now.duration_since(ready)), false),
                    // Killed on request while wanted up again (stop, then start): not a failure.
                    Phase::Stopping {
                        why: StopReason::Requested,
                        ..
                    } => (Some(p.restart.quick), false),
                    Phase::Stopping { .. } => (Some(Duration::ZERO), true),
                    _ => (None, false),
                };
                let death = judge(ready_for, exit, failed_check, &p.restart);
                after_death(
                    &mut next,
                    &mut fx,
                    now,
                    ran_for,
                    death,
                    FatalReason::TooManyRestarts,
                    p,
                );
            }
        }
        _ => {} // Every other cell: nothing happens.
    }
    (next, fx)
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
    p: &Policy,
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
