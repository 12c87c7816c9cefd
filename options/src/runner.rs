//! The program runner's flags (`RunnerOptions`): the defaults and maxima of a run's limits,
//! flattened into the worker's, the gateway's and the watchdog's command lines.

use std::time::Duration;

use kennel_common::duration::parse_duration;

use crate::flag::Group;
use crate::option_group;

/// Parses a size: `65536`, `64K`, `256M`, `1G` (powers of 1024, an optional `iB`/`B`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, scale) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 1 << 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("'{s}' is not a size (try 65536, 64K, 256M, 1G)"))
}

option_group! {
    /// The program runner's tunables.
    #[derive(clap::Args)]
    pub struct RunnerOptions {
        /// CPU time a run gets unless it asks for less or more.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        [Child] pub time_limit: Duration,
        /// Most CPU time a submission may ask for.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        [Child] pub time_limit_max: Duration,
        /// Wall-clock time a run gets (default), from the program's start.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        [Child] pub wall_limit: Duration,
        /// Most wall-clock time a submission may ask for.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        [Child] pub wall_limit_max: Duration,
        /// Memory a run gets (default), e.g. 256M.
        #[arg(long, default_value = "256M", value_parser = parse_size)]
        [Child] pub memory_limit: u64,
        /// Most memory a submission may ask for.
        #[arg(long, default_value = "1G", value_parser = parse_size)]
        [Child] pub memory_limit_max: u64,
        /// Processes and threads one run may have at once.
        #[arg(long, default_value_t = 64)]
        [Child] pub max_processes: u64,
        /// Open files one process of a run may have.
        #[arg(long, default_value_t = 64)]
        [Child] pub max_open_files: u64,
        /// Largest file a run may write (its directory is a private tmpfs of twice this size).
        #[arg(long, default_value = "16M", value_parser = parse_size)]
        [Child] pub max_file_size: u64,
        /// Bytes of stdout (and, separately, of stderr) kept; past it the run is killed.
        #[arg(long, default_value = "1M", value_parser = parse_size)]
        [Child] pub max_output: u64,
        /// Share of one CPU a run may use, in percent (a cgroup CPU quota, where cgroups are usable).
        #[arg(long, default_value_t = 100)]
        [Child] pub cpu_max: u32,
        /// Sandboxes each worker keeps made in advance for runs with the default limits (and
        /// one for compiles), kept for run after run (each run in fresh PID, mount and IPC
        /// namespaces), so a run skips making its sandbox; 0: each run makes its own on the
        /// request path. Each costs three idle processes (~6 MiB) and two cgroups.
        #[arg(long, default_value_t = 2)]
        [Child] pub sandbox_pool: u32,
        /// Toolchain files made once per machine and shared read-only with every compile:
        /// C++ `-std` values whose standard headers (`bits/stdc++.h`, `iostream`) are
        /// precompiled (each ~125 MB on disk, ~4 s of CPU, once), `java` for javac's class
        /// archive (10 MB); comma-separated, or `none`.
        #[arg(long, default_value = "gnu++17,java")]
        [Child] pub warm_toolchains: String,
        /// Where warm toolchain files (precompiled headers, javac's class archive) are kept,
        /// shared by the user's instances (default: as root /var/cache/kennel, which the
        /// sandbox user must be able to walk; otherwise $XDG_CACHE_HOME/kennel or
        /// ~/.cache/kennel, else /tmp/kennel-warm-UID or the instance's runtime directory).
        #[arg(long, value_name = "PATH")]
        [Keep] pub warm_dir: Option<std::path::PathBuf>,
        /// When Kennel runs as root: the unprivileged uid (and gid) sandboxes run as.
        #[arg(long, default_value_t = 65534)]
        [Child] pub sandbox_user: u32,
        /// CPU time a compile may take (its wall limit is twice that); past it: `compile_error`.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        [Child] pub compile_time_limit: Duration,
        /// Memory a compile may use, its compiler's whole tree (a template or a constant
        /// array can make a compiler take gigabytes); past it: `compile_error`.
        #[arg(long, default_value = "1G", value_parser = parse_size)]
        [Child] pub compile_memory_limit: u64,
        /// Size of the compile cache (shared by the instance's workers), e.g. 64M.
        #[arg(long, default_value = "64M", value_parser = parse_size)]
        [Child] pub compile_cache: u64,
        /// Most test cases one submission may carry (each one run in a fresh sandbox).
        #[arg(long, default_value_t = 64)]
        [Child] pub max_tests: u32,
        /// Bytes of each test's stdout and stderr a graded result carries (the whole output,
        /// up to --max-output, is still what the checker compares).
        #[arg(long, default_value = "64K", value_parser = parse_size)]
        [Child] pub test_output_max: u64,
        /// cgroup-v2 directory under which each run gets a cgroup of its own (default: as root
        /// /sys/fs/cgroup/kennel; as an ordinary user, the delegated subtree the watchdog finds
        /// and prepares; docs/RUNNER.md).
        #[arg(long, value_name = "PATH")]
        [Keep] pub cgroup: Option<std::path::PathBuf>,
    }
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self::defaults()
    }
}

