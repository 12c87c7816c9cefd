//! Judge0 CE 1.13.1's language ids for C, C++, Java and Python, each mapped to the toolchain
//! Kennel runs it with, and the routes that describe them: `GET /languages`,
//! `/languages/all`, `/languages/{id}`, `/statuses`, `/about`, `/version`.
//!
//! The ids are Judge0's (clients pick them from a table keyed by `/about`'s version); the
//! names are Kennel's, with the real version of the toolchain that runs them, so nobody is
//! told a program runs on GCC 9.2.0 when it runs on this host's GCC.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kennel_runner::Language;
use serde_json::{json, Value};

use super::reply::not_found;
use crate::toolchains::{self, Toolchain};

/// The Judge0 version whose API and language ids Kennel follows.
pub const JUDGE0_VERSION: &str = "1.13.1";

/// One Judge0 language id.
#[derive(Debug, Clone, Copy)]
pub struct Judge0Language {
    pub id: u32,
    /// What Judge0 1.13.1 calls it (the documented table, docs/HTTP.md).
    pub judge0_name: &'static str,
    pub language: Language,
}

/// Every C, C++, Java and Python id of Judge0 CE 1.13.1.
pub const LANGUAGES: [Judge0Language; 11] = [
    lang(48, "C (GCC 7.4.0)", Language::C),
    lang(49, "C (GCC 8.3.0)", Language::C),
    lang(50, "C (GCC 9.2.0)", Language::C),
    lang(75, "C (Clang 7.0.1)", Language::C),
    lang(52, "C++ (GCC 7.4.0)", Language::Cpp),
    lang(53, "C++ (GCC 8.3.0)", Language::Cpp),
    lang(54, "C++ (GCC 9.2.0)", Language::Cpp),
    lang(76, "C++ (Clang 7.0.1)", Language::Cpp),
    lang(62, "Java (OpenJDK 13.0.1)", Language::Java),
    lang(70, "Python (2.7.17)", Language::Python),
    lang(71, "Python (3.8.1)", Language::Python),
];

const fn lang(id: u32, judge0_name: &'static str, language: Language) -> Judge0Language {
    Judge0Language {
        id,
        judge0_name,
        language,
    }
}

/// The entry for a Judge0 id.
pub fn by_id(id: i64) -> Option<Judge0Language> {
    LANGUAGES.iter().copied().find(|l| i64::from(l.id) == id)
}

/// The name Kennel gives an id: the family and this host's toolchain version.
pub fn name(l: Judge0Language, tools: &[Toolchain]) -> String {
    let version = toolchains::of(tools, l.language)
        .version
        .clone()
        .unwrap_or_else(|| "not installed".into());
    match l.language {
        Language::C => format!("C (GCC {version})"),
        Language::Cpp => format!("C++ (GCC {version})"),
        Language::Java => format!("Java (OpenJDK {version})"),
        Language::Python => format!("Python ({version})"),
    }
}

/// `GET /languages` and `/languages/all`: `[{id, name}]` (none archived).
pub async fn list() -> Json<Vec<Value>> {
    let tools = toolchains::get().await;
    Json(
        LANGUAGES
            .iter()
            .map(|l| json!({"id": l.id, "name": name(*l, tools)}))
            .collect(),
    )
}

/// `GET /languages/{id}`.
pub async fn show(id: Result<Path<String>, axum::extract::rejection::PathRejection>) -> Response {
    let id = id.ok().and_then(|Path(s)| s.parse::<i64>().ok());
    let Some(l) = id.and_then(by_id) else {
        return not_found();
    };
    let tools = toolchains::get().await;
    let t = toolchains::of(tools, l.language);
    Json(json!({
        "id": l.id,
        "name": name(l, tools),
        "is_archived": false,
        "source_file": toolchains::source_file(l.language),
        "compile_cmd": t.compile_cmd,
        "run_cmd": t.run_cmd,
    }))
    .into_response()
}

/// Judge0's statuses, by id.
pub const STATUSES: [(u32, &str); 14] = [
    (1, "In Queue"),
    (2, "Processing"),
    (3, "Accepted"),
    (4, "Wrong Answer"),
    (5, "Time Limit Exceeded"),
    (6, "Compilation Error"),
    (7, "Runtime Error (SIGSEGV)"),
    (8, "Runtime Error (SIGXFSZ)"),
    (9, "Runtime Error (SIGFPE)"),
    (10, "Runtime Error (SIGABRT)"),
    (11, "Runtime Error (NZEC)"),
    (12, "Runtime Error (Other)"),
    (13, "Internal Error"),
    (14, "Exec Format Error"),
];

/// `GET /statuses`.
pub async fn statuses() -> Json<Vec<Value>> {
    Json(
        STATUSES
            .iter()
            .map(|(id, d)| json!({"id": id, "description": d}))
            .collect(),
    )
}

/// `GET /about`: the Judge0 version followed (clients choose language ids by it), and who
/// actually answers.
pub async fn about() -> Json<Value> {
    Json(json!({
        "version": JUDGE0_VERSION,
        "homepage": "https://github.com/judge0/judge0",
        "source_code": "https://github.com/judge0/judge0",
        "maintainer": "Kennel (a Judge0-compatible gateway; docs/HTTP.md)",
        "kennel_version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `GET /version`: the version as plain text, as Judge0 answers it.
pub async fn version() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        JUDGE0_VERSION,
    )
        .into_response()
}
