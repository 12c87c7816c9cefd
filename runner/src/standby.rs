//! `kennel-run` in standby: a sandbox is made before its run exists (`pool.rs`), so the
//! namespaces, the mounts, the cgroup and the unprivileged user cost nothing on the request
//! path. Inside it, `kennel-run` prepares what it can (no dumping, the filter assembled), says
//! it is ready with one byte on its control socket, and waits for exactly one message: the
//! run's flags (`helper::Job`, NUL-separated) with its descriptors, in this order:
//!
//! | # | descriptor |
//! |---|---|
//! | 0–2 | the program's stdin (read-only), stdout, stderr |
//! | 3 | the archive to unpack into `/work` |
//! | 4 | where the facts line goes |
//! | 5 | where the packed output goes (a compile only) |
//!
//! One run per sandbox, never two: when the run ends `kennel-run` exits, and with it, as PID 1,
//! the PID namespace, its tmpfs mounts and everything the program left. A worker that lets a
//! sandbox go unused closes the socket: `kennel-run` reads the end of the stream and exits.

use std::fs::File;
use std::io::Write;

use clap::Parser;

use crate::facts::Report;
use crate::helper::{supervise, Job, JobFiles};

/// `kennel-run`'s command line: only its control socket. The run itself arrives on it.
#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennel-run",
    about = "Kennel's sandbox init: waits in a sandbox made in advance for one run on its \
             control socket (started by a worker through bwrap; see `kennel_runner::standby`)"
)]
pub struct Args {
    /// The socket the run arrives on: its flags (`Job`) and its descriptors.
    #[arg(long)]
    pub control_fd: i32,
}

/// The binary's body.
pub fn main_with(args: Args) -> i32 {
    serve(args.control_fd)
}

/// The largest job message: the flags and the program's arguments (a submission's arguments
/// are bounded far below this).
pub const MAX_JOB: usize = 256 * 1024;

/// The byte that says "ready".
pub const READY: &[u8] = b"R";

/// The byte that says "the run is over".
pub const DONE: &[u8] = b"D";

/// Waits for the one run on `control_fd` and runs it; the process's exit code.
pub fn serve(control_fd: i32) -> i32 {
    let ctl = match kennel_common::sys::inherited_fd(control_fd) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("kennel-run: control descriptor: {e}");
            return 120;
        }
    };
    let _ = nix::sys::prctl::set_dumpable(false);
    let filter = crate::seccomp::program();
    if let Err(e) = kennel_common::sys::send_with_fds(&ctl, READY, &[]) {
        eprintln!("kennel-run: saying ready: {e}");
        return 122;
    }
    let mut buf = vec![0u8; MAX_JOB];
    let (n, fds) = match kennel_common::sys::recv_with_fds(&ctl, &mut buf) {
        Ok(got) => got,
        Err(e) => {
            eprintln!("kennel-run: receiving the run: {e}");
            return 123;
        }
    };
    if n == 0 && fds.is_empty() {
        return 0; // let go unused
    }
    let Some(mut files) = Received::take(fds) else {
        eprintln!("kennel-run: a run without its descriptors");
        return 124;
    };
    let report = match parse_job(&buf[..n]) {
        Ok(job) => supervise(&job, files.job, &filter),
        Err(e) => Report::NotStarted(format!("the run's flags: {e}")),
    };
    let code = match files.facts.write_all(report.encode().as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kennel-run: writing the facts: {e}");
            121
        }
    };
    say_done(&ctl);
    code
}

/// Tells the worker the run is over (every process reaped, the facts written), so it answers
/// without waiting for the namespaces' teardown. Our own stdout and stderr (the run's pipes)
/// (and stdin) are closed first, so the worker has read all there is.
fn say_done(ctl: &std::os::fd::OwnedFd) {
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
