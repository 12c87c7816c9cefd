//! A submission as the API takes it (`POST /api/v1/runs`'s JSON body), and the checks it
//! passes before anything reaches a worker: the language is one Kennel runs and a running
//! worker offers, the limits are within the server's maxima (the runner's own
//! `limits_for`), the encoded submission fits a worker's `--max-payload`, the arguments are
//! few and NUL-free. A request that fails any of them gets a 4xx naming the problem.

use kennel_common::segment::Snapshot;
use kennel_runner::submission::MAX_ARGS;
use kennel_runner::{Language, Submission};

use crate::error::ApiError;
pub use crate::request::{CheckerRequest, RunRequest, SideRequest, SourceFile, TestRequest};
use crate::settings::Settings;

/// A checked submission, ready for a worker.
#[derive(Debug, Clone)]
pub struct Checked {
    pub language: Language,
    pub submission: Submission,
    /// Its encoding on Kennel's framed wire (what the worker gets).
    pub wire: Vec<u8>,
    /// The longest it can take on the wall clock, compiles and every test included (for the
    /// gateway's own deadline).
    pub wall_ms: u64,
}

/// Every check, in order; the first that fails is the answer.
pub fn check(req: RunRequest, s: &Settings, snap: &Snapshot) -> Result<Checked, ApiError> {
    let (program, file_lang) = program(req.source, req.files)?;
    let language = language(req.language.as_deref(), file_lang)?;
    check_args(&req.args)?;
    let mut submission = Submission {
        stdin: req.stdin.into_bytes(),
        args: req.args.into_iter().map(String::into_bytes).collect(),
        expected: req.expected_output.map(String::into_bytes),
        time_limit_ms: req.time_limit_ms,
        wall_limit_ms: req.wall_limit_ms,
        memory_limit_kib: req.memory_limit_kib,
        language: Some(language),
        entry: req.entry,
        compile_options: req.compile_options,
        stop_on_first_failure: req.stop_on_first_failure,
        ..Default::default()
    };
    match program {
        Program::Source(src) => submission.source = src.into_bytes(),
        Program::Files(files) => submission.files = files,
    }
    crate::submit_grading::add(&mut submission, req.tests, req.checker, req.interactor)?;
    finish(submission, language, s, snap)
}

/// The checks every API's submission passes once it is built (the native API's, Judge0's,
/// Piston's): the runner's own validation, the size a worker takes, a running worker for
/// each language it needs.
pub fn finish(
    submission: Submission,
    language: Language,
    s: &Settings,
    snap: &Snapshot,
) -> Result<Checked, ApiError> {
    if submission.source.contains(&0) {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "the source holds a NUL character: send the program's source, not a binary",
        ));
    }
    let checked =
        kennel_runner::grade::validate(&s.worker.runner, language, &submission).map_err(|e| {
            let kind = if e.contains("maximum") || e.contains("floor") || e.contains("at most") {
                "over_limit"
            } else {
                "invalid_request"
            };
            ApiError::unprocessable(kind, e)
        })?;
    let wire = submission.encode();
    if wire.len() > s.worker.max_payload {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the submission is {} bytes: a worker takes at most {} (--max-payload)",
                wire.len(),
                s.worker.max_payload
            ),
        ));
    }
    let side = [&submission.interactor, &side_checker(&submission)];
    for lang in
        std::iter::once(language).chain(side.iter().filter_map(|p| p.as_ref().map(|p| p.language)))
    {
        if !offered(snap, lang) {
            return Err(ApiError {
                retry_after: Some(2),
                ..ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "language_unavailable",
                    format!(
                        "no running worker offers {} now (see GET /api/v1/languages)",
                        lang.name()
                    ),
                )
            });
        }
    }
    Ok(Checked {
        language,
        wall_ms: checked.wall_budget_ms(),
        submission,
        wire,
    })
}

fn side_checker(s: &Submission) -> Option<kennel_runner::SideProgram> {
    match &s.checker {
        Some(kennel_runner::Checker::Custom(p)) => Some(p.clone()),
        _ => None,
    }
}

/// The program as the request gives it.
enum Program {
    Source(String),
    Files(Vec<kennel_runner::SourceFile>),
}

/// The program: `source`, or `files` (whose names may give the language).
fn program(
    source: Option<String>,
    files: Option<Vec<SourceFile>>,
) -> Result<(Program, Option<Language>), ApiError> {
    let bad = |m: &str| ApiError::unprocessable("invalid_request", m.to_string());
    match (source, files) {
        (Some(src), None) => {
            if src.is_empty() {
                return Err(bad("the source is empty"));
            }
            // A NUL is refused by `finish`, for every API.
            Ok((Program::Source(src), None))
        }
        (None, Some(files)) => {
            if files.is_empty() {
                return Err(bad("files is empty: give at least one"));
            }
            if files.len() > kennel_runner::submission::MAX_FILES {
                return Err(bad(&format!(
                    "{} files: at most {}",
                    files.len(),
                    kennel_runner::submission::MAX_FILES
                )));
            }
            // A bad name is the answer before any guess at the language from it.
            for f in &files {
                kennel_runner::program::check_name(&f.name).map_err(|e| bad(&e))?;
            }
            let langs = kennel_runner::program::languages_of(files.iter().map(|f| &f.name));
            let lang = match langs[..] {
                [one] => Some(one),
                _ => None,
            };
            let files = files
                .into_iter()
                .map(|f| kennel_runner::SourceFile {
                    name: f.name,
                    content: f.content.into_bytes(),
                })
                .collect();
            Ok((Program::Files(files), lang))
        }
        (Some(_), Some(_)) => Err(bad("give either source or files, not both")),
        (None, None) => Err(bad("no program: give source (or files)")),
    }
}

/// The language asked for by name, else the one the file's extension names.
fn language(name: Option<&str>, from_file: Option<Language>) -> Result<Language, ApiError> {
    match (name, from_file) {
        (Some(name), _) => Language::from_name(name).ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_language",
                format!(
                    "unknown language {:?}: Kennel runs python, c, cpp, java",
                    printable(name)
                ),
            )
        }),
        (None, Some(l)) => Ok(l),
        (None, None) => Err(ApiError::unprocessable(
            "unknown_language",
            "no language: give language, or a file name with a known extension",
        )),
    }
}

/// The program's arguments: at most `MAX_ARGS`, none holding a NUL.
fn check_args(args: &[String]) -> Result<(), ApiError> {
    if args.len() > MAX_ARGS {
        return Err(ApiError::unprocessable(
            "invalid_request",
            format!("{} arguments: at most {MAX_ARGS}", args.len()),
        ));
    }
    if args.iter().any(|a| a.contains('\0')) {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "an argument holds a NUL character",
        ));
    }
    Ok(())
}

/// Whether a running worker offers `lang` (the bit it published before it was ready).
pub fn offered(snap: &Snapshot, lang: Language) -> bool {
    use kennel_common::layout::Supervision;
    snap.workers()
        .iter()
        .any(|r| r.supervision() == Some(Supervision::Running) && r.languages & lang.bit() != 0)
}

/// At most 40 characters of `s`, for an error message.
fn printable(s: &str) -> String {
    s.chars().take(40).collect()
}
