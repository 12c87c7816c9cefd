//! The verdict, decided from facts: what `kennel-run` measured, what the worker did (a kill
//! at the wall limit or at the output cap), what the kernel's OOM killer counted. Each rule
//! names the fact it rests on; none reads the program's output to guess.

use nix::sys::signal::Signal;

use crate::budget::Over;
use crate::execute::{Kill, StepOutput};
use crate::facts::Report;
use crate::limits::Limits;
use crate::outcome::{TimeKind, Verdict};

/// What else is known about the run besides its `StepOutput`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence {
    /// Processes of the run the memory cgroup's OOM killer killed.
    pub oom_kills: u64,
    /// The JVM reported heap exhaustion (`-XX:+ExitOnOutOfMemoryError` exits with 3 after
    /// printing its own line: the JVM's fact, not the program's).
    pub jvm_out_of_memory: bool,
}

/// The verdict, the time kind for a time limit, and a sentence when the verdict needs one.
pub fn judge(
    out: &StepOutput,
    limits: &Limits,
    ev: Evidence,
) -> (Verdict, Option<TimeKind>, String) {
    match out.killed {
        Some(Kill::Wall) => return (Verdict::TimeLimit, Some(TimeKind::Wall), String::new()),
        Some(Kill::Output) => {
            let which = if out.stdout_truncated {
                "stdout"
            } else {
                "stderr"
            };
            return (
                Verdict::OutputLimit,
                None,
                format!("{which} over {} bytes", limits.output),
            );
        }
        None => {}
    }
    // A cgroup's OOM kill may take the sandbox's init too (no report then): still memory.
    if out.report.is_none() && ev.oom_kills > 0 {
        return (
            Verdict::MemoryLimit,
            None,
            format!("over {} KiB", limits.memory_kib),
        );
    }
    let f = match &out.report {
        Some(Report::Ran(f)) => f,
        Some(Report::NotStarted(why)) => return (Verdict::InternalError, None, why.clone()),
        None => {
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.lines().last().unwrap_or("no report and no message");
            return (
                Verdict::InternalError,
                None,
                format!("the sandbox did not start: {said}"),
            );
        }
    };
    let cpu_ms = f.cpu_us / 1000;
    let sig = f.signal.and_then(|s| Signal::try_from(s).ok());
    if ev.oom_kills > 0 || (ev.jvm_out_of_memory && f.exit == Some(3)) {
        return (
            Verdict::MemoryLimit,
            None,
            format!("over {} KiB", limits.memory_kib),
        );
    }
    if f.over == Some(Over::Memory) {
        return (
            Verdict::MemoryLimit,
            None,
            format!(
                "the run's processes and files together over {} KiB",
                limits.memory_kib
            ),
        );
    }
    if f.over == Some(Over::Cpu) {
        return (
            Verdict::TimeLimit,
            Some(TimeKind::Cpu),
            format!(
                "the run's processes together over {} ms of CPU",
                limits.cpu_ms
            ),
        );
    }
    if sig == Some(Signal::SIGXCPU) || cpu_ms > limits.cpu_ms {
        return (Verdict::TimeLimit, Some(TimeKind::Cpu), String::new());
    }
    if sig == Some(Signal::SIGXFSZ) || f.largest_file_kib * 1024 >= limits.file_size {
        return (
            Verdict::OutputLimit,
            None,
            format!("a file over {} bytes", limits.file_size),
        );
    }
    if f.signal.is_some() || f.exit != Some(0) {
        return (Verdict::RuntimeError, None, String::new());
    }
    (Verdict::Accepted, None, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;

    fn ran(exit: Option<i32>, signal: Option<i32>, cpu_ms: u64) -> StepOutput {
        StepOutput {
            report: Some(Report::Ran(Facts {
                exit,
                signal,
                cpu_us: cpu_ms * 1000,
                maxrss_kib: 1000,
                largest_file_kib: 0,
                peak_kib: 1000,
                over: None,
            })),
            ..Default::default()
        }
    }

    fn limits() -> Limits {
        crate::limits::limits_for(&crate::RunnerOptions::default(), &Default::default()).unwrap()
    }

    #[test]
    fn each_verdict_rests_on_its_fact() {
        let l = limits();
        let v = |o: &StepOutput, ev: Evidence| judge(o, &l, ev).0;
        let none = Evidence::default();
        assert_eq!(v(&ran(Some(0), None, 5), none), Verdict::Accepted);
        assert_eq!(v(&ran(Some(1), None, 5), none), Verdict::RuntimeError);
        assert_eq!(v(&ran(None, Some(11), 5), none), Verdict::RuntimeError);
        assert_eq!(v(&ran(None, Some(24), 1000), none), Verdict::TimeLimit);
        assert_eq!(
            v(&ran(Some(0), None, 1001), none),
            Verdict::TimeLimit,
            "finished, but over"
        );
        assert_eq!(v(&ran(None, Some(25), 5), none), Verdict::OutputLimit);
        let oom = Evidence {
            oom_kills: 1,
            ..none
        };
        assert_eq!(v(&ran(None, Some(9), 5), oom), Verdict::MemoryLimit);
        let jvm = Evidence {
            jvm_out_of_memory: true,
            ..none
        };
        assert_eq!(v(&ran(Some(3), None, 5), jvm), Verdict::MemoryLimit);
        let mut over = ran(None, Some(9), 400);
        if let Some(Report::Ran(f)) = &mut over.report {
            f.over = Some(Over::Memory);
        }
        assert_eq!(
            v(&over, none),
            Verdict::MemoryLimit,
            "the run's memory budget"
        );
        if let Some(Report::Ran(f)) = &mut over.report {
            f.over = Some(Over::Cpu);
        }
        assert_eq!(
            judge(&over, &l, none).1,
            Some(TimeKind::Cpu),
            "its CPU budget"
        );
        let mut wall = ran(None, None, 0);
        wall.report = None;
        wall.killed = Some(Kill::Wall);
        assert_eq!(judge(&wall, &l, none).1, Some(TimeKind::Wall));
        wall.killed = None;
        assert_eq!(v(&wall, none), Verdict::InternalError);
    }
}
