//! `Runner::run`: one submission from source to verdict. Everything that can be refused is
//! refused first (language, files, options, limits, tests); then the program is compiled
//! once (or taken from the cache), and run once per test, each run in a fresh sandbox, its
//! output checked; the result carries one entry per test and the first failure's verdict.

use crate::checker::Checker;
use crate::execute::Input;
use crate::language::Language;
use crate::limits::{limits_for, limits_for_test, Limits};
use crate::outcome::{RunResult, Verdict};
use crate::plan::{failed, from_step, Plan, Ready};
use crate::program::Program;
use crate::runner::Runner;
use crate::submission::{SideProgram, Submission, TestCase};
use crate::test_result::TestResult;
use crate::RunnerOptions;

/// A submission checked, before anything runs: its program, limits, tests (each with its
/// limits), checker and interactor programs.
pub struct Checked {
    pub program: Program,
    pub limits: Limits,
    pub cases: Vec<(TestCase, Limits)>,
    pub checker: Option<Program>,
    pub interactor: Option<Program>,
}

impl Checked {
    /// The longest the whole submission can take on the wall clock: its compiles, and each
    /// test's run (and checker) at their wall limits. The gateway waits this long.
    pub fn wall_budget_ms(&self) -> u64 {
        let compiles = 1 + u64::from(self.checker.is_some()) + u64::from(self.interactor.is_some());
        let per_test = |l: &Limits| {
            l.wall_ms
                + if self.checker.is_some() {
                    self.limits.wall_ms
                } else {
                    0
                }
        };
        compiles * self.limits.for_compile().wall_ms
            + self.cases.iter().map(|(_, l)| per_test(l)).sum::<u64>()
    }
}

/// Every refusal that does not depend on the host: the language of the request, the files
/// and their names, the compiler options, the limits of the submission and of each test, the
/// number of tests and their names, the checker and the interactor. The gateway runs it too,
/// so a bad request is refused before it waits for a worker.
pub fn validate(opts: &RunnerOptions, lang: Language, sub: &Submission) -> Result<Checked, String> {
    if sub.language.is_some_and(|l| l != lang) {
        return Err("the submission's language differs from the request type".into());
    }
    let program = Program::from_submission(lang, sub)?;
    let limits = limits_for(opts, sub)?;
    if sub.tests.len() > opts.max_tests as usize {
        return Err(format!(
            "{} tests: this server takes at most {} (--max-tests)",
            sub.tests.len(),
            opts.max_tests
        ));
    }
    let mut names = std::collections::HashSet::new();
    let mut cases = Vec::new();
    for t in sub.test_cases() {
        crate::program::check_name(&t.name).map_err(|e| format!("test name: {e}"))?;
        if !names.insert(t.name.clone()) {
            return Err(format!("two tests named {:?}", t.name));
        }
        let l = limits_for_test(opts, sub, &t)?;
        cases.push((t, l));
    }
    let side =
        |p: &SideProgram, what: &str| Program::side(p).map_err(|e| format!("the {what}: {e}"));
    let checker = match &sub.checker {
        Some(Checker::Custom(p)) => Some(side(p, "checker")?),
        _ => None,
    };
    let interactor = sub
        .interactor
        .as_ref()
        .map(|p| side(p, "interactor"))
        .transpose()?;
    let expected = cases.iter().any(|(t, _)| t.expected.is_some());
    if interactor.is_some() && (sub.checker.is_some() || expected) {
        return Err(
            "an interactive problem is judged by its interactor: give no checker and no expected output"
                .into(),
        );
    }
    Ok(Checked {
        program,
        limits,
        cases,
        checker,
        interactor,
    })
}

impl Runner {
    /// Runs `sub` as `lang`. `Err` is a refusal (language unavailable, a limit over the
    /// maximum, a bad file name or option…) for an `ERR` line; everything the program does
    /// is in the `RunResult`.
    pub fn run(&self, lang: Language, sub: &Submission, worker: u16) -> Result<RunResult, String> {
        let c = self.check(lang, sub)?;
        let mut result = RunResult::new(Verdict::Accepted, lang.name());
        result.worker = worker;
        result.time_limit_ms = c.limits.cpu_ms;
        result.wall_limit_ms = c.limits.wall_ms;
        result.memory_limit_kib = c.limits.memory_kib;
        let Some(archive) = self.compiled(&c.program, &c.limits, &mut result) else {
            return Ok(result);
        };
        let custom_checker = match &c.checker {
            Some(p) => match self.side_ready(p, "checker", &mut result) {
                Some(r) => Some(r),
                None => return Ok(result),
            },
            None => None,
        };
        let interactor = match &c.interactor {
            Some(p) => match self.side_ready(p, "interactor", &mut result) {
                Some(r) => Some(r),
                None => return Ok(result),
            },
            None => None,
        };
        let plan = Plan {
            sub,
            solution: Ready {
                program: c.program,
                archive,
            },
            checker: sub.checker.clone().unwrap_or(Checker::Lines),
            custom_checker,
            interactor,
        };
        let mut tests = Vec::with_capacity(c.cases.len());
        let mut stop = false;
        for (t, limits) in &c.cases {
            if stop {
                tests.push(TestResult::new(&t.name, Verdict::Skipped));
                continue;
            }
            let r = self.run_test(&plan, t, limits);
            stop = sub.stop_on_first_failure && r.verdict != Verdict::Accepted;
            tests.push(r);
        }
        let graded = !sub.tests.is_empty();
        Ok(conclude(result, tests, graded, self.opts.test_output_max))
    }

