//! The runner's flags (`RunnerOptions`, flattened into the worker and the watchdog) and the
//! limits of one run: the submission's requests, checked against the server's maxima.

use std::time::Duration;

use kennel_common::duration::parse_duration;
use kennel_common::options::duration_arg;

use crate::submission::Submission;

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

fn size_arg(bytes: u64) -> String {
    bytes.to_string()
}

/// The program runner's tunables.
#[derive(Debug, Clone, clap::Args)]
pub struct RunnerOptions {
    /// CPU time a run gets unless it asks for less or more.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub time_limit: Duration,
    /// Most CPU time a submission may ask for.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub time_limit_max: Duration,
    /// Wall-clock time a run gets (default), from the program's start.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub wall_limit: Duration,
    /// Most wall-clock time a submission may ask for.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub wall_limit_max: Duration,
    /// Memory a run gets (default), e.g. 256M.
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub memory_limit: u64,
    /// Most memory a submission may ask for.
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    pub memory_limit_max: u64,
    /// Processes and threads one run may have at once.
    #[arg(long, default_value_t = 64)]
    pub max_processes: u64,
    /// Open files one process of a run may have.
    #[arg(long, default_value_t = 64)]
    pub max_open_files: u64,
    /// Largest file a run may write (its directory is a private tmpfs of twice this size).
    #[arg(long, default_value = "16M", value_parser = parse_size)]
    pub max_file_size: u64,
    /// Bytes of stdout (and, separately, of stderr) kept; past it the run is killed.
    #[arg(long, default_value = "1M", value_parser = parse_size)]
    pub max_output: u64,
    /// Share of one CPU a run may use, in percent (a cgroup CPU quota, where cgroups are usable).
    #[arg(long, default_value_t = 100)]
    pub cpu_max: u32,
    /// When Kennel runs as root: the unprivileged uid (and gid) sandboxes run as.
    #[arg(long, default_value_t = 65534)]
    pub sandbox_user: u32,
    /// CPU time a compile may take (its wall limit is twice that); past it: `compile_error`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub compile_time_limit: Duration,
    /// Size of the compile cache (shared by the instance's workers), e.g. 64M.
    #[arg(long, default_value = "64M", value_parser = parse_size)]
    pub compile_cache: u64,
    /// cgroup-v2 directory under which each run gets a cgroup of its own (default: as root
    /// /sys/fs/cgroup/kennel; as an ordinary user, the delegated subtree the watchdog finds
    /// and prepares; docs/RUNNER.md).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<std::path::PathBuf>,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        #[derive(clap::Parser)]
        struct P {
            #[command(flatten)]
            o: RunnerOptions,
        }
        let m = P::command().get_matches_from(["p"]);
        P::from_arg_matches(&m).expect("defaults parse").o
    }
}

impl RunnerOptions {
    pub fn validate(&self) -> Result<(), String> {
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
        if !(1..=100).contains(&self.cpu_max) {
            return Err("--cpu-max must be between 1 and 100 (percent of one CPU)".into());
        }
        if self.compile_time_limit < ms(100) || self.compile_time_limit > ms(600_000) {
            return Err("--compile-time-limit must be between 100ms and 10m".into());
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

    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "--time-limit".into(),
            duration_arg(self.time_limit),
            "--time-limit-max".into(),
            duration_arg(self.time_limit_max),
            "--wall-limit".into(),
            duration_arg(self.wall_limit),
            "--wall-limit-max".into(),
            duration_arg(self.wall_limit_max),
            "--memory-limit".into(),
            size_arg(self.memory_limit),
            "--memory-limit-max".into(),
            size_arg(self.memory_limit_max),
            "--max-processes".into(),
            self.max_processes.to_string(),
            "--max-open-files".into(),
            self.max_open_files.to_string(),
            "--max-file-size".into(),
            size_arg(self.max_file_size),
            "--max-output".into(),
            size_arg(self.max_output),
            "--cpu-max".into(),
            self.cpu_max.to_string(),
            "--sandbox-user".into(),
            self.sandbox_user.to_string(),
            "--compile-time-limit".into(),
            duration_arg(self.compile_time_limit),
            "--compile-cache".into(),
            size_arg(self.compile_cache),
        ];
        if let Some(p) = &self.cgroup {
            v.push("--cgroup".into());
            v.push(p.display().to_string());
        }
        v
    }

