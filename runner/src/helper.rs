//! `kennel-run`: the measuring init of every sandbox. bwrap starts it as PID 1 of the run's
//! PID namespace (`--as-pid-1`), so:
//! - signals from the program cannot reach it (the kernel ignores them for a namespace's
//!   init), and `kill(-1, …)` from the program skips it;
//! - every process the program leaves behind (`setsid`, double fork) is re-parented to it and
//!   reaped by it, so their CPU time counts, and when it exits the kernel kills whatever is
//!   left in the namespace.
//!
//! It is started before its run exists, in a sandbox made in advance (`standby.rs`), and
//! receives exactly one run. It then unpacks the files it is given into `/work`, sets the limits on itself (inherited by the
//! program it then starts), marks every descriptor but the standard three close-on-exec,
//! installs the system-call filter (`seccomp.rs`), starts the program, keeps the run's budget
//! (`budget.rs`: CPU and memory of the whole tree, sampled), waits for the program, kills the
//! rest of the namespace, and writes one line of facts (`facts.rs`) to a descriptor the
//! program never sees. It makes itself non-dumpable first, so a program cannot ptrace it or
//! open its descriptors through `/proc` (and the filter keeps the program from doing the same
//! to hide its own memory from the budget).

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use clap::Parser;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{getrusage, setrlimit, Resource, UsageWho};
use nix::sys::signal::SigSet;
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, BorrowedFd};

use crate::archive;
use crate::budget::Budget;
use crate::facts::{Facts, Report};

/// One run's flags, as the worker sends them on the control socket.
#[derive(Debug, Parser)]
#[command(name = "kennel-run job", no_binary_name = true)]
pub struct Job {
    /// CPU seconds (soft limit: SIGXCPU; the hard limit, one second later, SIGKILL).
    #[arg(long)]
    pub cpu_s: u64,
    /// Address space in KiB (0: none, e.g. for the JVM).
    #[arg(long, default_value_t = 0)]
    pub address_space_kib: u64,
    #[arg(long)]
    pub file_size_kib: u64,
    #[arg(long)]
    pub open_files: u64,
    #[arg(long)]
    pub processes: u64,
    /// CPU time of the whole run, all processes together, in ms (0: not watched).
    #[arg(long, default_value_t = 0)]
    pub budget_cpu_ms: u64,
    /// Memory of the whole run (processes, tmpfs, memfds) in KiB (0: not watched; a memory
    /// cgroup counts it exactly).
    #[arg(long, default_value_t = 0)]
    pub budget_memory_kib: u64,
    /// After a successful run, pack the files of this directory to the pack descriptor.
    #[arg(long)]
    pub pack_dir: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// The descriptors of one run besides its standard streams.
pub struct JobFiles {
    /// The archive to unpack into the working directory first.
    pub unpack: File,
    /// Where the packed `--pack-dir` goes (a compile).
    pub pack: Option<File>,
}

/// Runs one job: unpack, limits, filter, start, watch, reap, pack; the facts of it.
pub(crate) fn supervise(
    args: &Job,
    files: JobFiles,
    filter: &[kennel_common::sys::BpfInsn],
    worker: BorrowedFd<'_>,
) -> Report {
    let _ = nix::sys::prctl::set_dumpable(false);
    // The signal mask survives fork and exec: a worker blocks the signals it reads from its
    // signalfd (SIGXCPU among them), and a program must not inherit that.
    if let Err(e) = nix::sys::signal::SigSet::empty().thread_set_mask() {
        return Report::NotStarted(format!("unblocking signals: {e}"));
    }
    if let Err(e) = unpack(files.unpack) {
        return Report::NotStarted(format!("unpacking the files: {e}"));
    }
    // Only stdin, stdout and stderr reach the program: whatever bwrap or the worker left open
    // (the helper's own image, anything inherited) closes at exec.
    if let Err(e) = kennel_common::sys::cloexec_inherited(&[]) {
        return Report::NotStarted(format!("closing inherited descriptors: {e}"));
    }
    if let Err(e) = set_limits(args) {
        return Report::NotStarted(format!("setting the limits: {e}"));
    }
    // Before any thread starts: a filter covers the thread that installs it and what it starts.
    if let Err(e) = kennel_common::sys::install_seccomp_filter(filter) {
        return Report::NotStarted(format!("installing the system-call filter: {e}"));
    }
    let child = match Command::new(&args.command[0])
        .args(&args.command[1..])
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Report::NotStarted(format!("starting {}: {e}", args.command[0])),
    };
    let main = Pid::from_raw(child.id() as i32);
    let mut watch = crate::watch::Watch::start(Budget {
        cpu_ms: (args.budget_cpu_ms > 0).then_some(args.budget_cpu_ms),
        memory_kib: (args.budget_memory_kib > 0).then_some(args.budget_memory_kib),
    });
    let mut facts = Facts::default();
    reap_all(main, &mut watch, &mut facts, worker);
    (facts.over, facts.peak_kib) = watch.stop();
    if let Ok(usage) = getrusage(UsageWho::RUSAGE_CHILDREN) {
        facts.cpu_us = crate::watch::reaped_cpu_us(&usage);
        facts.maxrss_kib = usage.max_rss() as u64;
    }
    facts.largest_file_kib =
        largest_file(&[std::path::Path::new("."), std::path::Path::new("/tmp")]) / 1024;
    if let (Some(mut out), Some(dir), Some(0)) = (files.pack, &args.pack_dir, facts.exit) {
        if let Err(e) = archive::pack_dir(dir).and_then(|bytes| out.write_all(&bytes)) {
            return Report::NotStarted(format!("packing {}: {e}", dir.display()));
        }
    }
    Report::Ran(facts)
}

