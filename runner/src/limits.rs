//! The limits of one run: the submission's requests, checked against the server's defaults
//! and maxima (`RunnerOptions`, the runner's flags, defined in `kennel-options`).

use std::time::Duration;

use kennel_options::runner::RunnerOptions;

use crate::submission::Submission;

/// The limits of one run: the submission's requests, or the server's defaults (`opts`); a
/// request over a maximum or under a floor (below which no program starts: 10 ms, 16 MiB) is
/// refused with the reason (never silently changed).
pub fn limits_for(opts: &RunnerOptions, s: &Submission) -> Result<Limits, String> {
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
            ms(opts.time_limit),
            ms(opts.time_limit_max),
            "time limit",
            "ms",
        )?,
        wall_ms: pick(
            s.wall_limit_ms,
            ms(opts.wall_limit),
            ms(opts.wall_limit_max),
            "wall limit",
            "ms",
        )?,
        memory_kib: pick(
            s.memory_limit_kib,
            opts.memory_limit / 1024,
            opts.memory_limit_max / 1024,
            "memory limit",
            "KiB",
        )?,
        processes: opts.max_processes,
        open_files: opts.max_open_files,
        file_size: opts.max_file_size,
        output: opts.max_output,
        cpu_percent: opts.cpu_max,
        compile_ms: ms(opts.compile_time_limit),
        compile_memory_kib: opts.compile_memory_limit / 1024,
    })
}

/// The limits of one test: its own requests, else the submission's, else the server's.
pub fn limits_for_test(
    opts: &RunnerOptions,
    s: &Submission,
    t: &crate::submission::TestCase,
) -> Result<Limits, String> {
    let merged = Submission {
        time_limit_ms: t.time_limit_ms.or(s.time_limit_ms),
        wall_limit_ms: t.wall_limit_ms.or(s.wall_limit_ms),
        memory_limit_kib: t.memory_limit_kib.or(s.memory_limit_kib),
        ..Submission::default()
    };
    limits_for(opts, &merged).map_err(|e| format!("test {}: {e}", t.name))
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
    /// Memory of the compile step.
    pub compile_memory_kib: u64,
}

impl Limits {
    /// The limits of a compile: generous but bounded (a compile that never ends is stopped).
    pub fn for_compile(&self) -> Limits {
        Limits {
            cpu_ms: self.compile_ms,
            wall_ms: 2 * self.compile_ms,
            memory_kib: self.compile_memory_kib,
            processes: self.processes.max(128),
            open_files: 256,
            file_size: 64 << 20,
            output: 64 << 10,
            cpu_percent: 100,
            compile_ms: self.compile_ms,
            compile_memory_kib: self.compile_memory_kib,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_over_a_maximum_are_refused_not_lowered() {
        let o = RunnerOptions::default();
        o.validate().unwrap();
        let l = limits_for(&o, &Submission::default()).unwrap();
        assert_eq!((l.cpu_ms, l.wall_ms, l.memory_kib), (1000, 5000, 256 << 10));
        let s = Submission {
            time_limit_ms: Some(60_000),
            ..Default::default()
        };
        let e = limits_for(&o, &s).unwrap_err();
        assert!(e.contains("over the server's maximum of 10000 ms"), "{e}");
        let s = Submission {
            memory_limit_kib: Some(0),
            ..Default::default()
        };
        assert!(limits_for(&o, &s).is_err());
        // `--memory-limit 64` is 64 bytes: refused naming the floor, not an internal error.
        let s = Submission {
            memory_limit_kib: Some(1),
            ..Default::default()
        };
        let e = limits_for(&o, &s).unwrap_err();
        assert!(e.contains("under the floor of 16384 KiB (16 MiB"), "{e}");
        let s = Submission {
            time_limit_ms: Some(5),
            ..Default::default()
        };
        assert!(limits_for(&o, &s).unwrap_err().contains("floor of 10 ms"));
    }
}
