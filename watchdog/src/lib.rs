//! The Kennel watchdog: started first, parent of every other process. It creates the IPC
//! objects, starts the dispatcher and the workers, waits until each says it is ready, then
//! supervises them until SIGINT/SIGTERM (or `kennelctl shutdown`; SIGHUP reloads the
//! configuration), when it stops them in order (dispatcher first,
//! so no new work is handed out; then the workers), reaps them all (no zombies) and removes
//! every object it created.
//!
//! One thread, one `poll` loop over a signalfd (SIGCHLD and the termination signals) and the
//! watchdog FIFO (ready notices), waking at the next deadline or poll tick. No signal handlers;
//! the crate forbids `unsafe_code`.

#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "Kennel uses Linux interfaces (signalfd, PR_SET_PDEATHSIG): it builds on Linux only"
);

pub mod config;
pub mod control;
pub mod delegate;
pub mod instance;
pub mod life;
pub mod listeners;
pub mod machine;
pub mod metrics_http;
pub mod notify;
pub mod operator;
pub mod orphans;
pub mod policy;
mod reap;
pub mod reload;
pub mod scaler;
pub mod settings;
pub mod spawn;
pub mod supervisor;
pub mod upkeep;

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use kennel_common::segment::RecordId;
use kennel_common::shutdown::{first_termination, handled_signals, pending_signals, signalfd_for};
use kennel_common::{clock, Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;

use crate::control::ControlServer;
use crate::instance::Instance;
use crate::listeners::Listeners;
use crate::machine::Event;
use crate::operator::{After, Operator};
use crate::settings::Settings;
use crate::supervisor::Supervisor;
use kennel_options::watchdog::Args;

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    // First of all: whatever the shell, launcher or service manager left open (without
    // close-on-exec) stays here and never reaches a child, least of all a sandbox.
    if let Err(e) = kennel_common::sys::cloexec_inherited(&[]) {
        eprintln!("kennel-watchdog: cannot mark inherited descriptors close-on-exec: {e}");
        return 1;
    }
    // Before anything logs: the format is the watchdog's and, through the environment its
    // children inherit, theirs (set while this process has no other thread yet).
    std::env::set_var(
        kennel_common::logging::ENV_LOG_FORMAT,
        args.log_format.name(),
    );
    if let Some(path) = &args.log_file {
        // The file becomes our stderr, which every child inherits: one log for the instance.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .and_then(|f| nix::unistd::dup2_stderr(&f).map_err(std::io::Error::from));
        if let Err(e) = file {
            eprintln!("kennel-watchdog: --log-file {}: {e}", path.display());
            return 2;
        }
    }
    kennel_common::logging::init("watchdog");
    let mut settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            return 2;
        }
    };
    let delegated = delegate::apply(&mut settings);
    let result = run(&settings);
    if let Some(runs) = delegated {
        delegate::cleanup(&runs);
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            1
        }
    }
}

/// Raises the soft limit on open files to the hard limit, for the dispatcher's control
/// connections (children inherit it): the default soft limit (often 1024) would cap
/// `--max-connections` below its own default.
fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                log::warn!("could not raise the open-file limit from {soft} to {hard}: {e}");
            }
        }
        _ => {}
    }
}

/// Refuses a connection cap the open-file limit cannot honour: the dispatcher needs one
/// descriptor per control connection, plus its listener, FIFOs, signalfd and a reserve.
fn check_open_file_limit(settings: &Settings) -> Result<()> {
    use nix::sys::resource::{getrlimit, Resource};
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| Error::nix("getrlimit", e))?;
    let need = (settings.dispatcher.max_connections + settings.workers + 32) as u64;
    if soft < need {
        return Err(Error::Invalid(format!(
            "--max-connections {} needs about {need} open files, and the limit is {soft} \
             (ulimit -n): lower --max-connections or raise the limit",
            settings.dispatcher.max_connections
        )));
    }
    Ok(())
}

