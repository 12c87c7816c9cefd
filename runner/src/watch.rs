//! The run's budget (`budget.rs`), kept by `kennel-run`'s one thread between reaps: every
//! period it samples the namespace and, when the run as a whole has gone over its CPU time or
//! its memory in two samples running (one sample can count a process twice while its parent
//! reaps it), kills every process of the namespace; `kennel-run` then reaps them and reports
//! which budget ended the run. No thread of its own: a thread per run cost its start, its
//! stack's mapping and a TLB shootdown at every unmap (measured ~4 % of a cached hello's CPU).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, Usage as Rusage, UsageWho};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::budget::{sample, Budget, Over, PERIOD, TMPFS};

/// The budget being kept: what was seen so far, and when to look next.
pub struct Watch {
    budget: Budget,
    peak: u64,
    strikes: (u8, u8),
    over: Option<Over>,
    next: Instant,
}

impl Watch {
    /// Starts watching (the peak memory, a figure of the result, only when memory is watched:
    /// otherwise the largest process's peak, from `wait4`, is the figure).
    pub fn start(budget: Budget) -> Watch {
        Watch {
            budget,
            peak: 0,
            strikes: (0, 0),
            over: None,
            next: Instant::now() + PERIOD,
        }
    }

    /// How long until the next sample is due (zero: now).
    pub fn due_in(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    /// Samples if a sample is due (once over a budget, no more: the run is being killed).
    pub fn tick(&mut self) {
        if self.over.is_some() || !self.due_in().is_zero() {
            return;
        }
        self.next = Instant::now() + PERIOD;
        self.over = self.sample();
        if self.over.is_some() {
            // Everyone in the namespace but us (its init), to be reaped by the caller.
            let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
        }
    }

    /// Ends the watch: the budget the run went over, if any, and its peak memory in KiB.
    pub fn stop(self) -> (Option<Over>, u64) {
        (self.over, self.peak)
    }

    fn sample(&mut self) -> Option<Over> {
        // What we reaped first, then the living: a process reaped in between is missed once
        // (the figure errs low for one sample), never counted twice.
        let reaped = getrusage(UsageWho::RUSAGE_CHILDREN)
            .map(|u| reaped_cpu_us(&u))
            .unwrap_or(0);
        let b = self.budget;
        let now = sample(Path::new("/proc"), &TMPFS, b.memory_kib.is_some());
        self.peak = self.peak.max(now.memory_kib);
        let cpu_ms = (reaped + now.live_cpu_us) / 1000;
        let strike = |n: u8, over: bool| if over { n + 1 } else { 0 };
        self.strikes.0 = strike(self.strikes.0, b.cpu_ms.is_some_and(|l| cpu_ms > l));
        self.strikes.1 = strike(
            self.strikes.1,
            b.memory_kib.is_some_and(|l| now.memory_kib > l),
        );
        match self.strikes {
            (_, 2..) => Some(Over::Memory),
            (2.., _) => Some(Over::Cpu),
            _ => None,
        }
    }
}

/// CPU time of the processes this process reaped, in microseconds.
pub fn reaped_cpu_us(u: &Rusage) -> u64 {
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    us(u.user_time()) + us(u.system_time())
}
