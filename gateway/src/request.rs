//! The JSON body of `POST /api/v1/runs` (docs/openapi.yaml, `RunRequest`), as serde reads
//! it: unknown fields refused, an explicit `null` refused (one spelling for "not given").

use serde::Deserialize;

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
    /// The program as files (sources, headers, modules): C and C++ compile and link every
    /// source, Java every `.java`, Python runs `entry` (default `main.py`).
    #[serde(default, deserialize_with = "present")]
    pub files: Option<Vec<SourceFile>>,
    /// Python: the file to run; Java: the class to start, when several have a main.
    #[serde(default, deserialize_with = "present")]
    pub entry: Option<String>,
    /// Compiler options from the language's allow-list (`GET /api/v1/languages`).
    #[serde(default)]
    pub compile_options: Vec<String>,
    /// Test cases: the program is compiled once and run once per test.
    #[serde(default, deserialize_with = "present")]
    pub tests: Option<Vec<TestRequest>>,
    /// How stdout is compared: a built-in checker's name, or a checker program.
    #[serde(default, deserialize_with = "present")]
    pub checker: Option<CheckerRequest>,
    /// A program the solution talks with (interactive problems).
    #[serde(default, deserialize_with = "present")]
    pub interactor: Option<SideRequest>,
    /// Stop at the first failing test; the rest are reported `skipped`.
    #[serde(default)]
    pub stop_on_first_failure: bool,
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

/// One test of `tests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// Default: its place, from 1.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default)]
    pub stdin: String,
    #[serde(default, deserialize_with = "present")]
    pub expected_output: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub time_limit_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub wall_limit_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub memory_limit_kib: Option<u64>,
}

/// `checker`: `"tokens"`, or `{"language": "python", "source": "..."}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum CheckerRequest {
    Name(String),
    Program(SideRequest),
}

/// A checker's or an interactor's program.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideRequest {
    pub language: String,
    pub source: String,
}
