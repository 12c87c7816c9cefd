//! A sandbox ready for its run (`zygote.rs` makes it): the run's init waiting in fresh
//! namespaces, already in the run's cgroup. Handing it the run costs one message.
//! A run's init takes one run and dies with it; what the next run of the same sandbox gets is
//! a new init in new namespaces (`standby.rs` says why nothing passes between them).

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::cgroup::{RunCgroup, RunLimits};
use crate::execute::{collect, memfd, pipe, read_only, Ends, Input, JobIo, StepOutput};
use crate::sandbox::Shape;
use crate::standby::encode_job;
use crate::zygote::Zygote;

/// How long a finished run's namespace may take to be gone before the sandbox is given up.
const GONE_WITHIN: Duration = Duration::from_secs(2);

/// A sandbox ready for one run: its zygote, the run's init waiting for its run (a pidfd of
/// it: the wall limit kills it, and with it the run's whole PID namespace), the run's cgroup.
pub struct Sandbox {
    zygote: Zygote,
    init: OwnedFd,
    cgroup: Option<(RunCgroup, RunLimits)>,
    pub shape: Shape,
}

impl Sandbox {
    pub(crate) fn new(
        zygote: Zygote,
        init: OwnedFd,
        cgroup: Option<(RunCgroup, RunLimits)>,
    ) -> Sandbox {
        Sandbox {
            shape: zygote.shape,
            zygote,
            init,
            cgroup,
        }
    }

    /// bwrap's pid (to end the sandbox from another thread: it is our child until reaped).
    pub fn pid(&self) -> u32 {
        self.zygote.pid()
    }

    /// The cgroup directories of this sandbox and of its next run (none without cgroups).
    pub fn cgroup_dirs(&self) -> Vec<std::path::PathBuf> {
        let mut dirs = self.zygote.cgroup_dirs();
        if let Some((c, _)) = &self.cgroup {
            dirs.extend(c.dirs().iter().cloned());
        }
        dirs
    }

    /// Sets the run's cgroup limits (written only where they differ from what it holds).
    pub fn limit(&mut self, want: &RunLimits) -> Result<(), String> {
        if let Some((c, held)) = &mut self.cgroup {
            c.set_limits(held, want)
                .map_err(|e| format!("cgroup: {e}"))?;
            *held = *want;
        }
        Ok(())
    }

    /// Hands the sandbox its run and collects what the run did; what is left of the sandbox
    /// (its teardown, its cgroup) comes back to be retired off the request path. A sandbox
    /// that died while waiting (someone killed it) gives `Stale`, and the caller makes another.
    pub fn run(mut self, job: &JobIo<'_>) -> Result<(StepOutput, Retired), Handoff> {
        // A sandbox killed while it waited (its bwrap gone, its init following): another.
        if let Some(status) = self.zygote.ended() {
            return Err(Handoff::Stale(format!(
                "it ended while it waited ({status})"
            )));
        }
        let message = encode_job(job.args).map_err(Handoff::Failed)?;
        let io = |e: std::io::Error| Handoff::Failed(format!("the run's descriptors: {e}"));
        let stdin: OwnedFd = match &job.stdin {
            Input::Bytes(b) => read_only(&memfd("kennel-stdin", b).map_err(io)?)
                .map_err(io)?
                .into(),
            Input::Pipe(fd) => fd.try_clone().map_err(io)?,
        };
        let (out_r, out_w) = match &job.stdout {
            Some(fd) => (None, fd.try_clone().map_err(io)?),
            None => pipe().map(|(r, w)| (Some(r), w)).map_err(io)?,
        };
        let (err_r, err_w) = pipe().map_err(io)?;
        let archive = read_only(&memfd("kennel-in", job.archive).map_err(io)?).map_err(io)?;
        let facts = memfd("kennel-facts", b"").map_err(io)?;
        let pack = if job.pack {
            Some(memfd("kennel-out", b"").map_err(io)?)
        } else {
            None
        };
        let started = Instant::now();
        let sent = {
            let mut fds: Vec<&dyn AsFd> = vec![&stdin, &out_w, &err_w, &archive, &facts];
            if let Some(p) = &pack {
                fds.push(p);
            }
            kennel_common::sys::send_with_fds(&self.zygote.control, &message, &fds)
        };
        // Only the sandbox holds the write ends now: the pipes end when it does.
        drop((stdin, out_w, err_w, archive));
        if let Err(e) = sent {
            let said = self.zygote.words();
            return Err(Handoff::Stale(format!("{e}; {said}")));
        }
        let ends = Ends {
            stdout: out_r,
            stderr: err_r,
            done: self.zygote.control.as_fd(),
            facts: &facts,
            pack: pack.as_ref(),
        };
        let out = collect(&self.init, ends, started, job)
            .map_err(|e| Handoff::Failed(format!("collecting the run: {e}")))?;
        let cgroup = self.cgroup.take();
        Ok((
            out,
            Retired {
                zygote: self.zygote,
                init: self.init,
                cgroup,
            },
        ))
    }

    /// Lets the sandbox go unused: ends it and removes its cgroups and its run's.
    pub fn end(self) {
        // The zygote first: its socket's end is what ends the waiting init, and the run's
        // cgroup can only go once the init has.
        self.zygote.end();
        if let Some((c, _)) = self.cgroup {
            c.remove();
        }
    }
}

/// What is left of a finished run: its sandbox (the zygote, ready for another run once this
/// one's namespace is gone), the run's init and its cgroup (with the limits it holds). The
/// run's answer waits for none of them (`pool::Pool::retire`).
pub struct Retired {
    pub zygote: Zygote,
    pub init: OwnedFd,
    pub cgroup: Option<(RunCgroup, RunLimits)>,
}

/// A sandbox back from a run for another: its zygote and, where it may serve again, the last
/// run's cgroup with the limits it holds (`RunCgroup::reusable`).
pub type Kept = (Zygote, Option<(RunCgroup, RunLimits)>);

impl Retired {
    /// Unless `keep`, the sandbox and the run's cgroup are removed here; with it they come
    /// back, the run's namespace gone, for another run (the cgroup where it may serve again).
    pub fn finish(self, keep: bool) -> Option<Kept> {
        let gone = wait_gone(&self.init, GONE_WITHIN) || {
            let _ = kennel_common::sys::pidfd_kill(&self.init);
            wait_gone(&self.init, GONE_WITHIN)
        };
        let (kept, removed) = match self.cgroup {
            Some((c, held)) if keep && gone && c.reusable() => (Some((c, held)), None),
            other => (None, other),
        };
        if keep && gone {
            if let Some((c, _)) = removed {
                c.remove();
            }
            return Some((self.zygote, kept));
        }
        // The sandbox first: the run's cgroup can only go once its last process has.
        self.zygote.end();
        if let Some((c, _)) = removed {
            c.remove();
        }
        None
    }
}

/// Waits until the process of `pidfd` has exited (a run's init: its whole namespace with it).
fn wait_gone(pidfd: &OwnedFd, within: Duration) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let ms = within.as_millis().min(60_000) as u16;
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(1..))
}

/// Why a run could not be handed over.
#[derive(Debug)]
pub enum Handoff {
    /// The sandbox was gone before the run reached it: make another.
    Stale(String),
    /// The run itself could not be set up.
    Failed(String),
}
