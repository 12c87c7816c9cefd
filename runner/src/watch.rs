//! The thread of `kennel-run` that keeps the run's budget (`budget.rs`): samples the namespace
//! every period and, when the run as a whole has gone over its CPU time or its memory in two
//! samples running (one sample can count a process twice while its parent reaps it), kills
//! every process of the namespace. The main thread then reaps them and reports which budget
//! ended the run.

use std::path::Path;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;

use nix::sys::resource::{getrusage, Usage as Rusage, UsageWho};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::budget::{sample, Budget, Over, PERIOD, TMPFS};

/// The running watch; `stop` ends it and says what it saw.
pub struct Watch {
    /// Dropped (or sent to) to end the watch at once, not at the end of a period.
    done: Option<Sender<()>>,
    thread: Option<JoinHandle<(Option<Over>, u64)>>,
}

impl Watch {
    /// Starts watching (the peak memory, a figure of the result, only when memory is watched:
    /// otherwise the largest process's peak, from `wait4`, is the figure).
    pub fn start(budget: Budget) -> Watch {
        let (done, stop) = channel();
        let thread = std::thread::Builder::new()
            .name("budget".into())
            .spawn(move || watch(budget, &stop))
            .ok();
        Watch {
            done: Some(done),
            thread,
        }
    }

    /// Ends the watch: the budget the run went over, if any, and its peak memory in KiB.
    pub fn stop(mut self) -> (Option<Over>, u64) {
        drop(self.done.take());
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or((None, 0))
    }
}

/// CPU time of the processes this process reaped, in microseconds.
pub fn reaped_cpu_us(u: &Rusage) -> u64 {
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    us(u.user_time()) + us(u.system_time())
}

fn watch(budget: Budget, stop: &Receiver<()>) -> (Option<Over>, u64) {
    let mut peak = 0;
    let mut strikes = (0u8, 0u8);
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(PERIOD) {
        // What we reaped first, then the living: a process reaped in between is missed once
        // (the figure errs low for one sample), never counted twice.
        let reaped = getrusage(UsageWho::RUSAGE_CHILDREN)
            .map(|u| reaped_cpu_us(&u))
            .unwrap_or(0);
        let now = sample(Path::new("/proc"), &TMPFS, budget.memory_kib.is_some());
        peak = peak.max(now.memory_kib);
        let cpu_ms = (reaped + now.live_cpu_us) / 1000;
        strikes.0 = if budget.cpu_ms.is_some_and(|b| cpu_ms > b) {
            strikes.0 + 1
        } else {
            0
        };
        strikes.1 = if budget.memory_kib.is_some_and(|b| now.memory_kib > b) {
            strikes.1 + 1
        } else {
            0
        };
        let over = match strikes {
            (_, 2..) => Some(Over::Memory),
            (2.., _) => Some(Over::Cpu),
            _ => None,
        };
        if over.is_some() {
            // Everyone in the namespace but us (its init): the main thread reaps them.
            let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
            return (over, peak);
        }
    }
    (None, peak)
}
