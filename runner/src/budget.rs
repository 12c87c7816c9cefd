//! One budget per run, whatever the process tree does: `kennel-run`, PID 1 of the run's PID
//! namespace, samples every process of the namespace and kills them all when the run as a
//! whole passes its CPU time or its memory.
//!
//! Why: rlimits are per process. Five children of 200 MiB each pass a 256 MiB `RLIMIT_AS`,
//! and children that each spin just under `RLIMIT_CPU` pass a one-second limit eight times
//! over. A cgroup counts the whole tree exactly, but an ordinary user on a cgroup-v1 host has
//! none; the namespace does, and its init sees all of it.
//!
//! What is counted, every `PERIOD`:
//! - CPU: the user + system time of every live process (`/proc/PID/stat`, threads included),
//!   the time of the children they reaped (`cutime`, `cstime`), and the time of everything
//!   `kennel-run` reaped itself (`RUSAGE_CHILDREN`). Exact up to one clock tick and one period.
//! - Memory: each process's anonymous and shared-memory pages, proportionally shared between
//!   the processes that map them (`Pss_Anon + Pss_Shmem` of `smaps_rollup`; `RssAnon +
//!   RssShmem` of `status` if that cannot be read), the pages held in the run's tmpfs mounts
//!   (`/work`, `/tmp`, `/dev/shm`: `statvfs`), and memfds the processes hold (their blocks).
//!   A tmpfs file that is also mapped counts twice: the figure errs high, never low. Exact up
//!   to one period of allocation (a program touching memory as fast as the kernel lets it
//!   overshoots by tens of MiB before the kill); docs/SECURITY.md says so.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// How often the run is sampled.
pub const PERIOD: Duration = Duration::from_millis(10);

/// The tmpfs mounts of a sandbox whose pages are the run's memory.
pub const TMPFS: [&str; 3] = ["/work", "/tmp", "/dev/shm"];

/// What the run may use in all; `None`: not watched (a cgroup does it exactly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub cpu_ms: Option<u64>,
    pub memory_kib: Option<u64>,
}

/// Which budget a run went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Cpu,
    Memory,
}

impl Over {
    pub fn name(self) -> &'static str {
        match self {
            Over::Cpu => "cpu",
            Over::Memory => "memory",
        }
    }

    pub fn parse(s: &str) -> Option<Option<Over>> {
        match s {
            "none" => Some(None),
            "cpu" => Some(Some(Over::Cpu)),
            "memory" => Some(Some(Over::Memory)),
            _ => None,
        }
    }
}

/// One sample of the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time of the live processes and of those they reaped, in microseconds (what
    /// `kennel-run` reaped itself is added by the caller).
    pub live_cpu_us: u64,
    pub memory_kib: u64,
}

/// Samples every process of this PID namespace but its init (us), under `proc_root`: their
/// CPU time, and their memory when `memory` (it costs a page-table walk per process, so it is
/// skipped when a memory cgroup keeps that budget).
pub fn sample(proc_root: &Path, tmpfs: &[&str], memory: bool) -> Usage {
    let tick_us = 1_000_000 / clock_ticks();
    let mut u = Usage::default();
    let mut memfds = HashSet::new();
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return u;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == 1 {
            continue;
        }
        let p = e.path();
        if let Some(ticks) = std::fs::read_to_string(p.join("stat"))
            .ok()
            .and_then(|s| cpu_ticks(&s))
        {
            u.live_cpu_us += ticks * tick_us;
        }
        if memory {
            u.memory_kib += process_memory_kib(&p);
            u.memory_kib += memfd_kib(&p, &mut memfds);
        }
    }
    if memory {
        u.memory_kib += tmpfs.iter().map(|m| tmpfs_used_kib(m)).sum::<u64>();
    }
    u
}

/// `utime + stime + cutime + cstime` from a `/proc/PID/stat` line (fields 14–17; the command
/// name, field 2, may hold spaces and parentheses, so fields are counted after its last `)`).
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, so field N is index N - 3.
    (14..=17)
        .map(|n| fields.get(n - 3)?.parse::<u64>().ok())
        .sum()
}

/// Anonymous + shared memory of one process: proportional where readable, resident otherwise.
fn process_memory_kib(p: &Path) -> u64 {
    if let Ok(text) = std::fs::read_to_string(p.join("smaps_rollup")) {
        let v = sum_fields(&text, &["Pss_Anon:", "Pss_Shmem:"]);
        if v > 0 || text.contains("Pss_Anon:") {
            return v;
        }
    }
    std::fs::read_to_string(p.join("status"))
        .map(|t| sum_fields(&t, &["RssAnon:", "RssShmem:"]))
        .unwrap_or(0)
}

/// The sum of the `kB` values of the lines starting with one of `keys`.
pub fn sum_fields(text: &str, keys: &[&str]) -> u64 {
    text.lines()
        .filter_map(|l| {
            let key = keys.iter().find(|k| l.starts_with(**k))?;
            l[key.len()..]
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Blocks of the memfds a process holds open, each file counted once for the whole run.
fn memfd_kib(p: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
    let Ok(fds) = std::fs::read_dir(p.join("fd")) else {
        return 0;
    };
    let mut kib = 0;
    for fd in fds.flatten() {
        let is_memfd =
            std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().starts_with("/memfd:"));
        if !is_memfd {
            continue;
        }
        if let Ok(m) = std::fs::metadata(fd.path()) {
            if seen.insert((m.dev(), m.ino())) {
                kib += m.blocks() / 2;
            }
        }
    }
    kib
}

fn tmpfs_used_kib(mount: &str) -> u64 {
    match nix::sys::statvfs::statvfs(mount) {
        Ok(s) => (s.blocks() - s.blocks_free()) * s.fragment_size() / 1024,
        Err(_) => 0,
    }
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_reads_past_a_hostile_command_name() {
        let stat = "42 (a) b) (c) R 1 42 42 0 -1 4194560 100 0 0 0 7 3 11 13 20 0 1 0 5 0 0";
        assert_eq!(cpu_ticks(stat), Some(7 + 3 + 11 + 13));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) R 1"), None);
    }

    #[test]
    fn fields_are_summed_by_key() {
        let t = "Rss: 900 kB\nPss_Anon:   120 kB\nPss_File: 50 kB\nPss_Shmem: 30 kB\n";
        assert_eq!(sum_fields(t, &["Pss_Anon:", "Pss_Shmem:"]), 150);
    }

    #[test]
    fn this_process_is_sampled_from_a_real_proc() {
        // Our own /proc, but as if we were not its init: every process of the host counts.
        let u = sample(Path::new("/proc"), &["/tmp"], true);
        assert!(u.live_cpu_us > 0 && u.memory_kib > 0, "{u:?}");
        let cpu_only = sample(Path::new("/proc"), &["/tmp"], false);
        assert_eq!(cpu_only.memory_kib, 0);
        assert_eq!(Over::parse("cpu"), Some(Some(Over::Cpu)));
        assert_eq!(Over::parse("none"), Some(None));
        assert_eq!(Over::parse("x"), None);
    }
}
