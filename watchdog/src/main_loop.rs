//! The watchdog's main loop and its orderly stop. One thread, one `poll` over the signalfd
//! (SIGCHLD, the termination signals, SIGHUP), the watchdog FIFO (ready notices) and the
//! control socket's wake descriptor, waking at the next deadline, poll tick or heartbeat.
//! Each turn: wait, then the events in a fixed order (hang check first: it takes no lock),
//! then what the turn's clock makes due (the scaler, the poll's report, readiness).

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use kennel_common::clock;
use kennel_common::notice::Fifo;
use kennel_common::segment::RecordId;
use kennel_common::shutdown::{first_termination, pending_signals};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;

use crate::control::ControlServer;
use crate::instance::Instance;
use crate::machine::Event;
use crate::notify::Notifier;
use crate::operator::{After, Operator};
use crate::reap;
use crate::scaler::Scaler;
use crate::supervisor::Supervisor;
use crate::upkeep::Upkeep;

/// What the loop keeps between turns.
struct Loop<'i> {
    instance: &'i Instance,
    operator: Operator,
    scaler: Scaler,
    upkeep: Upkeep,
    started: Instant,
    next_poll: Instant,
    reported_up: bool,
    /// The last PID report logged, and when.
    last_report: (String, Option<Instant>),
    /// The watchdog FIFO, reopened if its path was removed and recreated.
    reopened: Option<Fifo>,
    /// This turn is a poll tick (hang check, upkeep, report): decided once per turn.
    polling: bool,
}

/// The main loop: returns when a termination signal (or the `shutdown` verb) arrives.
pub fn supervise(
    sup: &mut Supervisor,
    instance: &Instance,
    signals: &SignalFd,
    control: &ControlServer,
    notifier: &mut Notifier,
) {
    sup.publish_all();
    let now = Instant::now();
    let mut l = Loop {
        instance,
        operator: Operator::default(),
        scaler: Scaler::new(sup, now),
        upkeep: Upkeep::default(),
        started: now,
        next_poll: now + sup.settings().poll_interval,
        reported_up: false,
        last_report: (String::new(), None),
        reopened: None,
        polling: false,
    };
    loop {
        l.wait(sup, signals, control);
        if !l.turn(sup, signals, control) {
            return;
        }
        l.due(sup, notifier);
    }
}

impl Loop<'_> {
    /// The watchdog FIFO in use: the instance's, or the one made again after its removal.
    fn fifo(&self) -> &Fifo {
        self.reopened.as_ref().unwrap_or(&self.instance.fifo)
    }

    /// Sleeps until a descriptor is readable or the next deadline, poll tick or heartbeat.
    fn wait(&mut self, sup: &mut Supervisor, signals: &SignalFd, control: &ControlServer) {
        sup.run_deadlines(Instant::now());
        // At least every TICK, like every child: the watchdog's heartbeat is read by the same
        // rule as theirs (kennelctl reports a process frozen after 3 s of silence).
        let wake = sup
            .next_deadline(Instant::now())
            .map_or(self.next_poll, |d| d.min(self.next_poll))
            .min(Instant::now() + kennel_common::child::TICK);
        let wait = wake.saturating_duration_since(Instant::now());
        let fifo = self.fifo();
        let mut fds = [
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(control.wake_fd(), PollFlags::POLLIN),
        ];
        let timeout = PollTimeout::try_from(wait.as_millis().min(60_000) as i32 + 1)
            .unwrap_or(PollTimeout::NONE);
        let _ = poll(&mut fds, timeout);
    }

    /// Handles what woke the loop; false when the instance is to stop.
    fn turn(&mut self, sup: &mut Supervisor, signals: &SignalFd, control: &ControlServer) -> bool {
        let instance = self.instance;
        // Before touching the mapping: a segment sized down by hand would be a SIGBUS here.
        if let Some(what) = instance.segment.restore_size_as_owner() {
            log::warn!("{what}");
            sup.repair();
        }
        instance
            .segment
            .header()
            .watchdog_heartbeat_ms
            .store(clock::monotonic_ms(), SeqCst);
        // SIGHUP is a reload for the watchdog (its children still take it as a stop).
        let signals_now = pending_signals(signals);
        let hup = signals_now.contains(&Signal::SIGHUP);
        let stop = first_termination(signals_now.into_iter().filter(|s| *s != Signal::SIGHUP));
        // The hang check first, and every turn it is due: it takes no lock, and a frozen child
        // holding the guard makes every locking step below wait (2 s each) until it is killed.
        let now = Instant::now();
        self.polling = now >= self.next_poll;
        if self.polling {
            sup.check_hangs(now);
            // Orphans adopted without a death of ours to notice them by (a sandbox whose
            // launcher was killed mid-start waits forever for it): killed at the poll.
            reap::sweep(sup);
        }
        // The instance's files at every poll, and at once when a child died (a broken file is
        // a likely cause, and its restart must find the file whole).
        let restored = if reap::reap(sup) || self.polling {
            self.upkeep.run(instance, control)
        } else {
            None
        };
        for notice in self.fifo().drain() {
            sup.on_notice(&notice);
        }
        if stop.is_none() {
            sup.tend_spares(now);
        }
        if restored.is_some() {
            self.reopened = restored;
        }
        if let Some(sig) = stop {
            log::info!("received {}: stopping", sig.as_str());
            return false;
        }
        self.operate(sup, control, hup)
    }

    /// The operator's requests (control socket, SIGHUP); false on `shutdown`.
    fn operate(&mut self, sup: &mut Supervisor, control: &ControlServer, hup: bool) -> bool {
        let now = Instant::now();
        for request in control.drain() {
            if self.operator.execute(sup, request, now) == After::Shutdown {
                log::info!("shutdown asked on the control socket: stopping");
                return false;
            }
        }
        if hup {
            match self.operator.reload(sup, now) {
                Ok(what) => log::info!("SIGHUP: {what}"),
                Err(why) => log::warn!("SIGHUP: reload refused: {why}"),
            }
        }
        self.operator.tick(sup, now);
        true
    }

    /// What the clock makes due: the scaler, the poll's report and repair, readiness.
    fn due(&mut self, sup: &mut Supervisor, notifier: &mut Notifier) {
        let now = Instant::now();
        if self.reported_up {
            self.scaler.tick(sup, now);
        }
        if self.polling {
            self.poll_report(sup);
            sup.repair();
            self.next_poll = Instant::now() + sup.settings().poll_interval;
        }
        if !self.reported_up && sup.all_running() {
            self.reported_up = true;
            report_up(self.instance, self.started.elapsed());
            notifier.ready(sup);
        }
        if self.reported_up {
            notifier.tick(sup, Instant::now());
        }
    }

    /// The assignment's PID report, without drowning the events: a line when something
    /// changed, and the whole report every --report-every (0: every poll).
    fn poll_report(&mut self, sup: &Supervisor) {
        let report = sup.report();
        let due = self
            .last_report
            .1
            .is_none_or(|t: Instant| t.elapsed() >= sup.settings().report_every);
        if report != self.last_report.0 || due {
            log::info!("poll: {report}");
            self.last_report = (report, Some(Instant::now()));
        }
    }
}

