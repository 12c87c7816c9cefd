//! What the supervisor knows about one child — its `Life`: the phase it is in, whether it is
//! wanted up, its restart history — and the two things derived from it alone: when its next
//! timer is due (`deadline`) and what the segment shows of it (`published`).

use std::time::{Duration, Instant};

use kennel_common::layout::{FatalReason, KillReason, Supervision};
use nix::unistd::Pid;

use crate::policy::{History, RestartPolicy};

/// Why the watchdog is stopping a child: said in the logs (and, later, in its record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Asked to (instance stop, or a control verb).
    Requested,
    /// Its heartbeat went silent past the hang timeout.
    Hang,
    /// No ready notice within the start timeout.
    StartTimeout,
}

impl StopReason {
    /// The code the segment keeps with the exit.
    pub fn code(self) -> KillReason {
        match self {
            StopReason::Requested => KillReason::Stopped,
            StopReason::Hang => KillReason::Hang,
            StopReason::StartTimeout => KillReason::StartTimeout,
        }
    }
}

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
        /// When its ready notice arrived.
        ready: Instant,
    },
    Stopping {
        pid: Pid,
        /// When the first signal was sent.
        since: Instant,
        /// When the process was started (for "ran for" in the death log).
        started: Instant,
        why: StopReason,
        /// SIGKILL already sent: nothing more to do but wait for the exit.
        killed: bool,
    },
    Backoff {
        until: Instant,
    },
    Fatal {
        until: Instant,
        reason: FatalReason,
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

    pub(crate) fn started(&self) -> Option<Instant> {
        match *self {
            Phase::Starting { since, .. } | Phase::Running { since, .. } => Some(since),
            Phase::Stopping { started, .. } => Some(started),
            _ => None,
        }
    }
}

/// Everything the supervisor knows about one child: the whole input of `step`.
/// What the machine decides with: the restart policy and the two timings of a start and a
/// stop (`--start-timeout`, `--grace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub restart: RestartPolicy,
    pub start_timeout: Duration,
    pub grace: Duration,
}

#[derive(Debug, Clone)]
pub struct Life {
    pub phase: Phase,
    /// s6's "want up": false once a stop was asked for, until a start is.
    pub want_up: bool,
    pub history: History,
    /// Starts after the first one.
    pub restarts: u32,
    /// An elastic pool's slot out of use (wanted down by the scaler, not by the operator).
    pub vacant: bool,
    pub(crate) started_once: bool,
}

impl Default for Life {
    fn default() -> Self {
        Life {
            phase: Phase::Down,
            want_up: true,
            history: History::default(),
            restarts: 0,
            vacant: false,
            started_once: false,
        }
    }
}

/// The earliest instant at which a `Deadline` event has something to do for this child.
pub fn deadline(life: &Life, now: Instant, p: &Rules) -> Option<Instant> {
    match life.phase {
        Phase::Down if life.want_up => Some(now),
        Phase::Backoff { until } | Phase::Fatal { until, .. } => Some(until),
        Phase::Starting { since, .. } => Some(since + p.start_timeout + Duration::from_millis(1)),
        Phase::Stopping {
            since,
            killed: false,
            ..
        } => Some(since + p.grace),
        _ => None,
    }
}

/// What the segment shows of this child: derived from its life in this one place.
pub fn published(life: &Life) -> (Supervision, FatalReason) {
    match life.phase {
        Phase::Down if !life.want_up && life.vacant => (Supervision::Vacant, FatalReason::None),
        Phase::Down if !life.want_up => (Supervision::Stopped, FatalReason::None),
        Phase::Down => (Supervision::Down, FatalReason::None),
        Phase::Starting { .. } => (Supervision::Starting, FatalReason::None),
        Phase::Running { .. } => (Supervision::Running, FatalReason::None),
        Phase::Stopping { .. } if life.vacant => (Supervision::Draining, FatalReason::None),
        Phase::Stopping { .. } => (Supervision::Stopping, FatalReason::None),
        Phase::Backoff { .. } => (Supervision::Backoff, FatalReason::None),
        Phase::Fatal { reason, .. } => (Supervision::Fatal, reason),
    }
}