/// A start that failed once the instance existed: nothing is left half up — the objects just
/// created go, then the error is said.
fn abandon(instance: Instance, e: Error) -> Result<()> {
    if let Err(d) = instance.destroy() {
        log::warn!("removing the instance after a failed start: {d}");
    }
    Err(e)
}

/// Creates the instance, supervises it until asked to stop, then removes it.
pub fn run(settings: &Settings) -> Result<()> {
    let uname = nix::sys::utsname::uname().map_err(|e| Error::nix("uname", e))?;
    if uname.sysname() != "Linux" {
        return Err(Error::Invalid("Kennel runs on Linux only".into()));
    }
    // The children's termination signals, plus SIGCHLD: deaths are events of the same loop.
    let mut wanted = handled_signals();
    wanted.push(Signal::SIGCHLD);
    let signals = signalfd_for(&wanted)?;
    raise_open_file_limit();
    if let Err(e) = crate::orphans::become_subreaper() {
        log::warn!("cannot become a child subreaper (a sandbox caught mid-start by a worker's death could outlive it): {e}");
    }
    if let Err(e) = kennel_common::sys::exit_on_mapping_fault("watchdog") {
        log::warn!("cannot catch SIGBUS (a truncated segment would kill silently): {e}");
    }
    check_open_file_limit(settings)?;
    spawn::check_binaries(settings)?;
    let instance = Instance::create(settings.runtime.clone(), settings.workers, settings.port)?;
    let listeners = match Listeners::bind_all(settings) {
        Ok(l) => l,
        Err(e) => return abandon(instance, e),
    };
    log::info!(
        "supervising 1 dispatcher and {} workers; poll every {} ms, hang timeout {} ms",
        settings.workers,
        settings.poll_interval.as_millis(),
        settings.hang_timeout.as_millis()
    );
    if !settings.shared.bind.is_loopback() {
        log::warn!(
            "binding to {}: reachable from other machines",
            settings.shared.bind
        );
    }
    let mut sup = Supervisor::new(settings, &instance.segment, &listeners);
    let answer_timeout =
        operator::answer_timeout(settings.workers, settings.grace, settings.start_timeout);
    let control = match ControlServer::start(&instance.runtime, answer_timeout) {
        Ok(c) => c,
        Err(e) => {
            drop(sup);
            return abandon(instance, e);
        }
    };
    if let Some(addr) = settings.metrics_addr {
        if let Err(e) = metrics_http::start(addr, &instance.runtime) {
            drop(control);
            drop(sup);
            return abandon(instance, e);
        }
    }
    let mut notifier = crate::notify::Notifier::from_env();
    supervise(&mut sup, &instance, &signals, &control, &mut notifier);
    notifier.stopping();
    drop(control);
    stop_all(&mut sup, &signals);
    drop(sup);
    instance.destroy()?;
    log::info!("stopped; every process reaped and every IPC object removed");
    Ok(())
}