/// Logs that the system is up, and prints the machine-readable readiness line on stdout.
fn report_up(instance: &Instance, took: Duration) {
    let dispatcher = instance.segment.read(RecordId::Dispatcher);
    let addr = dispatcher
        .endpoint
        .map(|e| e.to_string())
        .unwrap_or_else(|| "?".into());
    log::info!(
        "system up in {:.1} ms: dispatcher on {addr}, {} workers ready (runtime dir {})",
        took.as_secs_f64() * 1000.0,
        instance.segment.workers(),
        instance.runtime.path().display()
    );
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready {addr}");
    let _ = out.flush();
}

/// Stops the gateway first (no new runs from HTTP), then the dispatcher (no new
/// assignments), then the workers (each finishes the client it is serving): each group is sent
/// `Stop` (SIGTERM); the machine sends SIGKILL to whoever is still alive after the grace
/// period; every child is reaped.
pub fn stop_all(sup: &mut Supervisor, signals: &SignalFd) {
    sup.segment().header().stopping.store(1, SeqCst);
    sup.discard_spares();
    stop_group(sup, signals, |id| id == RecordId::Gateway);
    stop_group(sup, signals, |id| id == RecordId::Dispatcher);
    stop_group(sup, signals, |id| matches!(id, RecordId::Worker(_)));
    // Children that were never alive (Down, Backoff, Fatal) are wanted down too.
    let now = Instant::now();
    for id in sup.ids().collect::<Vec<_>>() {
        sup.handle(id, Event::Stop, now);
    }
    sweep_orphans(signals);
}

/// The last of the stop: whatever the children left and we adopted (a sandbox caught mid-start
/// by its worker's exit is re-parented to us once its launcher is gone, possibly after the
/// worker was reaped) is killed and reaped, so nothing outlives the instance. Bounded: two
/// seconds, each wait a poll on SIGCHLD.
fn sweep_orphans(signals: &SignalFd) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let until = Instant::now() + Duration::from_secs(2);
    // Re-parenting follows the deaths that cause it: a sandbox's launcher dies a moment after
    // its worker, and its blocked child becomes ours only then. So "no child" must hold for
    // QUIET before the instance is declared empty.
    const QUIET: Duration = Duration::from_millis(100);
    let mut empty_since: Option<Instant> = None;
    while Instant::now() < until {
        crate::orphans::kill_adopted(&[]);
        let wait = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Err(nix::errno::Errno::ECHILD) => {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= QUIET {
                    return;
                }
                10u16
            }
            Ok(WaitStatus::StillAlive) => {
                empty_since = None;
                50
            }
            _ => {
                empty_since = None;
                continue;
            }
        };
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(wait));
        while let Ok(Some(_)) = signals.read_signal() {}
    }
    log::warn!("processes adopted from dead children still alive after 2 s of SIGKILL");
}

fn stop_group(sup: &mut Supervisor, signals: &SignalFd, which: impl Fn(RecordId) -> bool + Copy) {
    let now = Instant::now();
    for id in sup.ids().filter(|id| which(*id)).collect::<Vec<_>>() {
        sup.handle(id, Event::Stop, now);
    }
    while !sup.live(which).is_empty() {
        let now = Instant::now();
        sup.run_deadlines(now);
        let wait = sup
            .next_deadline(now)
            .map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now))
            .min(Duration::from_secs(1));
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(wait.as_millis() as i32 + 1).unwrap_or(PollTimeout::NONE);
        let _ = poll(&mut fds, ms);
        while let Ok(Some(_)) = signals.read_signal() {}
        let _ = reap::reap(sup);
    }
}
