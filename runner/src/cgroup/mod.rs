//! One cgroup per run, where the kernel lets us make them: memory (with an exact OOM-kill
//! count, the `memory_limit` verdict), pids (a fork bomb stops at the limit, whatever the uid)
//! and a CPU quota (`--cpu-max`, one CPU by default). Two hierarchies:
//!
//! | hierarchy | who | where (`v1.rs`, `v2.rs`) |
//! |---|---|---|
//! | cgroup v2 (every current distribution) | root | `/sys/fs/cgroup/kennel/kennel-w<pid>-<k>/run-<n>`, or under `--cgroup PATH` |
//! | cgroup v2 | an ordinary user with a delegated subtree | under the `--cgroup` the watchdog prepared in it |
//! | cgroup v1 (these machines; hybrid counts as v1) | root | `/sys/fs/cgroup/<controller>/kennel-w<pid>-<k>/run-<n>` |
//!
//! Without any, the rlimits and `kennel-run`'s budget hold (docs/SECURITY.md says what then is
//! approximate). A worker removes its directories at exit; one killed before that leaves them,
//! and the next worker to start under the same parent kills what is left in them and removes
//! them (their owner's pid is dead).

pub mod v1;
pub mod v2;

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_common::limits_mode::LimitsMode;

const PREFIX: &str = "kennel-w";

/// What one run's cgroup is set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    pub memory_bytes: u64,
    pub processes: u64,
    pub cpu_percent: u32,
}

impl RunLimits {
    /// A step's cgroup limits: Java's heap is bounded by -Xmx, its cgroup leaves
    /// `runtime_room` for the JVM itself; a few processes more than the run's for bwrap and
    /// `kennel-run`.
    pub fn of(l: &crate::limits::Limits, runtime_room: u64) -> RunLimits {
        RunLimits {
            memory_bytes: l.memory_kib * 1024 + runtime_room,
            processes: l.processes + 4,
            cpu_percent: l.cpu_percent,
        }
    }
}

/// Where runs' cgroups would go, decided once per worker.
#[derive(Debug, Clone)]
pub enum Place {
    V1,
    V2 { parent: PathBuf, root: bool },
    None,
}

impl Place {
    /// `explicit` is `--cgroup`; `root` whether we run as root.
    pub fn choose(explicit: Option<&Path>, root: bool) -> Place {
        if v2::present() {
            match (explicit, root) {
                (Some(p), _) => Place::V2 {
                    parent: p.to_path_buf(),
                    root,
                },
                (None, true) => Place::V2 {
                    parent: PathBuf::from(v2::ROOT_PARENT),
                    root,
                },
                (None, false) => Place::None,
            }
        } else if root && v1::present() {
            Place::V1
        } else {
            Place::None
        }
    }

    /// The mode runs would get, found without creating anything (cheap enough for a
    /// worker's start; the directories are made at its first run).
    pub fn mode(&self) -> LimitsMode {
        use kennel_common::limits_mode::{MEMORY, PIDS};
        match self {
            Place::V1 => v1::mode(),
            Place::V2 { parent, root } => {
                // Root makes the parent at the first run, with what the hierarchy offers.
                let controllers = if *root && !parent.is_dir() {
                    v2::controllers(&Path::new(v2::MOUNT).join("cgroup.controllers"))
                        & (MEMORY | PIDS | kennel_common::limits_mode::CPU)
                } else {
                    v2::controllers(&parent.join("cgroup.subtree_control"))
                };
                if controllers & (MEMORY | PIDS) == MEMORY | PIDS {
                    v2::mode(*root, controllers)
                } else {
                    LimitsMode::BUDGET
                }
            }
            Place::None => LimitsMode::BUDGET,
        }
    }
}

/// This worker's cgroups.
#[derive(Debug)]
pub enum Cgroups {
    V1(v1::Base),
    V2 { base: v2::Base, root: bool },
}

