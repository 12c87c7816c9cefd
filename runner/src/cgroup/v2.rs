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

pub const MOUNT: &str = "/sys/fs/cgroup";
/// Where runs go as root, unless `--cgroup` says otherwise.
pub const ROOT_PARENT: &str = "/sys/fs/cgroup/kennel";

/// Whether `/sys/fs/cgroup` is a cgroup-v2 mount (the unified hierarchy, not a hybrid one).
pub fn present() -> bool {
    Path::new(MOUNT).join("cgroup.controllers").exists()
}

/// The controllers a directory's children can have (its `cgroup.controllers` for itself;
/// `cgroup.subtree_control` for its children).
pub fn controllers(file: &Path) -> u32 {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.split_whitespace()
        .map(|c| match c {
            "memory" => MEMORY,
            "pids" => PIDS,
            "cpu" => CPU,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// Writes `+memory +pids +cpu` (those of `want` that the directory offers) into its
/// `cgroup.subtree_control`, one at a time so one refused controller does not refuse all.
pub fn enable(dir: &Path, want: u32) -> u32 {
    let offered = controllers(&dir.join("cgroup.controllers"));
    let mut on = 0;
    for (bit, name) in [(MEMORY, "memory"), (PIDS, "pids"), (CPU, "cpu")] {
        if want & offered & bit != 0
            && fs::write(dir.join("cgroup.subtree_control"), format!("+{name}")).is_ok()
        {
            on |= bit;
        }
    }
    on | (controllers(&dir.join("cgroup.subtree_control")) & want)
}

/// The mode runs under `parent` get: the controllers its children have.
pub fn mode(parent: &Path, root: bool) -> LimitsMode {
    LimitsMode {
        kind: if root {
            Kind::CgroupV2Root
        } else {
            Kind::CgroupV2Delegated
        },
        controllers: controllers(&parent.join("cgroup.subtree_control")),
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
            if let Err(e) = fs::create_dir(parent) {
                if !parent.is_dir() {
                    return Err(e);
                }
            }
        }
        if root {
            enable(parent, MEMORY | PIDS | CPU);
        }
        remove_stale_bases(parent);
        let base = parent.join(base_name(instance));
        if let Err(e) = fs::create_dir(&base) {
            if !base.is_dir() {
                return Err(e);
            }
        }
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
        let written = (|| -> io::Result<()> {
            fs::write(d.join("memory.max"), l.memory_bytes.to_string())?;
            // No swap for a run (absent where swap accounting is off: nothing to bound).
            let _ = fs::write(d.join("memory.swap.max"), "0");
            fs::write(d.join("pids.max"), l.processes.to_string())?;
            if self.controllers & CPU != 0 {
                fs::write(
                    d.join("cpu.max"),
                    format!("{} 100000", l.cpu_percent * 1000),
                )?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = fs::remove_dir(&d);
            return Err(e);
        }
        Ok(d)
    }
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