/// Reaps every process of the namespace (orphans come to us, its init) until none is left,
/// keeping the budget between reaps; when the program itself ends, or the worker is gone
/// (its end of the control socket `worker` closed), kills the rest. SIGCHLD is blocked and
/// read from a signalfd (after the program started: it must not inherit the mask), so one
/// `poll` waits for a child, the worker's end or the next sample, whichever comes first.
fn reap_all(main: Pid, watch: &mut crate::watch::Watch, facts: &mut Facts, worker: BorrowedFd<'_>) {
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let mut gone = false;
    let fd = chld
        .thread_block()
        .ok()
        .and_then(|()| SignalFd::with_flags(&chld, SfdFlags::SFD_NONBLOCK).ok());
    loop {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(WaitStatus::Exited(pid, code)) if pid == main => {
                    facts.exit = Some(code);
                    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => {
                    facts.signal = Some(sig as i32);
                    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return, // ECHILD: everyone is reaped
            }
        }
        watch.tick();
        let ms = watch.due_in().as_millis().clamp(1, 1000) as u16;
        match &fd {
            Some(fd) => {
                // The worker's end is watched until it closes (then it would wake us at once).
                let mut p = vec![PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                if !gone {
                    p.push(PollFd::new(worker, PollFlags::empty()));
                }
                if let Ok(1..) = poll(&mut p, PollTimeout::from(ms)) {
                    while let Ok(Some(_)) = fd.read_signal() {}
                }
                let hangup = PollFlags::POLLHUP | PollFlags::POLLERR;
                if p.get(1)
                    .and_then(|w| w.revents())
                    .is_some_and(|r| r.intersects(hangup))
                {
                    // Nobody to answer: the run ends now, not at its own limits.
                    gone = true;
                    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
            }
            // No signalfd (it cannot fail short of running out of descriptors): look again
            // every millisecond rather than not keep the budget.
            None => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
}

/// The size of the largest regular file under `roots` (symlinks not followed; at most 10,000
/// entries looked at: the run is over and everything in it dead, so nothing changes meanwhile).
fn largest_file(roots: &[&std::path::Path]) -> u64 {
    let mut todo: Vec<PathBuf> = roots.iter().map(|p| p.to_path_buf()).collect();
    let (mut largest, mut seen) = (0, 0);
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > 10_000 {
                return largest;
            }
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() {
                todo.push(e.path());
            } else if meta.is_file() {
                largest = largest.max(meta.len());
            }
        }
    }
    largest
}

fn unpack(mut from: File) -> Result<(), String> {
    let mut bytes = Vec::new();
    from.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let entries = archive::unpack(&bytes)?;
    archive::unpack_into(&entries, std::path::Path::new(".")).map_err(|e| e.to_string())
}

/// The limits, on this process: the program inherits them at `fork`. Our own use of each is
/// tiny (we only wait), so they bind the program, not us.
fn set_limits(args: &Job) -> nix::Result<()> {
    setrlimit(Resource::RLIMIT_CPU, args.cpu_s, args.cpu_s + 1)?;
    if args.address_space_kib > 0 {
        let b = args.address_space_kib * 1024;
        setrlimit(Resource::RLIMIT_AS, b, b)?;
    }
    let fsize = args.file_size_kib * 1024;
    setrlimit(Resource::RLIMIT_FSIZE, fsize, fsize)?;
    setrlimit(Resource::RLIMIT_NOFILE, args.open_files, args.open_files)?;
    setrlimit(Resource::RLIMIT_NPROC, args.processes, args.processes)?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    Ok(())
}
