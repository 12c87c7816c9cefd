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
            let (memory, pids, cpu) = (&dirs[0], &dirs[1], &dirs[2]);
            let bytes = l.memory_bytes.to_string();
            fs::write(memory.join("memory.limit_in_bytes"), &bytes)?;
            // Swap counts too, where swap accounting is on (ENOENT otherwise: nothing to bound).
            let _ = fs::write(memory.join("memory.memsw.limit_in_bytes"), &bytes);
            fs::write(pids.join("pids.max"), l.processes.to_string())?;
            fs::write(cpu.join("cpu.cfs_period_us"), "100000")?;
            fs::write(
                cpu.join("cpu.cfs_quota_us"),
                (i64::from(l.cpu_percent) * 1000).to_string(),
            )
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
