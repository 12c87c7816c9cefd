//! One cgroup per run, where the kernel lets us make them (cgroup v1 controllers as root, as
//! on these machines): memory (with an exact OOM-kill count, the `memory_limit` verdict), pids
//! (a fork bomb stops at the limit, whatever the uid) and a CPU quota (`--cpu-max`).
//! Without cgroups the rlimits of `kennel-run` remain (docs/SECURITY.md says what then holds).
//!
//! Layout: `/sys/fs/cgroup/<controller>/kennel-w<worker pid>-<k>/run-<n>`. A worker removes its
//! own directory at exit; one killed before that leaves an empty directory, which the next
//! worker to start removes (its pid is dead).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use kennel_common::limits_mode::{Kind, LimitsMode, CPU, MEMORY, PIDS};

const ROOT: &str = "/sys/fs/cgroup";
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];
const PREFIX: &str = "kennel-w";

/// This worker's cgroup directories, one per controller.
#[derive(Debug)]
pub struct Cgroups {
    bases: Vec<PathBuf>,
}

/// What the cgroups would give a run here, found without creating anything (cheap enough for
/// a worker's start; the directories are made at the first run).
pub fn detect() -> LimitsMode {
    let usable = nix::unistd::geteuid().is_root()
        && CONTROLLERS
            .iter()
            .all(|c| Path::new(ROOT).join(c).join("cgroup.procs").exists());
    if usable {
        LimitsMode {
            kind: Kind::CgroupV1,
            controllers: MEMORY | PIDS | CPU,
        }
    } else {
        LimitsMode::BUDGET
    }
}

impl Cgroups {
    /// This worker's directories, if cgroup v1 controllers are mounted and writable by us.
    pub fn setup() -> Option<Cgroups> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        // Several runners in one process (tests) get directories of their own.
        static INSTANCES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut bases = Vec::new();
        for c in CONTROLLERS {
            let root = Path::new(ROOT).join(c);
            if !root.join("cgroup.procs").exists() {
                return None;
            }
            remove_stale(&root);
            let base = root.join(format!("{PREFIX}{}-{instance}", std::process::id()));
            if fs::create_dir(&base).is_err() && !base.is_dir() {
                return None;
            }
            bases.push(base);
        }
        Some(Cgroups { bases })
    }

    /// The run directories that exist now, in every controller (none between runs).
    pub fn runs(&self) -> Vec<PathBuf> {
        self.bases
            .iter()
            .flat_map(|b| fs::read_dir(b).into_iter().flatten().flatten())
            .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
            .map(|e| e.path())
            .collect()
    }

    /// Cgroups for run `n`: memory (limit `memory_bytes`), pids (`processes`) and cpu (a quota
    /// of `cpu_percent` of one CPU for the whole run: the default, 100, is one CPU, so a
    /// many-threaded program does not take two).
    pub fn create_run(
        &self,
        n: u64,
        memory_bytes: u64,
        processes: u64,
        cpu_percent: u32,
    ) -> io::Result<RunCgroup> {
        let wanted: &[usize] = &[0, 1, 2];
        let mut run = RunCgroup { dirs: Vec::new() };
        let made = (|| -> io::Result<()> {
            for &i in wanted {
                let d = self.bases[i].join(format!("run-{n}"));
                fs::create_dir(&d)?;
                run.dirs.push(d);
            }
            let [memory, pids] = [0, 1].map(|i| &run.dirs[i]);
            fs::write(
                memory.join("memory.limit_in_bytes"),
                memory_bytes.to_string(),
            )?;
            // Swap counts too, where swap accounting is on (ENOENT otherwise: nothing to bound).
            let _ = fs::write(
                memory.join("memory.memsw.limit_in_bytes"),
                memory_bytes.to_string(),
            );
            fs::write(pids.join("pids.max"), processes.to_string())?;
            if let Some(cpu) = run.dirs.get(2) {
                fs::write(cpu.join("cpu.cfs_period_us"), "100000")?;
                fs::write(
                    cpu.join("cpu.cfs_quota_us"),
                    (i64::from(cpu_percent) * 1000).to_string(),
                )?;
            }
            Ok(())
        })();
        match made {
            Ok(()) => Ok(run),
            Err(e) => {
                run.remove();
                Err(e)
            }
        }
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for b in &self.bases {
            if let Ok(dir) = fs::read_dir(b) {
                for e in dir.flatten() {
                    let _ = fs::remove_dir(e.path());
                }
            }
            let _ = fs::remove_dir(b);
        }
    }
}

/// Removes the empty directories of workers that are gone.
fn remove_stale(root: &Path) {
    let Ok(dir) = fs::read_dir(root) else { return };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix(PREFIX).and_then(|p| p.split('-').next());
        let Some(pid) = pid.and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(runs) = fs::read_dir(e.path()) {
            for r in runs.flatten() {
                let _ = fs::remove_dir(r.path());
            }
        }
        let _ = fs::remove_dir(e.path());
    }
}

/// The cgroups of one run.
#[derive(Debug)]
pub struct RunCgroup {
    dirs: Vec<PathBuf>,
}

impl RunCgroup {
    /// Each controller's `cgroup.procs`, open for writing: the sandbox's first process joins
    /// them all before it executes (`common::sys::prepare_child`).
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
        let text = fs::read_to_string(self.dirs[0].join("memory.oom_control")).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Removes the run's directories once their processes are gone (the namespace's death
    /// is asynchronous: the last ones may take a moment to be reaped). Bounded: gives up after
    /// two seconds and says so; the worker's exit removes what is left.
    pub fn remove(self) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
        for d in self.dirs.iter().rev() {
            loop {
                match fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc_ebusy())
                            && std::time::Instant::now() < until =>
                    {
                        // v1 offers no event for "empty" short of a release agent: poll briefly.
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Err(e) => {
                        log::warn!("cgroup {} not removed: {e}", d.display());
                        break;
                    }
                }
            }
        }
    }
}

fn libc_ebusy() -> i32 {
    nix::errno::Errno::EBUSY as i32
}
