//! `kennel-run` in standby: a sandbox made in advance and kept for many runs, one after the
//! other (`pool.rs`), so the user namespace, the read-only system view, the empty network
//! namespace and the unprivileged user cost nothing on the request path. `kennel-run` is the
//! sandbox's first process (the *zygote*); for each run it starts the run's init straight in
//! fresh PID, mount and IPC namespaces, which mounts fresh filesystems (`fresh.rs`), gives up
//! its capabilities and takes exactly one run. The init shares the zygote's memory while the
//! zygote waits for it, as after `vfork` (`common::sys::run_in_namespaces`): a fork's copy of
//! the address space, its copy-on-write faults and its teardown were a fifth of a run's cost.
//! The program itself is `exec`ed into an address space of its own and never sees this one.
//! On the control socket:
//!
//! | from | message | meaning |
//! |---|---|---|
//! | zygote | `R` | the sandbox is up |
//! | worker | `N` | make the next run's init (only once the previous one is gone) |
//! | run init | `P` + its pidfd | mounted; put me in the run's cgroup, then send the run |
//! | worker | the run's flags (`helper::Job`, NUL-separated) + its descriptors | the run |
//! | run init | `D` | every process of the run reaped, the facts written |
//!
//! The run's descriptors, in this order:
//!
//! | # | descriptor |
//! |---|---|
//! | 0–2 | the program's stdin (read-only), stdout, stderr |
//! | 3 | the archive to unpack into `/work` |
//! | 4 | where the facts line goes |
//! | 5 | where the packed output goes (a compile only) |
//!
//! Nothing passes from one run to the next: when a run's init exits the kernel kills whatever
//! is left in its PID namespace, and its mounts and IPC objects go with its namespaces; the
//! zygote holds none of the run's descriptors and never runs submitted code (what an init
//! leaves in the shared memory — the last job's flags — is Kennel's own data, overwritten by
//! the next). Two runs never
//! share the sandbox at once (they would share its network namespace): the worker asks for
//! the next init only after the last one is gone. A worker that lets a sandbox go closes the
//! socket: the zygote (or a waiting init) reads the end of the stream and exits.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use clap::Parser;
use nix::sched::CloneFlags;

use crate::facts::Report;
use crate::fresh::Sizes;
use crate::helper::{supervise, Job, JobFiles};

/// `kennel-run`'s command line: its control socket and the sizes of each run's tmpfs mounts.
/// The runs themselves arrive on the socket.
#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennel-run",
    about = "Kennel's sandbox zygote: waits in a sandbox made in advance for runs on its \
             control socket, each in fresh PID, mount and IPC namespaces (started by a worker \
             through bwrap; see `kennel_runner::standby`)"
)]
pub struct Args {
    /// The socket the runs arrive on: their flags (`Job`) and their descriptors.
    #[arg(long)]
    pub control_fd: i32,
    /// The size of each run's `/work` and `/tmp`, in bytes.
    #[arg(long)]
    pub tmp_size: u64,
    /// The size of each run's `/dev/shm`, in bytes.
    #[arg(long)]
    pub shm_size: u64,
}

/// The binary's body.
pub fn main_with(args: Args) -> i32 {
    serve(&args)
}

/// The largest job message: the flags and the program's arguments (a submission's arguments
/// are bounded far below this).
pub const MAX_JOB: usize = 256 * 1024;

/// The stack of each run's init (argument parsing and the supervision loop need far less).
const INIT_STACK: usize = 1024 * 1024;

/// The byte that says "the sandbox is up".
pub const READY: &[u8] = b"R";

/// The byte that asks for the next run's init.
pub const NEXT: &[u8] = b"N";

/// The byte (with a pidfd) that says "the run's init is ready to be placed".
pub const PLACE: &[u8] = b"P";

/// The byte that says "the run is over".
pub const DONE: &[u8] = b"D";

/// The namespaces each run gets fresh.
fn run_namespaces() -> CloneFlags {
    CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC
}

