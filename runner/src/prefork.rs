//! A sandbox made before its run: bwrap started with the namespaces, the mounts, the cgroup
//! and the unprivileged user, and `kennel-run` inside waiting on its control socket
//! (`standby.rs`). Making one costs a few milliseconds; handing it a run costs one message.
//! A sandbox takes one run and dies with it: nothing is ever reused between runs.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::cgroup::{RunCgroup, RunLimits};
use crate::execute::{collect, memfd, pipe, read_only, Ends, Input, JobIo, StepOutput};
use crate::sandbox::{Shape, FD_CONTROL, FD_HELPER, FD_WARM};
use crate::standby::{encode_job, READY};

/// How long a new sandbox may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// What making a sandbox takes.
pub struct Recipe<'a> {
    pub bwrap: &'a Path,
    pub helper: &'a Path,
    /// bwrap's arguments (`sandbox::standby_args`).
    pub args: Vec<String>,
    pub cgroup: Option<(RunCgroup, RunLimits)>,
    pub drop_to: Option<(u32, u32)>,
    /// The warm toolchain directory, bound read-only at `/warm`.
    pub warm: Option<OwnedFd>,
}

/// A sandbox waiting for its run.
pub struct Sandbox {
    child: Child,
    control: OwnedFd,
    /// bwrap's own complaints (it writes only when it cannot make the sandbox).
    errors: Option<ChildStderr>,
    cgroup: Option<(RunCgroup, RunLimits)>,
    pub shape: Shape,
}

impl Sandbox {
    /// Starts bwrap and waits until `kennel-run` inside says it is ready. The sandbox dies
    /// with the thread that made it (`PR_SET_PDEATHSIG`): make it on a thread that lives as
    /// long as the sandbox may wait.
    /// On failure, the cgroup comes back with the reason (for the caller to remove).
    #[allow(clippy::type_complexity)]
    pub fn make(
        mut recipe: Recipe<'_>,
        shape: Shape,
    ) -> Result<Sandbox, (String, Option<RunCgroup>)> {
        let cgroup = recipe.cgroup.take();
        let mut s = match Sandbox::start(&recipe, cgroup.as_ref().map(|(c, _)| c), shape) {
            Ok(s) => s,
            Err(e) => return Err((format!("starting bwrap: {e}"), cgroup.map(|(c, _)| c))),
        };
        s.cgroup = cgroup;
        match s.ready() {
            Ok(()) => Ok(s),
            Err(why) => Err((why, s.cgroup.take().map(|(c, _)| c))),
        }
    }

    /// bwrap's pid (to end the sandbox from another thread: it is our child until reaped).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The cgroup directories of this sandbox (none without cgroups).
    pub fn cgroup_dirs(&self) -> Vec<std::path::PathBuf> {
        self.cgroup
            .as_ref()
            .map(|(c, _)| c.dirs().to_vec())
            .unwrap_or_default()
    }

    fn start(
        recipe: &Recipe<'_>,
        cgroup: Option<&RunCgroup>,
        shape: Shape,
    ) -> std::io::Result<Sandbox> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let helper = File::open(recipe.helper)?;
        let procs = match cgroup {
            Some(c) => c.procs_files()?,
            None => Vec::new(),
        };
        let mut fds = vec![(theirs, FD_CONTROL), (helper.into(), FD_HELPER)];
        if let Some(w) = &recipe.warm {
            fds.push((w.try_clone()?, FD_WARM));
        }
        let mut cmd = Command::new(recipe.bwrap);
        cmd.args(&recipe.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        kennel_common::sys::prepare_child(
            &mut cmd,
            kennel_common::sys::ChildSetup {
                fds,
                cgroup_procs: procs,
                drop_to: recipe.drop_to,
                parent_death: Some(nix::sys::signal::Signal::SIGKILL),
            },
        )?;
        let mut child = cmd.spawn()?;
        // The command holds our copies of the descriptors placed in the child: drop it now.
        drop(cmd);
        Ok(Sandbox {
            errors: child.stderr.take(),
            child,
            control: ours,
            cgroup: None,
            shape,
        })
    }

    /// Waits for the ready byte; on failure, bwrap's own words.
    fn ready(&mut self) -> Result<(), String> {
        let mut fds = [PollFd::new(self.control.as_fd(), PollFlags::POLLIN)];
        let ms = READY_WITHIN.as_millis() as u16;
        let polled = poll(&mut fds, PollTimeout::from(ms));
        let mut buf = [0u8; 8];
        let got = match polled {
            Ok(1..) => kennel_common::sys::recv_with_fds(&self.control, &mut buf).ok(),
            _ => None,
        };
        match got {
            Some((n, _)) if &buf[..n] == READY => Ok(()),
            _ => Err(format!("the sandbox did not start: {}", self.words())),
        }
    }

    /// Kills the sandbox and returns what bwrap said (at most 4 KiB).
    fn words(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut said = Vec::new();
        if let Some(e) = self.errors.take() {
            let _ = e.take(4096).read_to_end(&mut said);
        }
        let said = String::from_utf8_lossy(&said).trim().to_string();
        if said.is_empty() {
            "it exited without a word".into()
        } else {
            said
        }
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
        if let Ok(Some(status)) = self.child.try_wait() {
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
            kennel_common::sys::send_with_fds(&self.control, &message, &fds)
        };
        // Only the sandbox holds the write ends now: the pipes end when it does.
        drop((stdin, out_w, err_w, archive));
        if let Err(e) = sent {
            let said = self.words();
            return Err(Handoff::Stale(format!("{e}; {said}")));
        }
        let ends = Ends {
            stdout: out_r,
            stderr: err_r,
            done: self.control.as_fd(),
            facts: &facts,
            pack: pack.as_ref(),
        };
        let out = collect(&mut self.child, ends, started, job)
            .map_err(|e| Handoff::Failed(format!("collecting the run: {e}")))?;
        let cgroup = self.cgroup.take().map(|(c, _)| c);
        Ok((
            out,
            Retired {
                sandbox: Some(self),
                cgroup,
            },
        ))
    }

    /// The sandbox's cgroup, when it is let go unused.
    pub fn discard(mut self) -> Option<RunCgroup> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.cgroup.take().map(|(c, _)| c)
    }
}

impl Drop for Sandbox {
    /// Never a zombie nor a sandbox left waiting: kill and reap (a no-op after a run).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What is left of a finished run: its sandbox, perhaps still tearing its namespaces down,
/// and its cgroup. The run's answer does not wait for either (`pool::Pool::retire`).
pub struct Retired {
    pub sandbox: Option<Sandbox>,
    pub cgroup: Option<RunCgroup>,
}

impl Retired {
    /// Waits for the sandbox to be gone (kills and reaps it), then removes the cgroup.
    pub fn finish(self) {
        drop(self.sandbox);
        if let Some(c) = self.cgroup {
            c.remove();
        }
    }
}

/// Why a run could not be handed over.
#[derive(Debug)]
pub enum Handoff {
    /// The sandbox was gone before the run reached it: make another.
    Stale(String),
    /// The run itself could not be set up.
    Failed(String),
}