impl Cgroups {
    /// This worker's directories at `place`; `None` (logged) when they cannot be made.
    pub fn setup(place: &Place) -> Option<Cgroups> {
        // Several runners in one process (tests) get directories of their own.
        static INSTANCES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let made = match place {
            Place::V1 => v1::Base::setup(instance).map(Cgroups::V1),
            Place::V2 { parent, root } => v2::Base::setup(parent, *root, instance)
                .map(|base| Cgroups::V2 { base, root: *root }),
            Place::None => return None,
        };
        match made {
            Ok(c) => Some(c),
            Err(e) => {
                log::warn!("cgroups unusable, limits per run by kennel-run only: {e}");
                None
            }
        }
    }

    pub fn mode(&self) -> LimitsMode {
        match self {
            Cgroups::V1(_) => v1::mode(),
            Cgroups::V2 { base, root } => v2::mode(*root, base.controllers()),
        }
    }

    /// The run directories that exist now (between runs: none).
    pub fn runs(&self) -> Vec<PathBuf> {
        let bases: Vec<&Path> = match self {
            Cgroups::V1(b) => b.bases().iter().map(PathBuf::as_path).collect(),
            Cgroups::V2 { base, .. } => vec![base.dir()],
        };
        bases
            .into_iter()
            .flat_map(|b| fs::read_dir(b).into_iter().flatten().flatten())
            .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
            .map(|e| e.path())
            .collect()
    }

    /// The cgroup(s) of run `n`, with its limits written.
    pub fn create_run(&self, n: u64, l: &RunLimits) -> io::Result<RunCgroup> {
        Ok(match self {
            Cgroups::V1(b) => RunCgroup {
                dirs: b.create_run(n, l)?,
                v2: false,
                cpu: true,
                procs: Vec::new(),
                oom_before: 0,
            },
            Cgroups::V2 { base, .. } => RunCgroup {
                dirs: vec![base.create_run(n, l)?],
                v2: true,
                cpu: base.controllers() & kennel_common::limits_mode::CPU != 0,
                procs: Vec::new(),
                oom_before: 0,
            },
        })
    }
}

/// The cgroups of one run: v1's memory, pids and cpu directories, or v2's one. On v1 one is
/// kept for run after run of the same sandbox (`reusable`): between two runs it is proven
/// empty (its next run's init is alone in it) and its one counter Kennel reads, the OOM kills,
/// is taken as the new zero — making and removing three directories was a tenth of a run.
#[derive(Debug)]
pub struct RunCgroup {
    dirs: Vec<PathBuf>,
    v2: bool,
    /// Whether a CPU quota can be set (v2: the controller is enabled for the runs).
    cpu: bool,
    /// Each directory's `cgroup.procs`, opened at the first placement and kept.
    procs: Vec<fs::File>,
    /// The kernel's OOM-kill count when the current run's init was placed (it never resets).
    oom_before: u64,
}

impl RunCgroup {
    /// Sets the limits of `want` where they differ from `held` (a sandbox made in advance
    /// got the default limits; a run asking for others changes them before it starts).
    pub fn set_limits(&self, held: &RunLimits, want: &RunLimits) -> io::Result<()> {
        if held == want {
            return Ok(());
        }
        if self.v2 {
            v2::write_limits(&self.dirs[0], self.cpu, Some(held), want)
        } else {
            v1::write_limits(&self.dirs, Some(held), want)
        }
    }