/// The zygote: says it is ready, then makes one run's init per `N`, waiting for each to end
/// before it reads the next request. The process's exit code.
pub fn serve(args: &Args) -> i32 {
    let ctl = match kennel_common::sys::inherited_fd(args.control_fd) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("kennel-run: control descriptor: {e}");
            return 120;
        }
    };
    let _ = nix::sys::prctl::set_dumpable(false);
    // Waiting is all a sandbox between runs does, and waking (at its worker's death, its
    // control socket's end) must not preempt anyone: the dying worker's last steps and its
    // restart come first. A run's init goes back to the normal policy before the run.
    if let Err(e) = kennel_common::sys::set_batch_scheduling(true) {
        eprintln!("kennel-run: SCHED_BATCH: {e}");
    }
    let filter = crate::seccomp::program();
    let sizes = Sizes {
        tmp: args.tmp_size,
        shm: args.shm_size,
    };
    if let Err(e) = kennel_common::sys::send_with_fds(&ctl, READY, &[]) {
        eprintln!("kennel-run: saying ready: {e}");
        return 122;
    }
    // Allocated once: each run's init shares this process's memory (it runs while the zygote
    // waits), so the pages it touches stay mapped for the next one.
    let mut job = vec![0u8; MAX_JOB];
    let mut stack = match kennel_common::sys::ChildStack::new(INIT_STACK) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel-run: the run's init stack: {e}");
            return 126;
        }
    };
    loop {
        let mut buf = [0u8; 8];
        match kennel_common::sys::recv_with_fds(&ctl, &mut buf) {
            Ok((0, fds)) if fds.is_empty() => return leave(), // let go
            Ok((n, fds)) if &buf[..n] == NEXT && fds.is_empty() => {}
            Ok(_) => {
                eprintln!("kennel-run: an unexpected message on the control socket");
                return 125;
            }
            Err(e) => {
                eprintln!("kennel-run: reading the control socket: {e}");
                return 123;
            }
        }
        let mut init = || run_init(&ctl, sizes, &filter, &mut job);
        match kennel_common::sys::run_in_namespaces(run_namespaces(), &mut stack, &mut init) {
            Ok(pid) => reap(pid),
            Err(e) => {
                eprintln!("kennel-run: starting the run's init: {e}");
                return 126;
            }
        }
    }
}

/// A sandbox let go (its worker closed the control socket, or died): exit status 0, the
/// teardown that follows — mount and PID namespaces, tmpfs, memory, several milliseconds of
/// CPU for a worker's sandboxes together — under `SCHED_IDLE`. A worker's death lets all its
/// sandboxes go at the moment its replacement goes live; at the idle class they no longer
/// compete with it (or with its clients) for the CPU.
fn leave() -> i32 {
    let _ = kennel_common::sys::set_idle_scheduling();
    0
}

/// Waits for the run's init (and with it its whole PID namespace) to be gone.
fn reap(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}

/// The run's init, PID 1 of its fresh namespaces: mounts the run's filesystems, asks to be
/// placed in the run's cgroup, takes the run, gives up its capabilities and supervises it.
fn run_init(
    ctl: &OwnedFd,
    sizes: Sizes,
    filter: &[kennel_common::sys::BpfInsn],
    buf: &mut [u8],
) -> i32 {
    // Dies with the zygote (the sandbox ending while this waits for its run).
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if let Err(e) = crate::fresh::mount_all(sizes) {
        eprintln!("kennel-run: the run's filesystems: {e}");
        return 130;
    }
    let me = match kennel_common::sys::pidfd_open(1) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("kennel-run: a pidfd for the run's init: {e}");
            return 131;
        }
    };
    if let Err(e) = kennel_common::sys::send_with_fds(ctl, PLACE, &[&me]) {
        eprintln!("kennel-run: asking to be placed: {e}");
        return 122;
    }
    drop(me);
    let (n, fds) = match kennel_common::sys::recv_with_fds(ctl, buf) {
        Ok(got) => got,
        Err(e) => {
            eprintln!("kennel-run: receiving the run: {e}");
            return 123;
        }
    };
    if n == 0 && fds.is_empty() {
        return leave(); // let go unused
    }
    let Some(mut files) = Received::take(fds) else {
        eprintln!("kennel-run: a run without its descriptors");
        return 124;
    };
    let job = parse_job(&buf[..n]).map_err(|e| format!("the run's flags: {e}"));
    let report = match job.and_then(|job| isolate().map(|()| job)) {
        Ok(job) => supervise(&job, files.job, filter, ctl.as_fd()),
        Err(e) => Report::NotStarted(e),
    };
    let code = match files.facts.write_all(report.encode().as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kennel-run: writing the facts: {e}");
            121
        }
    };
    say_done(ctl);
    code
}

