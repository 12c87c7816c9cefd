//! One sandboxed step's input and output: its descriptors (memfds and pipes: nothing touches
//! the disk), stdout and stderr read up to their caps, the wall limit enforced with a pidfd in
//! the same `poll`, and `kennel-run`'s facts at the end. Every wait here has a deadline.
//! (`prefork.rs` makes the sandbox and hands it the run.)

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::facts::Report;

/// What the worker did to a step, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    Wall,
    Output,
}

/// What a step did.
#[derive(Debug, Default)]
pub struct StepOutput {
    /// `kennel-run`'s report; `None` if it wrote none (killed by us, or the sandbox failed).
    pub report: Option<Report>,
    pub killed: Option<Kill>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub wall: Duration,
    /// The archive packed after a successful compile.
    pub packed: Vec<u8>,
}

/// Where a step's stdin comes from.
pub enum Input<'a> {
    /// These bytes (a memfd the step can only read).
    Bytes(&'a [u8]),
    /// A pipe from another step (an interactor and the program it talks with).
    Pipe(OwnedFd),
}

/// One run handed to a sandbox (`prefork::Sandbox::run`).
pub struct JobIo<'a> {
    /// `kennel-run`'s flags for this run (`sandbox::job_args`).
    pub args: &'a [String],
    pub stdin: Input<'a>,
    /// Where stdout goes instead of being read here (the other end of an interaction).
    pub stdout: Option<OwnedFd>,
    pub archive: &'a [u8],
    pub wall: Duration,
    pub output_cap: u64,
    /// Hand the step the descriptor it packs `/work/out` into (a compile); a run gets none.
    pub pack: bool,
}

pub(crate) fn memfd(name: &str, contents: &[u8]) -> std::io::Result<File> {
    let fd = nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    let mut f = File::from(fd);
    if !contents.is_empty() {
        f.write_all(contents)?;
        f.rewind()?;
    }
    Ok(f)
}

/// The memfd `f` again, open for reading only: what the program reads (its stdin) it cannot
/// write. A memfd is a file of its own, so reopening it through `/proc` gives a new,
/// read-only open file description.
pub(crate) fn read_only(f: &File) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    File::open(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

/// A pipe, both ends close-on-exec: (read, write).
pub(crate) fn pipe() -> std::io::Result<(File, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((File::from(r), w))
}

/// Our ends of a started run: the read ends of its output pipes (no stdout when it goes to
/// an interactor), the control socket on which `kennel-run` says the run is over, and the
/// memfds it writes its facts and its packed output to.
pub(crate) struct Ends<'a> {
    pub stdout: Option<File>,
    pub stderr: File,
    pub done: BorrowedFd<'a>,
    pub facts: &'a File,
    pub pack: Option<&'a File>,
}

/// Collects what a started run does: its output up to the caps, the wall limit, then the
/// facts. `init` is a pidfd of the run's init: killing it ends the run's whole namespace.
pub(crate) fn collect(
    init: &OwnedFd,
    ends: Ends<'_>,
    started: Instant,
    job: &JobIo<'_>,
) -> std::io::Result<StepOutput> {
    let Ends {
        stdout,
        stderr,
        done,
        facts,
        pack,
    } = ends;
    let mut out = StepOutput::default();
    let deadline = started + job.wall;
    let (killed, _) = pump(
        init,
        [stdout, Some(stderr)],
        Some(done),
        deadline,
        job.output_cap,
        &mut out,
    );
    out.killed = killed;
    // `kennel-run` said it is done (every process of the run reaped, the facts written) or
    // its init is gone. The namespaces' teardown goes on without us (`prefork::Retired`).
    out.wall = started.elapsed();
    out.report = read_small(facts, 4096)
        .ok()
        .and_then(|t| Report::parse(&String::from_utf8_lossy(&t)));
    if let (Some(Report::Ran(f)), Some(pack)) = (&out.report, pack) {
        if f.exit == Some(0) {
            out.packed = read_small(pack, 256 << 20)?;
        }
    }
    Ok(out)
}

fn read_small(f: &File, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut f = f.try_clone()?;
    f.rewind()?;
    let mut v = Vec::new();
    f.take(cap).read_to_end(&mut v)?;
    Ok(v)
}

/// Reads stdout and stderr until both end and the run is over (its init exited, or
/// `done` became readable), killing the sandbox at the deadline or when an output passes its
/// cap. Returns what it killed the step for, and whether `done` ended it.
fn pump(
    init: &OwnedFd,
    [mut stdout, mut stderr]: [Option<File>; 2],
    done: Option<BorrowedFd<'_>>,
    deadline: Instant,
    cap: u64,
    out: &mut StepOutput,
) -> (Option<Kill>, bool) {
    let mut killed = None;
    let (mut exited, mut said_done) = (false, false);
    loop {
        let now = Instant::now();
        if stdout.is_none() && stderr.is_none() && exited {
            return (killed, said_done);
        }
        if now >= deadline && killed.is_none() {
            let _ = kennel_common::sys::pidfd_kill(init);
            killed = Some(Kill::Wall);
        }
        // After a kill, the pipes end as soon as the namespace is gone: give that a bound too.
        let left = if killed.is_some() {
            if now >= deadline + Duration::from_secs(2) {
                return (killed, false);
            }
            deadline + Duration::from_secs(2) - now
        } else {
            deadline - now
        };
        let mut fds = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(3);
        if let Some(s) = &stdout {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            which.push(0);
        }
        if let Some(s) = &stderr {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            which.push(1);
        }
        if !exited {
            fds.push(PollFd::new(init.as_fd(), PollFlags::POLLIN));
            which.push(2);
        }
        if let (Some(d), false) = (done, exited) {
            fds.push(PollFd::new(d, PollFlags::POLLIN));
            which.push(3);
        }
        let ms = left.as_millis().clamp(1, 60_000) as u16;
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return (killed, false),
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, w)| *w)
            .collect();
        drop(fds);
        for w in ready {
            match w {
                2 => exited = true,
                3 => (exited, said_done) = (true, true),
                0 => {
                    if let Some(over) = drain(&mut stdout, &mut out.stdout, cap) {
                        out.stdout_truncated = over;
                        if over && killed.is_none() {
                            let _ = kennel_common::sys::pidfd_kill(init);
                            killed = Some(Kill::Output);
                        }
                    }
                }
                _ => {
                    if let Some(over) = drain(&mut stderr, &mut out.stderr, cap) {
                        out.stderr_truncated = over;
                        if over && killed.is_none() {
                            let _ = kennel_common::sys::pidfd_kill(init);
                            killed = Some(Kill::Output);
                        }
                    }
                }
            }
        }
    }
}

/// One read from a pipe into `buf`, keeping at most `cap` bytes. `Some(true)` once the cap
/// is passed (the pipe is then dropped), `Some(false)` at end of file, `None` otherwise.
fn drain<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>, cap: u64) -> Option<bool> {
    let p = pipe.as_mut()?;
    let mut chunk = [0u8; 64 * 1024];
    match p.read(&mut chunk) {
        Ok(0) | Err(_) => {
            *pipe = None;
            Some(false)
        }
        Ok(n) => {
            let room = (cap as usize).saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..n.min(room)]);
            if n > room {
                *pipe = None;
                Some(true)
            } else {
                None
            }
        }
    }
}