    /// The directories (the first is the memory controller's).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Each directory's `cgroup.procs`, open for writing: the sandbox's first process joins
    /// them before it executes anything (`common::sys::prepare_child`).
    pub fn procs_files(&self) -> io::Result<Vec<OwnedFd>> {
        self.dirs
            .iter()
            .map(|d| {
                fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("cgroup.procs"))
                    .map(OwnedFd::from)
            })
            .collect()
    }

    /// Processes of the run the kernel's OOM killer killed (memory limit reached).
    pub fn oom_kills(&self) -> u64 {
        self.oom_total().saturating_sub(self.oom_before)
    }

    /// The kernel's count since the directory was made.
    fn oom_total(&self) -> u64 {
        if self.v2 {
            v2::oom_kills(&self.dirs[0])
        } else {
            v1::oom_kills(&self.dirs[0])
        }
    }

    /// Whether it may serve another run of its sandbox: on v1, where nothing Kennel reads
    /// from it carries over (the OOM kills are counted from a new zero; the peak comes from
    /// `kennel-run`). Not on v2, whose `memory.peak` cannot be reset before Linux 6.12.
    pub fn reusable(&self) -> bool {
        !self.v2
    }

    /// Moves `pid` (a run's init, nothing started yet) into every directory; a directory
    /// used before (its `cgroup.procs` already open) must then hold that process alone —
    /// proof that nothing of an earlier run is left in it. Its OOM-kill count becomes the
    /// run's zero.
    pub fn place(&mut self, pid: u32) -> io::Result<()> {
        use std::io::Write;
        let reused = !self.procs.is_empty();
        if !reused {
            self.procs = self
                .procs_files()?
                .into_iter()
                .map(fs::File::from)
                .collect();
        }
        if reused {
            self.oom_before = self.oom_total();
        }
        for procs in &mut self.procs {
            procs.write_all(pid.to_string().as_bytes())?;
        }
        if reused {
            let pids = self
                .dirs
                .get(1)
                .unwrap_or(&self.dirs[0])
                .join("pids.current");
            let n = fs::read_to_string(&pids)?;
            if n.trim() != "1" {
                return Err(io::Error::other(format!(
                    "a cgroup kept for another run holds {} processes, not its init alone",
                    n.trim()
                )));
            }
        }
        Ok(())
    }

    /// The run's peak memory in KiB, where the kernel keeps it (v2's `memory.peak`).
    pub fn peak_kib(&self) -> Option<u64> {
        self.v2.then(|| v2::peak_kib(&self.dirs[0])).flatten()
    }

    /// Removes the run's directories once their processes are gone (v2 kills what is left
    /// first; the namespace's death is asynchronous, so the last ones may take a moment).
    pub fn remove(mut self) {
        self.procs.clear();
        for d in self.dirs.iter().rev() {
            if self.v2 {
                v2::kill_all(d);
            }
            if let Err(e) = remove_dir_when_empty(d) {
                log::warn!("cgroup {} not removed: {e}", d.display());
            }
        }
    }
}

/// This worker's directory name (`instance` tells several runners of one process apart).
fn base_name(instance: u32) -> String {
    format!("{PREFIX}{}-{instance}", std::process::id())
}

/// Removes a cgroup directory, waiting (at most two seconds) for its last processes to be
/// reaped: v1 offers no event for "empty" short of a release agent, so this polls briefly.
fn remove_dir_when_empty(d: &Path) -> io::Result<()> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::remove_dir(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32)
                    && Instant::now() < until =>
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes the directories of workers that are gone (their pid is dead), killing what is
/// left in them where the kernel can (v2).
fn remove_stale_bases(parent: &Path) {
    for e in fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix(PREFIX).and_then(|p| p.split('-').next());
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if kennel_common::procfs::alive(pid) {
            continue;
        }
        for r in fs::read_dir(e.path()).into_iter().flatten().flatten() {
            v2::kill_all(&r.path());
            let _ = remove_dir_when_empty(&r.path());
        }
        let _ = remove_dir_when_empty(&e.path());
    }
}

/// The number after `key ` on its own line of a cgroup file (`oom_kill 2`).
fn field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_names() {
        assert_eq!(
            field("oom 1\noom_kill 3\noom_group_kill 0\n", "oom_kill"),
            3
        );
        assert_eq!(field("garbage", "oom_kill"), 0);
        assert!(base_name(2).starts_with("kennel-w") && base_name(2).ends_with("-2"));
    }
}
