//! A custom checker: the grader's own program decides whether an output is right. It runs in
//! a sandbox of its own with the server's default limits, gets three files in `/work` and
//! their names as arguments, in testlib's order: `input` (the test's input), `output` (what
//! the program printed), `expected` (the expected output, empty if none). Its exit code is
//! the answer: 0 accepted, 1 wrong answer (its first line of output says why), anything
//! else — another code, a signal, a limit — is the checker's own failure: `internal_error`,
//! said so, never `accepted`.

use crate::archive::{self, Entry};
use crate::execute::Input;
use crate::limits::limits_for;
use crate::outcome::Verdict;
use crate::plan::Ready;
use crate::runner::Runner;
use crate::submission::{Submission, TestCase};
use crate::test_result::TestResult;
use crate::verdict::{judge, Evidence};

/// Decides `r` (a run that ended well) with the checker `ready`.
pub(crate) fn check(runner: &Runner, ready: &Ready, t: &TestCase, r: &mut TestResult) {
    let Ok(limits) = limits_for(&runner.opts, &Submission::default()) else {
        return checker_failed(r, "no limits for the checker".into());
    };
    let file = |name: &str, data: &[u8]| Entry {
        name: name.into(),
        executable: false,
        data: data.to_vec(),
    };
    // The checker's own files are `main.*`, `prog` or `*.class`: these names are free.
    let files = [
        file("input", &t.stdin),
        file("output", &r.stdout),
        file("expected", t.expected.as_deref().unwrap_or_default()),
    ];
    let with_files = Ready {
        program: ready.program.clone(),
        archive: archive::with(&ready.archive, &files),
    };
    let args: Vec<Vec<u8>> = ["input", "output", "expected"]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let step = runner.run_spec(&with_files, &limits, &args);
    let (out, oom) = match runner.step(&step, Input::Bytes(b""), None, &with_files.archive) {
        Ok(v) => v,
        Err(e) => return checker_failed(r, format!("its sandbox did not start: {e}")),
    };
    let (verdict, kind, message) = judge(
        &out,
        &limits,
        Evidence {
            oom_kills: oom,
            ..Evidence::default()
        },
    );
    let said = first_line(&out.stdout, &out.stderr);
    let exit = match &out.report {
        Some(crate::facts::Report::Ran(f)) => f.exit,
        _ => None,
    };
    match (verdict, exit) {
        (Verdict::Accepted, _) => {}
        (Verdict::RuntimeError, Some(1)) => {
            r.verdict = Verdict::WrongAnswer;
            r.message = if said.is_empty() {
                "the checker said wrong answer".into()
            } else {
                format!("checker: {said}")
            };
        }
        (Verdict::TimeLimit, _) => checker_failed(
            r,
            format!(
                "it ran past its time limit ({})",
                kind.map_or("wall", |k| k.name())
            ),
        ),
        (Verdict::RuntimeError, _) => {
            let how = match (exit, out.report.as_ref()) {
                (Some(c), _) => format!("it exited with {c} (0 accepts, 1 rejects)"),
                (None, Some(crate::facts::Report::Ran(f))) => {
                    format!("it was killed by signal {}", f.signal.unwrap_or(0))
                }
                _ => "it failed".into(),
            };
            checker_failed(
                r,
                if said.is_empty() {
                    how
                } else {
                    format!("{how}: {said}")
                },
            )
        }
        (v, _) => checker_failed(
            r,
            format!("{}{}", v.name().replace('_', " "), suffix(&message)),
        ),
    }
}

fn suffix(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

fn checker_failed(r: &mut TestResult, why: String) {
    log::warn!("test {}: the checker failed: {why}", r.name);
    r.verdict = Verdict::InternalError;
    r.message = format!("the checker failed: {why}");
}

/// The first non-empty line of `a`, else of `b`, at most 200 characters.
pub(crate) fn first_line(a: &[u8], b: &[u8]) -> String {
    [a, b]
        .iter()
        .flat_map(|t| {
            String::from_utf8_lossy(t)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .map(|l| l.trim().to_string())
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
        .unwrap_or_default()
}
