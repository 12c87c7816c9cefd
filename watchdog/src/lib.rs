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
mod main_loop;
pub mod metrics_http;
pub mod notify;
pub mod operator;
pub mod orphans;
pub mod policy;
mod reap;
pub mod reload;
pub mod scaler;
pub mod settings;
pub mod spare;
pub mod spawn;
pub mod supervisor;
pub mod upkeep;

use std::os::unix::fs::OpenOptionsExt;

use kennel_common::shutdown::{handled_signals, signalfd_for};
use kennel_common::{Error, Result};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;

use crate::control::ControlServer;
use crate::instance::Instance;
use crate::listeners::Listeners;
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

/// Creates the instance, supervises it until asked to stop, then removes it. Whatever fails
/// once the instance exists goes through one exit: every object just created is removed (by
/// then every borrow of it, the supervisor and the servers, is gone), then the error is said.
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
    match serve(settings, &instance, &signals) {
        Ok(()) => {
            instance.destroy()?;
            log::info!("stopped; every process reaped and every IPC object removed");
            Ok(())
        }
        Err(e) => {
            if let Err(d) = instance.destroy() {
                log::warn!("removing the instance after a failed start: {d}");
            }
            Err(e)
        }
    }
}

/// The instance's life once its objects exist: its sockets and servers, the main loop, and
/// the orderly stop of every child.
fn serve(settings: &Settings, instance: &Instance, signals: &SignalFd) -> Result<()> {
    let listeners = Listeners::bind_all(settings)?;
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
    let control = ControlServer::start(&instance.runtime, answer_timeout)?;
    if let Some(addr) = settings.metrics_addr {
        metrics_http::start(addr, &instance.runtime)?;
    }
    let mut notifier = crate::notify::Notifier::from_env();
    main_loop::supervise(&mut sup, instance, signals, &control, &mut notifier);
    notifier.stopping();
    drop(control);
    main_loop::stop_all(&mut sup, signals);
    Ok(())
}
