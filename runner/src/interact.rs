//! An interactive test: the program and an interactor run at once, each in its own sandbox,
//! joined by two pipes (the interactor's stdout is the program's stdin and back). The
//! interactor gets the test's input as the file `input` (its first argument) and gives the
//! verdict by its exit code, testlib's convention: 0 accepted, 1 (or 2) wrong answer,
//! anything else its own failure. A limit the program hits is the program's verdict; a
//! rejection by the interactor comes before the program's crash (it may have crashed reading
//! the end of a conversation the interactor ended); both still waiting at the wall limit is
//! a deadlock, and said so.

use std::os::fd::OwnedFd;

use crate::archive::{self, Entry};
use crate::custom_checker::first_line;
use crate::execute::{Input, Kill, StepOutput};
use crate::limits::Limits;
use crate::outcome::{TimeKind, Verdict};
use crate::plan::{failed, from_step, Plan, Ready};
use crate::runner::Runner;
use crate::submission::TestCase;
use crate::test_result::TestResult;

/// How much longer than the program's the interactor's wall limit is.
const INTERACTOR_WALL_GRACE_MS: u64 = 250;

/// Runs test `t` of `plan` against its interactor.
pub(crate) fn run(runner: &Runner, plan: &Plan<'_>, t: &TestCase, limits: &Limits) -> TestResult {
    let Some(inter) = &plan.interactor else {
        return failed(&t.name, "no interactor".into());
    };
    // The interactor's own files are `main.*`, `prog` or `*.class`: `input` is free.
    let input = Entry {
        name: "input".into(),
        executable: false,
        data: t.stdin.clone(),
    };
    let inter = Ready {
        program: inter.program.clone(),
        archive: archive::with(&inter.archive, &[input]),
    };
    let (to_program, from_interactor) = match pipe() {
        Ok(p) => p,
        Err(e) => return failed(&t.name, e),
    };
    let (to_interactor, from_program) = match pipe() {
        Ok(p) => p,
        Err(e) => return failed(&t.name, e),
    };
    let program_spec = runner.run_spec(&plan.solution, limits, &plan.sub.args);
    // The interactor's wall limit ends a little after the program's: in a deadlock the
    // program must be the one stopped at the limit. Killed first (its thread starts first),
    // the interactor closed the program's stdin, and the program, reading the end of it,
    // crashed just inside the limit: a runtime error instead of the deadlock (seen in CI).
    let inter_limits = Limits {
        wall_ms: limits.wall_ms + INTERACTOR_WALL_GRACE_MS,
        ..*limits
    };
    let inter_spec = runner.run_spec(&inter, &inter_limits, &[b"input".to_vec()]);
    let (program, interactor) = std::thread::scope(|s| {
        let other = s.spawn(|| {
            runner.step(
                &inter_spec,
                Input::Pipe(from_program),
                Some(to_program),
                &inter.archive,
            )
        });
        let mine = runner.step(
            &program_spec,
            Input::Pipe(from_interactor),
            Some(to_interactor),
            &plan.solution.archive,
        );
        let theirs = other
            .join()
            .unwrap_or_else(|_| Err("the interactor's thread panicked".into()));
        (mine, theirs)
    });
    let (out, oom) = match program {
        Ok(v) => v,
        Err(e) => return failed(&t.name, e),
    };
    let inter_out = match interactor {
        Ok((o, _)) => o,
        Err(e) => return failed(&t.name, format!("the interactor: {e}")),
    };
    let mut r = from_step(&t.name, plan.solution.program.language, &out, oom, limits);
    decide(&mut r, &inter_out);
    r
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map(|(read, write)| (write, read))
        .map_err(|e| format!("a pipe: {e}"))
}

/// The verdict of an interactive test from the program's run `r` and the interactor's.
fn decide(r: &mut TestResult, inter: &StepOutput) {
    let inter_exit = match &inter.report {
        Some(crate::facts::Report::Ran(f)) => (f.exit, f.signal),
        _ => (None, None),
    };
    let said = first_line(&inter.stderr, &inter.stdout);
    let deadlock = r.time_limit == Some(TimeKind::Wall) && inter.killed == Some(Kill::Wall);
    if deadlock {
        r.message = "the program and the interactor were both still waiting at the wall limit: \
                     a deadlock (each read, neither wrote)"
            .into();
        return;
    }
    // The program's own limits are its verdict, whatever the interactor says.
    if matches!(
        r.verdict,
        Verdict::TimeLimit | Verdict::MemoryLimit | Verdict::OutputLimit
    ) {
        return;
    }
    const SIGPIPE: i32 = 13;
    match inter_exit {
        // A program that crashes once the interactor has rejected it and gone (reading
        // end of file) was rejected: the interactor's word comes first.
        (Some(1 | 2), _) => {
            r.verdict = Verdict::WrongAnswer;
            r.message = if said.is_empty() {
                "the interactor said wrong answer".into()
            } else {
                format!("interactor: {said}")
            };
        }
        _ if r.verdict != Verdict::Accepted => {}
        (Some(0), _) => {}
        (None, Some(SIGPIPE)) => {
            r.verdict = Verdict::WrongAnswer;
            r.message = "the program stopped reading before the interactor was done".into();
        }
        (code, signal) => {
            let how = match (code, signal, inter.killed) {
                (_, _, Some(Kill::Wall)) => "it ran past the wall limit".to_string(),
                (_, _, Some(Kill::Output)) => "its stderr passed the output limit".to_string(),
                (Some(c), _, _) => format!("it exited with {c} (0 accepts, 1 rejects)"),
                (None, Some(s), _) => format!("it was killed by signal {s}"),
                (None, None, None) => "its sandbox gave no report".to_string(),
            };
            r.verdict = Verdict::InternalError;
            r.message = if said.is_empty() {
                format!("the interactor failed: {how}")
            } else {
                format!("the interactor failed: {how}: {said}")
            };
        }
    }
}