    fn check(&self, lang: Language, sub: &Submission) -> Result<Checked, String> {
        if !self.offers(lang) {
            return Err(format!(
                "language unavailable: {} ({})",
                lang.name(),
                self.missing(lang)
            ));
        }
        let c = validate(&self.opts, lang, sub)?;
        let asan = sub.compile_options.iter().any(|o| o.contains("address"));
        if asan && self.cgroups().is_none() {
            return Err(
                "-fsanitize=address needs a memory cgroup (it reserves terabytes of address space),                  and this runner limits memory by address space: use -fsanitize=undefined"
                    .into(),
            );
        }
        for (p, what) in [(&c.checker, "checker"), (&c.interactor, "interactor")] {
            if let Some(p) = p.as_ref().filter(|p| !self.offers(p.language)) {
                return Err(format!(
                    "the {what}'s language is unavailable: {} ({})",
                    p.language.name(),
                    self.missing(p.language)
                ));
            }
        }
        Ok(c)
    }

    /// A checker or an interactor compiled (with the server's default limits); `None` when it
    /// did not compile, with `result` an internal error saying so: the grader's program
    /// failed, not the submission.
    fn side_ready(&self, p: &Program, what: &str, result: &mut RunResult) -> Option<Ready> {
        let limits = limits_for(&self.opts, &Submission::default()).ok()?;
        let mut side = RunResult::new(Verdict::Accepted, p.language.name());
        match self.compiled(p, &limits, &mut side) {
            Some(archive) => Some(Ready {
                program: p.clone(),
                archive,
            }),
            None => {
                let said = String::from_utf8_lossy(&side.compile_output);
                let first = said.lines().next().unwrap_or(&side.message);
                result.verdict = Verdict::InternalError;
                result.message = format!("the {what} did not compile: {first}");
                result.compile_output = side.compile_output;
                None
            }
        }
    }

    fn run_test(&self, plan: &Plan<'_>, t: &TestCase, limits: &Limits) -> TestResult {
        if plan.interactor.is_some() {
            return crate::interact::run(self, plan, t, limits);
        }
        let step = self.run_spec(&plan.solution, limits, &plan.sub.args);
        let (out, oom) =
            match self.step(&step, Input::Bytes(&t.stdin), None, &plan.solution.archive) {
                Ok(v) => v,
                Err(e) => return failed(&t.name, e),
            };
        let mut r = from_step(&t.name, plan.solution.program.language, &out, oom, limits);
        if r.verdict == Verdict::Accepted {
            self.check_output(plan, t, &mut r);
        }
        r
    }

    /// The checker's word on an output the program produced without failing.
    fn check_output(&self, plan: &Plan<'_>, t: &TestCase, r: &mut TestResult) {
        if let Some(ready) = &plan.custom_checker {
            crate::custom_checker::check(self, ready, t, r);
            return;
        }
        if let Some(want) = &t.expected {
            if let Some(diff) = plan.checker.compare(&r.stdout, want) {
                r.verdict = Verdict::WrongAnswer;
                r.message = diff;
            }
        }
    }
}

/// The result of the whole submission. Without tests: the one run, as version 1 has it.
/// With tests: one entry each, the first failure's verdict (and what it says) on top, the
/// largest CPU time and memory, the sum of the wall times.
fn conclude(mut result: RunResult, tests: Vec<TestResult>, graded: bool, cap: u64) -> RunResult {
    // What the verdict on top says: the one run's, else the first failing test's.
    let verdict_of = |result: &mut RunResult, t: &TestResult| {
        result.verdict = t.verdict;
        result.time_limit = t.time_limit;
        result.exit_code = t.exit_code;
        result.signal = t.signal;
    };
    if !graded {
        let t = tests.into_iter().next().expect("one test without tests");
        verdict_of(&mut result, &t);
        result.cpu_ms = t.cpu_ms;
        result.wall_ms = t.wall_ms;
        result.memory_kib = t.memory_kib;
        result.stdout = t.stdout;
        result.stderr = t.stderr;
        result.stdout_truncated = t.stdout_truncated;
        result.stderr_truncated = t.stderr_truncated;
        result.message = t.message;
        return result;
    }
    result.total = tests.len() as u32;
    result.passed = tests
        .iter()
        .filter(|t| t.verdict == Verdict::Accepted)
        .count() as u32;
    result.cpu_ms = tests.iter().map(|t| t.cpu_ms).max().unwrap_or(0);
    result.memory_kib = tests.iter().map(|t| t.memory_kib).max().unwrap_or(0);
    result.wall_ms = tests.iter().map(|t| t.wall_ms).sum();
    if let Some(f) = tests.iter().find(|t| t.verdict != Verdict::Accepted) {
        verdict_of(&mut result, f);
        result.message = if f.message.is_empty() {
            format!("test {}", f.name)
        } else {
            format!("test {}: {}", f.name, f.message)
        };
    }
    result.tests = tests;
    for t in &mut result.tests {
        t.cap_output(cap as usize);
    }
    result
}
