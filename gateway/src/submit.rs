//! A submission as the API takes it (`POST /api/v1/runs`'s JSON body), and the checks it
//! passes before anything reaches a worker: the language is one Kennel runs and a running
//! worker offers, the limits are within the server's maxima (the runner's own
//! `limits_for`), the encoded submission fits a worker's `--max-payload`, the arguments are
//! few and NUL-free. A request that fails any of them gets a 4xx naming the problem.

use std::path::Path;

use kennel_common::segment::Snapshot;
use kennel_runner::submission::MAX_ARGS;
use kennel_runner::{Language, Submission};
use serde::Deserialize;

use crate::error::ApiError;
use crate::settings::Settings;

/// The JSON body of `POST /api/v1/runs` (docs/openapi.yaml, `RunRequest`). An optional field
/// is absent to take the default; an explicit `null` is refused (one spelling for "not
/// given", so the schema and the server cannot disagree on it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// python, c, cpp or java; may be left out when `files` names the file.
    #[serde(default, deserialize_with = "present")]
    pub language: Option<String>,
    /// The program's source.
    #[serde(default, deserialize_with = "present")]
    pub source: Option<String>,
    /// The program as files: one file (the runner compiles single-file programs).
    #[serde(default, deserialize_with = "present")]
    pub files: Option<Vec<SourceFile>>,
    #[serde(default)]
    pub stdin: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// A different stdout is a wrong answer.
    #[serde(default, deserialize_with = "present")]
    pub expected_output: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub time_limit_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub wall_limit_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub memory_limit_kib: Option<u64>,
}

/// A field that, when present, holds a `T` (not `null`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    pub name: String,
    pub content: String,
}

/// A checked submission, ready for a worker.
#[derive(Debug, Clone)]
pub struct Checked {
    pub language: Language,
    pub submission: Submission,
    /// Its encoding on Kennel's framed wire (what the worker gets).
    pub wire: Vec<u8>,
    /// The wall limit it runs under (for the gateway's own deadline).
    pub wall_ms: u64,
}

/// Every check, in order; the first that fails is the answer.
pub fn check(req: RunRequest, s: &Settings, snap: &Snapshot) -> Result<Checked, ApiError> {
    let (source, file_lang) = program(req.source, req.files)?;
    let language = language(req.language.as_deref(), file_lang)?;
    if source.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "the source is empty",
        ));
    }
    if source.contains('\0') {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "the source holds a NUL character: send the program's source, not a binary",
        ));
    }
    check_args(&req.args)?;
    let submission = Submission {
        source: source.into_bytes(),
        stdin: req.stdin.into_bytes(),
        args: req.args.into_iter().map(String::into_bytes).collect(),
        expected: req.expected_output.map(String::into_bytes),
        time_limit_ms: req.time_limit_ms,
        wall_limit_ms: req.wall_limit_ms,
        memory_limit_kib: req.memory_limit_kib,
        language: Some(language),
    };
    let limits = kennel_runner::limits::limits_for(&s.worker.runner, &submission)
        .map_err(|e| ApiError::unprocessable("over_limit", e))?;
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
    if !offered(snap, language) {
        return Err(ApiError {
            retry_after: Some(2),
            ..ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "language_unavailable",
                format!(
                    "no running worker offers {} now (see GET /api/v1/languages)",
                    language.name()
                ),
            )
        });
    }
    Ok(Checked {
        language,
        submission,
        wire,
        wall_ms: limits.wall_ms,
    })
}

/// The program: `source`, or exactly one of `files` (whose name may give the language).
fn program(
    source: Option<String>,
    files: Option<Vec<SourceFile>>,
) -> Result<(String, Option<Language>), ApiError> {
    match (source, files) {
        (Some(src), None) => Ok((src, None)),
        (None, Some(mut files)) => {
            if files.len() != 1 {
                return Err(ApiError::unprocessable(
                    "unsupported",
                    format!(
                        "{} files given: the runner compiles single-file programs, send one",
                        files.len()
                    ),
                ));
            }
            let f = files.remove(0);
            if !kennel_runner::archive::valid_name(&f.name) {
                return Err(ApiError::unprocessable(
                    "invalid_request",
                    "a file name is letters, digits, '.', '_', '-' (no path, not hidden)",
                ));
            }
            let lang = Language::from_path(Path::new(&f.name));
            Ok((f.content, lang))
        }
        (Some(_), Some(_)) => Err(ApiError::unprocessable(
            "invalid_request",
            "give either source or files, not both",
        )),
        (None, None) => Err(ApiError::unprocessable(
            "invalid_request",
            "no program: give source (or files)",
        )),
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
