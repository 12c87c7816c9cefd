//! What the tests of one submission share (the program ready to run, its checker and
//! interactor) and the pieces every kind of test run uses: the spec of a run, a test's result
//! from what its step did.

use crate::checker::Checker;
use crate::execute::StepOutput;
use crate::facts::Report;
use crate::language::Language;
use crate::limits::Limits;
use crate::outcome::Verdict;
use crate::program::Program;
use crate::runner::{Runner, JVM_ROOM};
use crate::sandbox::StepSpec;
use crate::submission::Submission;
use crate::test_result::TestResult;
use crate::verdict::{judge, Evidence};

/// A program compiled and ready to run.
pub(crate) struct Ready {
    pub program: Program,
    pub archive: Vec<u8>,
}

/// What every test of one submission shares.
pub(crate) struct Plan<'a> {
    pub sub: &'a Submission,
    pub solution: Ready,
    pub checker: Checker,
    pub custom_checker: Option<Ready>,
    pub interactor: Option<Ready>,
}

impl Runner {
    /// The spec of a sandboxed run of `ready` under `limits`, with `extra` arguments.
    pub(crate) fn run_spec(&self, ready: &Ready, limits: &Limits, extra: &[Vec<u8>]) -> StepSpec {
        let lang = ready.program.language;
        let mut command = self
            .tools
            .run_command(&ready.program, limits.memory_kib)
            .unwrap_or_default();
        command.extend(
            extra
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned()),
        );
        StepSpec {
            command,
            limits: *limits,
            address_space: self.cgroups().is_none() && lang != Language::Java,
            pack_out: false,
            runtime_room: if lang == Language::Java { JVM_ROOM } else { 0 },
            memory_budget: self.cgroups().is_none(),
        }
    }
}

/// A test whose sandbox could not run.
pub(crate) fn failed(name: &str, why: String) -> TestResult {
    log::error!("internal error running test {name}: {why}");
    let mut r = TestResult::new(name, Verdict::InternalError);
    r.message = why;
    r
}

/// A test's result from what its step did (the verdict from the facts, `verdict.rs`).
pub(crate) fn from_step(
    name: &str,
    lang: Language,
    out: &StepOutput,
    oom_kills: u64,
    limits: &Limits,
) -> TestResult {
    let ev = Evidence {
        oom_kills,
        jvm_out_of_memory: lang == Language::Java
            && String::from_utf8_lossy(&out.stderr)
                .contains("Terminating due to java.lang.OutOfMemoryError"),
    };
    let (verdict, kind, message) = judge(out, limits, ev);
    let mut r = TestResult::new(name, verdict);
    r.time_limit = kind;
    r.message = message;
    if let Some(Report::Ran(f)) = &out.report {
        r.exit_code = f.exit;
        r.signal = f.signal;
        r.cpu_ms = f.cpu_us / 1000;
        r.memory_kib = f.maxrss_kib.max(f.peak_kib);
    }
    r.wall_ms = out.wall.as_millis() as u64;
    r.stdout = out.stdout.clone();
    r.stderr = out.stderr.clone();
    r.stdout_truncated = out.stdout_truncated;
    r.stderr_truncated = out.stderr_truncated;
    r
}
