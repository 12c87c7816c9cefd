//! Reading a process from `/proc`, one parser per file for every tool and test that asks:
//! `/proc/PID/stat` (state, parent; the command name may hold spaces and parentheses, so
//! fields are read after the last `)`), `/proc/PID/status` (memory in KiB) and
//! `/proc/PID/cmdline`. Every reader answers `None` for a process that is gone.

/// The fields of `/proc/PID/stat` after the command name: `[0]` is the state letter, `[1]`
/// the parent pid, and so on (proc(5) numbers them from 3).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The state letter (`R`, `S`, `Z`, `T`, …).
pub fn state(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// True while the process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z')
}

/// Every pid in `/proc` now (this process's PID namespace).
pub fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
}

/// The parent pid.
pub fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, …), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time used so far (user + system), in clock ticks (`sysconf(_SC_CLK_TCK)` per second).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let f = stat_fields(pid)?;
    // utime and stime are fields 14 and 15 of proc(5); [0] is field 3.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of each of `roots` with everything below it: its own time and its reaped
/// children's (`cutime`, `cstime`), plus the same of every live descendant. A worker's figure
/// thus counts the sandboxes it runs, live or finished. One pass over `/proc`.
pub fn tree_cpu_ticks(roots: &[u32]) -> std::collections::HashMap<u32, u64> {
    use std::collections::HashMap;
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut ticks: HashMap<u32, u64> = HashMap::new();
    for pid in pids() {
        let Some(f) = stat_fields(pid) else { continue };
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // utime, stime, cutime, cstime: fields 14–17 of proc(5); [0] is field 3.
        ticks.insert(pid, n(11) + n(12) + n(13) + n(14));
        if let Some(pp) = f.get(1).and_then(|v| v.parse::<u32>().ok()) {
            parent.insert(pid, pp);
        }
    }
    let mut out: HashMap<u32, u64> = roots.iter().map(|r| (*r, 0)).collect();
    for (&pid, &t) in &ticks {
        // Walk up (bounded: a pid chain is never deeper than the process table).
        let mut at = pid;
        for _ in 0..ticks.len() {
            if let Some(sum) = out.get_mut(&at) {
                *sum += t;
                break;
            }
            match parent.get(&at) {
                Some(&pp) if pp != at && pp != 0 => at = pp,
                _ => break,
            }
        }
    }
    out.retain(|r, _| ticks.contains_key(r));
    out
}

/// Resident memory in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// The command line, arguments joined by spaces (lossy UTF-8).
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_s_cpu_counts_in_its_parent_s_tree() {
        let me = std::process::id();
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 5",
            ])
            .spawn()
            .unwrap();
        // Wait until the child has used a tick of CPU: its loop runs before its sleep.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while cpu_ticks(child.id()).unwrap_or(0) == 0 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let child_ticks = cpu_ticks(child.id()).unwrap_or(0);
        let tree = tree_cpu_ticks(&[me]);
        let _ = child.kill();
        let _ = child.wait();
        assert!(child_ticks > 0, "the child never ran");
        assert!(tree[&me] >= child_ticks, "{tree:?} < {child_ticks}");
        assert!(
            tree_cpu_ticks(&[u32::MAX - 1]).is_empty(),
            "no such process"
        );
    }

    #[test]
    fn our_own_process_reads_back() {
        let me = std::process::id();
        // The main thread waits for the test threads: running or sleeping, never a zombie.
        assert!(matches!(state(me), Some('R' | 'S')), "{:?}", state(me));
        assert!(alive(me));
        assert_eq!(parent_of(me), Some(nix::unistd::getppid().as_raw() as u32));
        assert!(rss_kib(me).is_some_and(|k| k > 0));
        assert!(cmdline(me).is_some_and(|c| !c.is_empty()));
        assert_eq!(status_kib(me, "NoSuchField"), None);
    }

    #[test]
    fn a_missing_process_reads_as_none() {
        // Above the kernel's pid_max (4194304 at most): never a live pid.
        let gone = 4_194_305;
        assert_eq!(state(gone), None);
        assert!(!alive(gone));
        assert_eq!(rss_kib(gone), None);
        assert_eq!(cmdline(gone), None);
    }
}