impl RunnerOptions {
    /// The entries of `--warm-toolchains` (none for `none`).
    fn warm_entries(&self) -> Vec<String> {
        self.warm_toolchains
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(String::from)
            .collect()
    }

    /// The C++ `-std` values of `--warm-toolchains`.
    pub fn pch_stds(&self) -> Vec<String> {
        self.warm_entries()
            .into_iter()
            .filter(|s| s != "java")
            .collect()
    }

    /// Whether `--warm-toolchains` asks for javac's class archive.
    pub fn warm_java(&self) -> bool {
        self.warm_entries().iter().any(|s| s == "java")
    }

    pub fn validate(&self) -> Result<(), String> {
        for std in self.pch_stds() {
            let ok = ["c++", "gnu++"].iter().any(|p| {
                std.strip_prefix(p)
                    .is_some_and(|v| v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
            });
            if !ok {
                return Err(format!(
                    "--warm-toolchains: '{std}' is not a C++ -std value (e.g. gnu++17, c++20), java, nor none"
                ));
            }
        }
        let ms = Duration::from_millis;
        if self.time_limit < ms(10)
            || self.time_limit > self.time_limit_max
            || self.time_limit_max > ms(600_000)
        {
            return Err(
                "--time-limit must be between 10ms and --time-limit-max (at most 10m)".into(),
            );
        }
        if self.wall_limit < ms(10)
            || self.wall_limit > self.wall_limit_max
            || self.wall_limit_max > ms(3_600_000)
        {
            return Err(
                "--wall-limit must be between 10ms and --wall-limit-max (at most 1h)".into(),
            );
        }
        if self.memory_limit < 16 << 20
            || self.memory_limit > self.memory_limit_max
            || self.memory_limit_max > 64 << 30
        {
            return Err(
                "--memory-limit must be between 16M and --memory-limit-max (at most 64G)".into(),
            );
        }
        if !(4..=4096).contains(&self.max_processes) {
            return Err("--max-processes must be between 4 and 4096".into());
        }
        if !(8..=65536).contains(&self.max_open_files) {
            return Err("--max-open-files must be between 8 and 65536".into());
        }
        if self.max_file_size < 4096 || self.max_file_size > 4 << 30 {
            return Err("--max-file-size must be between 4K and 4G".into());
        }
        if self.max_output < 1024 || self.max_output > 256 << 20 {
            return Err("--max-output must be between 1K and 256M".into());
        }
        if !(1..=1024).contains(&self.max_tests) {
            return Err("--max-tests must be between 1 and 1024".into());
        }
        if self.test_output_max < 1024 || self.test_output_max > self.max_output {
            return Err("--test-output-max must be between 1K and --max-output".into());
        }
        if !(1..=100).contains(&self.cpu_max) {
            return Err("--cpu-max must be between 1 and 100 (percent of one CPU)".into());
        }
        if self.compile_time_limit < ms(100) || self.compile_time_limit > ms(600_000) {
            return Err("--compile-time-limit must be between 100ms and 10m".into());
        }
        if self.compile_memory_limit < 64 << 20 || self.compile_memory_limit > 16 << 30 {
            return Err("--compile-memory-limit must be between 64M and 16G".into());
        }
        if self.compile_cache > 16 << 30 {
            return Err("--compile-cache must be at most 16G".into());
        }
        if let Some(p) = &self.cgroup {
            if !p.is_absolute() || !p.starts_with("/sys/fs/cgroup") {
                return Err(format!(
                    "--cgroup {} is not a directory under /sys/fs/cgroup",
                    p.display()
                ));
            }
        }
        Ok(())
    }
}
