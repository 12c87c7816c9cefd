//! The grading parts of `POST /api/v1/runs`'s body turned into the submission's: tests (named
//! by their place when unnamed), the checker (a built-in's name or a program), the
//! interactor. What they mean is checked by the runner's own `validate`.

use kennel_runner::{Checker, Language, SideProgram, Submission, TestCase};

use crate::error::ApiError;
use crate::request::{CheckerRequest, SideRequest, TestRequest};

/// Most tests the gateway reads from one body before the runner's own `--max-tests`.
const MAX_TESTS: usize = kennel_runner::submission::MAX_TESTS;

pub fn add(
    s: &mut Submission,
    tests: Option<Vec<TestRequest>>,
    checker: Option<CheckerRequest>,
    interactor: Option<SideRequest>,
) -> Result<(), ApiError> {
    if let Some(tests) = tests {
        if tests.is_empty() {
            return Err(invalid(
                "tests is empty: give at least one, or leave it out",
            ));
        }
        if tests.len() > MAX_TESTS {
            return Err(ApiError::unprocessable(
                "over_limit",
                format!("{} tests: at most {MAX_TESTS}", tests.len()),
            ));
        }
        if s.expected.is_some() || !s.stdin.is_empty() {
            return Err(invalid(
                "with tests, each test carries its stdin and expected_output: give none at the top",
            ));
        }
        s.tests = tests
            .into_iter()
            .enumerate()
            .map(|(i, t)| TestCase {
                name: t.name.unwrap_or_else(|| (i + 1).to_string()),
                stdin: t.stdin.into_bytes(),
                expected: t.expected_output.map(String::into_bytes),
                time_limit_ms: t.time_limit_ms,
                wall_limit_ms: t.wall_limit_ms,
                memory_limit_kib: t.memory_limit_kib,
            })
            .collect();
    }
    s.checker = match checker {
        None => None,
        Some(CheckerRequest::Name(n)) if n == "custom" => {
            return Err(invalid(
                "checker custom: give the checker as {\"language\": ..., \"source\": ...}",
            ))
        }
        Some(CheckerRequest::Name(n)) => Some(Checker::parse(&n, None).map_err(|e| invalid(&e))?),
        Some(CheckerRequest::Program(p)) => Some(Checker::Custom(side(p, "checker")?)),
    };
    s.interactor = interactor.map(|p| side(p, "interactor")).transpose()?;
    Ok(())
}

fn side(p: SideRequest, what: &str) -> Result<SideProgram, ApiError> {
    let language = Language::from_name(&p.language).ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_language",
            format!(
                "the {what}'s language {:?}: Kennel runs python, c, cpp, java",
                p.language
            ),
        )
    })?;
    if p.source.is_empty() {
        return Err(invalid(&format!("the {what}'s source is empty")));
    }
    Ok(SideProgram {
        language,
        source: p.source.into_bytes(),
    })
}

fn invalid(m: &str) -> ApiError {
    ApiError::unprocessable("invalid_request", m.to_string())
}
