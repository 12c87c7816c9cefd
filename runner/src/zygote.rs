//! A sandbox kept for many runs: bwrap started once with the user and network namespaces, the
//! read-only system view and the unprivileged user, and `kennel-run` inside as its zygote
//! (`standby.rs`). Making one costs a few milliseconds of bwrap; each run after that costs a
//! fork into fresh PID, mount and IPC namespaces and a few mounts (`fresh.rs`).
//!
//! `next_init` asks the zygote for the next run's init and puts that init into the run's own
//! cgroup (every process of the run is born there); `maker.rs` makes of both a `Sandbox`
//! ready for one run (`prefork.rs`). Moving a process between cgroups waits for an RCU grace
//! period when none happened lately (some 8 ms here, cgroup v1): `Maker::arm` runs it on the
//! pool's threads, off the request path.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::cgroup::RunCgroup;
use crate::sandbox::{Shape, FD_CONTROL, FD_HELPER, FD_WARM};
use crate::standby::{DONE, NEXT, PLACE, READY};

/// How long a new sandbox, or a run's init, may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// What making a sandbox takes.
pub struct Recipe<'a> {
    pub bwrap: &'a Path,
    pub helper: &'a Path,
    /// bwrap's arguments (`sandbox::standby_args`).
    pub args: Vec<String>,
    /// The cgroup of the sandbox itself (the zygote; each run gets one of its own).
    pub cgroup: Option<RunCgroup>,
    pub drop_to: Option<(u32, u32)>,
    /// The warm toolchain directory, bound read-only at `/warm`.
    pub warm: Option<OwnedFd>,
}

/// A sandbox between runs: bwrap and its zygote.
pub struct Zygote {
    child: Child,
    pub(crate) control: OwnedFd,
    /// bwrap's and the zygote's complaints (written only when something cannot be made).
    errors: Option<ChildStderr>,
    cgroup: Option<RunCgroup>,
    pub shape: Shape,
}

impl Zygote {
    /// Starts bwrap and waits until the zygote inside says it is ready. The sandbox ends when
    /// our end of its control socket closes (this `Zygote` dropped, or the worker's exit).
    /// On failure, the cgroup comes back with the reason.
    #[allow(clippy::type_complexity)]
    pub fn make(
        mut recipe: Recipe<'_>,
        shape: Shape,
    ) -> Result<Zygote, (String, Option<RunCgroup>)> {
        let cgroup = recipe.cgroup.take();
        let mut z = match Zygote::start(&recipe, cgroup.as_ref(), shape) {
            Ok(z) => z,
            Err(e) => return Err((format!("starting bwrap: {e}"), cgroup)),
        };
        z.cgroup = cgroup;
        match z.expect(READY) {
            Ok(_) => Ok(z),
            Err(why) => Err((why, z.cgroup.take())),
        }
    }

    fn start(
        recipe: &Recipe<'_>,
        cgroup: Option<&RunCgroup>,
        shape: Shape,
    ) -> std::io::Result<Zygote> {
        let (ours, theirs) = kennel_common::sys::seqpacket_pair()?;
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
                // The sandbox ends with its control socket, not with this thread (see
                // `sandbox::standby_args`).
                parent_death: None,
            },
        )?;
        let mut child = cmd.spawn()?;
        // The command holds our copies of the descriptors placed in the child: drop it now.
        drop(cmd);
        Ok(Zygote {
            errors: child.stderr.take(),
            child,
            control: ours,
            cgroup: None,
            shape,
        })
    }

    /// Waits for `what` on the control socket (with the descriptors it brings), past the last
    /// run's `D` (seen by `execute::pump` as readable, not read); on failure, the sandbox is
    /// killed and its own words come back.
    fn expect(&mut self, what: &[u8]) -> Result<Vec<OwnedFd>, String> {
        let until = std::time::Instant::now() + READY_WITHIN;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let mut fds = [PollFd::new(self.control.as_fd(), PollFlags::POLLIN)];
            let polled = poll(&mut fds, PollTimeout::from(left.as_millis() as u16));
            let mut buf = [0u8; 8];
            let got = match polled {
                Ok(1..) => kennel_common::sys::recv_with_fds(&self.control, &mut buf).ok(),
                _ => None,
            };
            match got {
                Some((n, fds)) if &buf[..n] == what => return Ok(fds),
                Some((n, fds)) if &buf[..n] == DONE && fds.is_empty() => continue,
                _ => return Err(format!("the sandbox did not start: {}", self.words())),
            }
        }
    }

    /// Kills the sandbox and returns what it said (at most 4 KiB).
    pub(crate) fn words(&mut self) -> String {
        self.kill();
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

    /// bwrap's pid (to end the sandbox from another thread: it is our child until reaped).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the sandbox ended (someone killed it).
    pub fn ended(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// The sandbox's own cgroup directories.
    pub fn cgroup_dirs(&self) -> Vec<std::path::PathBuf> {
        self.cgroup
            .as_ref()
            .map(|c| c.dirs().to_vec())
            .unwrap_or_default()
    }

    /// The next run's init (a pidfd of it), placed in `cgroup` (where cgroups are usable; one
    /// kept from an earlier run must then hold the init alone) before it can start anything.
    /// On failure the sandbox is killed (`end` it).
    pub fn next_init(&mut self, cgroup: Option<&mut RunCgroup>) -> Result<OwnedFd, String> {
        if let Err(e) = kennel_common::sys::send_with_fds(&self.control, NEXT, &[]) {
            return Err(format!("asking for the next run: {e}; {}", self.words()));
        }
        let init = self.expect(PLACE)?.into_iter().next();
        let init = init.ok_or("the run's init sent no pidfd")?;
        if let Some(c) = cgroup {
            let pid = kennel_common::sys::pidfd_pid(&init)
                .map_err(|e| format!("the run's init: {e}"))?
                .ok_or("the run's init ended before it was placed")?;
            c.place(pid)
                .map_err(|e| format!("placing the run in its cgroup: {e}"))?;
        }
        Ok(init)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ends the sandbox and removes its own cgroup. The control socket closes first: that is
    /// what ends `kennel-run` inside (bwrap's death does not), and the cgroup can only go once
    /// it has.
    pub fn end(mut self) {
        let cgroup = self.cgroup.take();
        drop(self);
        if let Some(c) = cgroup {
            c.remove();
        }
    }
}

impl Drop for Zygote {
    /// Never a zombie nor a sandbox left waiting: kill and reap.
    fn drop(&mut self) {
        self.kill();
    }
}