/// Once placed in the run's cgroup and given its run: the normal scheduling policy again, a
/// cgroup namespace rooted at its cgroup (the run sees its own cgroup as `/`), then no
/// capability left.
fn isolate() -> Result<(), String> {
    kennel_common::sys::set_batch_scheduling(false)
        .map_err(|e| format!("the normal scheduling policy: {e}"))?;
    nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| format!("a cgroup namespace: {e}"))?;
    kennel_common::sys::drop_all_capabilities().map_err(|e| format!("dropping capabilities: {e}"))
}

/// Tells the worker the run is over (every process reaped, the facts written), so it answers
/// without waiting for the namespaces' teardown. Our own stdout and stderr (the run's pipes)
/// (and stdin) are closed first, so the worker has read all there is.
fn say_done(ctl: &OwnedFd) {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    let _ = kennel_common::sys::send_with_fds(ctl, DONE, &[]);
}

/// The descriptors of a job, the standard streams already in place.
struct Received {
    facts: File,
    job: JobFiles,
}

impl Received {
    /// Puts stdin, stdout and stderr at 0, 1 and 2 and keeps the rest; `None` unless 5 or 6
    /// descriptors came.
    fn take(fds: Vec<std::os::fd::OwnedFd>) -> Option<Received> {
        if !(5..=6).contains(&fds.len()) {
            return None;
        }
        let mut it = fds.into_iter();
        let (stdin, stdout, stderr) = (it.next()?, it.next()?, it.next()?);
        nix::unistd::dup2_stdin(&stdin).ok()?;
        nix::unistd::dup2_stdout(&stdout).ok()?;
        nix::unistd::dup2_stderr(&stderr).ok()?;
        let unpack = File::from(it.next()?);
        let facts = File::from(it.next()?);
        let pack = it.next().map(File::from);
        Some(Received {
            facts,
            job: JobFiles { unpack, pack },
        })
    }
}

/// The job's flags from the message: NUL-separated UTF-8 arguments.
pub fn parse_job(bytes: &[u8]) -> Result<Job, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let args = text.strip_suffix('\0').unwrap_or(text).split('\0');
    Job::try_parse_from(args).map_err(|e| e.to_string().lines().next().unwrap_or("").into())
}

/// The message for `args` (the inverse of `parse_job`).
pub fn encode_job(args: &[String]) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    for a in args {
        if a.contains('\0') {
            return Err("an argument holds a NUL byte".into());
        }
        v.extend_from_slice(a.as_bytes());
        v.push(0);
    }
    if v.len() > MAX_JOB {
        return Err(format!("the run's arguments exceed {} KiB", MAX_JOB / 1024));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_survives_its_encoding() {
        let args: Vec<String> = [
            "--cpu-s",
            "2",
            "--file-size-kib",
            "64",
            "--open-files",
            "64",
            "--processes",
            "8",
            "--",
            "./prog",
            "an arg",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let job = parse_job(&encode_job(&args).unwrap()).unwrap();
        assert_eq!(job.cpu_s, 2);
        assert_eq!(job.command, ["./prog", "an arg", ""]);
        assert!(job.pack_dir.is_none());
    }

    #[test]
    fn bad_jobs_are_refused() {
        assert!(encode_job(&["a\0b".to_string()]).is_err());
        assert!(encode_job(&["x".repeat(MAX_JOB + 1)]).is_err());
        assert!(parse_job(b"\xff\xfe").is_err());
        assert!(parse_job(b"--cpu-s\0x\0--\0prog\0").is_err());
        assert!(parse_job(b"--cpu-s\x001\x00").is_err(), "no command");
    }
}