/// The main loop: returns when a termination signal (or the `shutdown` verb) arrives.
fn supervise(
    sup: &mut Supervisor,
    instance: &Instance,
    signals: &SignalFd,
    control: &ControlServer,
    notifier: &mut crate::notify::Notifier,
) {
    let mut operator = Operator::default();
    sup.publish_all();
    let mut scaler = crate::scaler::Scaler::new(sup, Instant::now());
    let started = Instant::now();
    let header = instance.segment.header();
    let mut next_poll = Instant::now() + sup.settings.poll_interval;
    let mut reported_up = false;
    let mut last_report: (String, Option<Instant>) = (String::new(), None);
    // The watchdog FIFO, reopened if its path was removed and recreated.
    let mut reopened = None;
    let mut upkeep = crate::upkeep::Upkeep::default();
    loop {
        let fifo = reopened.as_ref().unwrap_or(&instance.fifo);
        let now = Instant::now();
        sup.run_deadlines(now);
        // At least every TICK, like every child: the watchdog's heartbeat is read by the same
        // rule as theirs (kennelctl reports a process frozen after 3 s of silence).
        let wake = sup
            .next_deadline(Instant::now())
            .map_or(next_poll, |d| d.min(next_poll))
            .min(Instant::now() + kennel_common::child::TICK);
        let wait = wake.saturating_duration_since(Instant::now());
        let mut fds = [
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(control.wake_fd(), PollFlags::POLLIN),
        ];
        let timeout = PollTimeout::try_from(wait.as_millis().min(60_000) as i32 + 1)
            .unwrap_or(PollTimeout::NONE);
        let _ = poll(&mut fds, timeout);
        // Before touching the mapping: a segment sized down by hand would be a SIGBUS here.
        if let Some(what) = instance.segment.restore_size_as_owner() {
            log::warn!("{what}");
            sup.repair();
        }
        header
            .watchdog_heartbeat_ms
            .store(clock::monotonic_ms(), SeqCst);
        // SIGHUP is a reload for the watchdog (its children still take it as a stop).
        let signals_now = pending_signals(signals);
        let hup = signals_now.contains(&Signal::SIGHUP);
        let stop = first_termination(signals_now.into_iter().filter(|s| *s != Signal::SIGHUP));
        // The hang check first, and every turn it is due: it takes no lock, and a frozen child
        // holding the guard makes every locking step below wait (2 s each) until it is killed.
        let now = Instant::now();
        let polling = now >= next_poll;
        if polling {
            sup.check_hangs(now);
        }
        // The instance's files at every poll, and at once when a child died (a broken file is
        // a likely cause, and its restart must find the file whole).
        let restored = if reap::reap(sup) || polling {
            upkeep.run(instance, control)
        } else {
            None
        };
        for notice in fifo.drain() {
            sup.on_notice(&notice);
        }
        if let Some(f) = restored {
            reopened = Some(f);
        }
        if let Some(sig) = stop {
            log::info!("received {}: stopping", sig.as_str());
            return;
        }
        let now = Instant::now();
        for request in control.drain() {
            if operator.execute(sup, request, now) == After::Shutdown {
                log::info!("shutdown asked on the control socket: stopping");
                return;
            }
        }
        if hup {
            match operator.reload(sup, now) {
                Ok(what) => log::info!("SIGHUP: {what}"),
                Err(why) => log::warn!("SIGHUP: reload refused: {why}"),
            }
        }
        operator.tick(sup, now);
        if reported_up {
            scaler.tick(sup, now);
        }
        if polling {
            // The assignment's PID report, without drowning the events: a line when something
            // changed, and the whole report every --report-every (0: every poll).
            let report = sup.report();
            let due = last_report
                .1
                .is_none_or(|t: Instant| t.elapsed() >= sup.settings.report_every);
            if report != last_report.0 || due {
                log::info!("poll: {report}");
                last_report = (report, Some(Instant::now()));
            }
            sup.repair();
            next_poll = Instant::now() + sup.settings.poll_interval;
        }
        if !reported_up && sup.all_running() {
            reported_up = true;
            report_up(instance, started.elapsed());
            notifier.ready(sup);
        }
        if reported_up {
            notifier.tick(sup, Instant::now());
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
fn stop_all(sup: &mut Supervisor, signals: &SignalFd) {
    sup.segment.header().stopping.store(1, SeqCst);
    stop_group(sup, signals, |id| id == RecordId::Gateway);
    stop_group(sup, signals, |id| id == RecordId::Dispatcher);
    stop_group(sup, signals, |id| matches!(id, RecordId::Worker(_)));
    // Children that were never alive (Down, Backoff, Fatal) are wanted down too.
    let now = Instant::now();
    for id in sup.ids().collect::<Vec<_>>() {
        sup.handle(id, Event::Stop, now);
    }
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