    /// The limits of one run: the submission's requests, or the defaults; a request over a
    /// maximum or under a floor (below which no program starts: 10 ms, 16 MiB) is refused with
    /// the reason (never silently changed).
    pub fn limits_for(&self, s: &Submission) -> Result<Limits, String> {
        let ms = |d: Duration| d.as_millis() as u64;
        let pick = |asked: Option<u64>, default: u64, max: u64, what: &str, unit: &str| {
            let floor = if unit == "KiB" { 16 * 1024 } else { 10 };
            match asked {
                None => Ok(default),
                Some(v) if v < floor => Err(format!(
                    "a {what} of {v} {unit} is under the floor of {floor} {unit}{}",
                    if unit == "KiB" {
                        " (16 MiB: give a unit, e.g. 64M)"
                    } else {
                        ""
                    }
                )),
                Some(v) if v > max => Err(format!(
                    "a {what} of {v} {unit} is over the server's maximum of {max} {unit}"
                )),
                Some(v) => Ok(v),
            }
        };
        Ok(Limits {
            cpu_ms: pick(
                s.time_limit_ms,
                ms(self.time_limit),
                ms(self.time_limit_max),
                "time limit",
                "ms",
            )?,
            wall_ms: pick(
                s.wall_limit_ms,
                ms(self.wall_limit),
                ms(self.wall_limit_max),
                "wall limit",
                "ms",
            )?,
            memory_kib: pick(
                s.memory_limit_kib,
                self.memory_limit / 1024,
                self.memory_limit_max / 1024,
                "memory limit",
                "KiB",
            )?,
            processes: self.max_processes,
            open_files: self.max_open_files,
            file_size: self.max_file_size,
            output: self.max_output,
            cpu_percent: self.cpu_max,
            compile_ms: ms(self.compile_time_limit),
        })
    }
}

/// The limits one run gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_kib: u64,
    pub processes: u64,
    pub open_files: u64,
    pub file_size: u64,
    pub output: u64,
    pub cpu_percent: u32,
    /// CPU time of the compile step.
    pub compile_ms: u64,
}

impl Limits {
    /// The limits of a compile: generous but bounded (a compile that never ends is stopped).
    pub fn for_compile(&self) -> Limits {
        Limits {
            cpu_ms: self.compile_ms,
            wall_ms: 2 * self.compile_ms,
            memory_kib: 1 << 20,
            processes: self.processes.max(128),
            open_files: 256,
            file_size: 64 << 20,
            output: 64 << 10,
            cpu_percent: 100,
            compile_ms: self.compile_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn requests_over_a_maximum_are_refused_not_lowered() {
        let o = RunnerOptions::default();
        o.validate().unwrap();
        let l = o.limits_for(&Submission::default()).unwrap();
        assert_eq!((l.cpu_ms, l.wall_ms, l.memory_kib), (1000, 5000, 256 << 10));
        let s = Submission {
            time_limit_ms: Some(60_000),
            ..Default::default()
        };
        let e = o.limits_for(&s).unwrap_err();
        assert!(e.contains("over the server's maximum of 10000 ms"), "{e}");
        let s = Submission {
            memory_limit_kib: Some(0),
            ..Default::default()
        };
        assert!(o.limits_for(&s).is_err());
        // `--memory-limit 64` is 64 bytes: refused naming the floor, not an internal error.
        let s = Submission {
            memory_limit_kib: Some(1),
            ..Default::default()
        };
        let e = o.limits_for(&s).unwrap_err();
        assert!(e.contains("under the floor of 16384 KiB (16 MiB"), "{e}");
        let s = Submission {
            time_limit_ms: Some(5),
            ..Default::default()
        };
        assert!(o.limits_for(&s).unwrap_err().contains("floor of 10 ms"));
    }

    #[test]
    fn to_args_round_trips() {
        use clap::Parser;
        #[derive(Parser)]
        struct P {
            #[command(flatten)]
            o: RunnerOptions,
        }
        let o = RunnerOptions {
            max_output: 4096,
            time_limit: Duration::from_millis(1500),
            memory_limit_max: 2 << 30,
            cpu_max: 40,
            cgroup: Some("/sys/fs/cgroup/user.slice/kennel-runs".into()),
            ..Default::default()
        };
        let argv: Vec<String> = std::iter::once("p".to_string())
            .chain(o.to_args())
            .collect();
        let back = P::try_parse_from(argv).unwrap().o;
        // Every field, not a chosen few: a flag added without its `to_args` line fails here.
        assert_eq!(format!("{back:?}"), format!("{o:?}"));
    }
}
