//! cgroup v1 (as root, as on these machines): one directory per controller per run,
//! `/sys/fs/cgroup/<controller>/kennel-w<worker pid>-<k>/run-<n>`: memory (with an exact
//! OOM-kill count), pids and cpu (a quota).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use kennel_common::limits_mode::{Kind, LimitsMode, CPU, MEMORY, PIDS};

use super::{base_name, remove_dir_when_empty, remove_stale_bases, RunLimits};

pub const ROOT: &str = "/sys/fs/cgroup";
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

/// Whether the three controllers are mounted where v1 puts them.
pub fn present() -> bool {
    CONTROLLERS
        .iter()
        .all(|c| Path::new(ROOT).join(c).join("cgroup.procs").exists())
}

pub fn mode() -> LimitsMode {
    LimitsMode {
        kind: Kind::CgroupV1,
        controllers: MEMORY | PIDS | CPU,
    }
}

/// This worker's directories, one per controller.
#[derive(Debug)]
pub struct Base {
    bases: Vec<PathBuf>,
}

impl Base {
    pub fn setup(instance: u32) -> io::Result<Base> {
        let mut bases = Vec::new();
        for c in CONTROLLERS {
            let root = Path::new(ROOT).join(c);
            remove_stale_bases(&root);
            let base = root.join(base_name(instance));
            kennel_common::cgroup2::make_dir(&base)?;
            bases.push(base);
        }
        Ok(Base { bases })
    }

    pub fn bases(&self) -> &[PathBuf] {
        &self.bases
    }

    /// The run's three directories, limits written: memory, pids, cpu (in that order).
    pub fn create_run(&self, n: u64, l: &RunLimits) -> io::Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        let made = (|| -> io::Result<()> {
            for b in &self.bases {
                let d = b.join(format!("run-{n}"));
                fs::create_dir(&d)?;
                dirs.push(d);
            }
            write_limits(&dirs, None, l)
        })();
        if let Err(e) = made {
            for d in dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(e);
        }
        Ok(dirs)
    }
}

/// Writes the limits of `want` that differ from `held` (all of them when `held` is `None`)
/// into the run's directories: memory, pids, cpu.
pub fn write_limits(
    dirs: &[PathBuf],
    held: Option<&RunLimits>,
    want: &RunLimits,
) -> io::Result<()> {
    let [memory, pids, cpu] = dirs else {
        return Err(io::Error::other("a v1 run has three directories"));
    };
    let changed = |f: fn(&RunLimits) -> u64| held.is_none_or(|h| f(h) != f(want));
    if changed(|l| l.memory_bytes) {
        let bytes = want.memory_bytes.to_string();
        // Swap counts too, where swap accounting is on (ENOENT otherwise: nothing to bound).
        // memsw may never be below the memory limit: raise it first when growing.
        let _ = fs::write(memory.join("memory.memsw.limit_in_bytes"), &bytes);
        fs::write(memory.join("memory.limit_in_bytes"), &bytes)?;
        let _ = fs::write(memory.join("memory.memsw.limit_in_bytes"), &bytes);
    }
    if changed(|l| l.processes) {
        fs::write(pids.join("pids.max"), want.processes.to_string())?;
    }
    if changed(|l| u64::from(l.cpu_percent)) {
        if held.is_none() {
            fs::write(cpu.join("cpu.cfs_period_us"), "100000")?;
        }
        fs::write(
            cpu.join("cpu.cfs_quota_us"),
            (i64::from(want.cpu_percent) * 1000).to_string(),
        )?;
    }
    Ok(())
}

impl Drop for Base {
    fn drop(&mut self) {
        for b in &self.bases {
            for e in fs::read_dir(b).into_iter().flatten().flatten() {
                let _ = fs::remove_dir(e.path());
            }
            let _ = remove_dir_when_empty(b);
        }
    }
}

/// Processes of the run the kernel's OOM killer killed (memory limit reached).
pub fn oom_kills(memory_dir: &Path) -> u64 {
    let text = fs::read_to_string(memory_dir.join("memory.oom_control")).unwrap_or_default();
    super::field(&text, "oom_kill")
}
