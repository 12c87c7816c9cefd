//! cgroup v2: one directory per run under a parent Kennel may use — as root
//! `/sys/fs/cgroup/kennel` (made, controllers enabled), as an ordinary user the subtree
//! delegated to it, which the watchdog prepares (`watchdog/src/delegate.rs`) and names with
//! `--cgroup`. `<parent>/kennel-w<worker pid>-<k>/run-<n>`, with `memory.max` (+
//! `memory.swap.max 0`), `pids.max` and `cpu.max`; `memory.events` counts the OOM kills,
//! `memory.peak` the figure; `cgroup.kill` ends whatever is left before the directory goes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use kennel_common::limits_mode::{Kind, LimitsMode, CPU, MEMORY, PIDS};

use super::{base_name, remove_dir_when_empty, remove_stale_bases, RunLimits};

use kennel_common::cgroup2::make_dir;
pub use kennel_common::cgroup2::{controllers, enable, present, MOUNT};

/// Where runs go as root, unless `--cgroup` says otherwise.
pub const ROOT_PARENT: &str = "/sys/fs/cgroup/kennel";

/// The mode of runs whose cgroups have `controllers`, made as root or in a delegated subtree.
pub fn mode(root: bool, controllers: u32) -> LimitsMode {
    LimitsMode {
        kind: if root {
            Kind::CgroupV2Root
        } else {
            Kind::CgroupV2Delegated
        },
        controllers,
    }
}

/// This worker's directory.
#[derive(Debug)]
pub struct Base {
    base: PathBuf,
    controllers: u32,
}

impl Base {
    /// Makes this worker's directory under `parent` (and, as root, `parent` itself), with the
    /// controllers its runs need. Memory and pids are required; cpu is used where offered.
    pub fn setup(parent: &Path, root: bool, instance: u32) -> io::Result<Base> {
        if root && !parent.is_dir() {
            enable(Path::new(MOUNT), MEMORY | PIDS | CPU);
            make_dir(parent)?;
        }
        if root {
            enable(parent, MEMORY | PIDS | CPU);
        }
        remove_stale_bases(parent);
        let base = parent.join(base_name(instance));
        make_dir(&base)?;
        let controllers = enable(&base, MEMORY | PIDS | CPU);
        if controllers & (MEMORY | PIDS) != MEMORY | PIDS {
            let _ = fs::remove_dir(&base);
            return Err(io::Error::other(format!(
                "{} offers no memory and pids controllers to its children",
                parent.display()
            )));
        }
        Ok(Base { base, controllers })
    }

    pub fn dir(&self) -> &Path {
        &self.base
    }

    pub fn controllers(&self) -> u32 {
        self.controllers
    }

    /// The run's directory, limits written.
    pub fn create_run(&self, n: u64, l: &RunLimits) -> io::Result<PathBuf> {
        let d = self.base.join(format!("run-{n}"));
        fs::create_dir(&d)?;
        if let Err(e) = write_limits(&d, self.controllers & CPU != 0, None, l) {
            let _ = fs::remove_dir(&d);
            return Err(e);
        }
        Ok(d)
    }
}

/// Writes the limits of `want` that differ from `held` (all of them when `held` is `None`).
pub fn write_limits(
    d: &Path,
    cpu: bool,
    held: Option<&RunLimits>,
    want: &RunLimits,
) -> io::Result<()> {
    let changed = |f: fn(&RunLimits) -> u64| held.is_none_or(|h| f(h) != f(want));
    if changed(|l| l.memory_bytes) {
        fs::write(d.join("memory.max"), want.memory_bytes.to_string())?;
    }
    if held.is_none() {
        // No swap for a run (absent where swap accounting is off: nothing to bound).
        let _ = fs::write(d.join("memory.swap.max"), "0");
    }
    if changed(|l| l.processes) {
        fs::write(d.join("pids.max"), want.processes.to_string())?;
    }
    if cpu && changed(|l| u64::from(l.cpu_percent)) {
        fs::write(
            d.join("cpu.max"),
            format!("{} 100000", want.cpu_percent * 1000),
        )?;
    }
    Ok(())
}

impl Drop for Base {
    fn drop(&mut self) {
        for e in fs::read_dir(&self.base).into_iter().flatten().flatten() {
            kill_all(&e.path());
            let _ = remove_dir_when_empty(&e.path());
        }
        let _ = remove_dir_when_empty(&self.base);
    }
}

/// Kills every process in the cgroup at once (`cgroup.kill`, Linux 5.14+).
pub fn kill_all(dir: &Path) {
    let _ = fs::write(dir.join("cgroup.kill"), "1");
}

pub fn oom_kills(dir: &Path) -> u64 {
    let text = fs::read_to_string(dir.join("memory.events")).unwrap_or_default();
    super::field(&text, "oom_kill")
}

/// The run's peak memory in KiB (`memory.peak`, Linux 5.19+), if known.
pub fn peak_kib(dir: &Path) -> Option<u64> {
    fs::read_to_string(dir.join("memory.peak"))
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|b| b / 1024)
}
