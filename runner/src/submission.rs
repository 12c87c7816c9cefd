//! A submission (what a client asks to run) and its encoding on the framed wire.
//!
//! Version 1 is one source, one stdin, at most one expected output. Version 2 adds what a
//! grader needs: several files, compiler options, test cases (compiled once, run once per
//! test), a checker (built-in or a program) and an interactor. A client writes version 1 when
//! it uses none of them (so older workers keep reading it); a worker reads both and answers
//! in the version it was asked in. docs/PROTOCOL.md §6 has the fields byte by byte.

use crate::checker::Checker;
use crate::fields::{number, Field, Reader, Writer};
use kennel_common::protocol::kind::Language;

pub use crate::side::SideProgram;

pub(crate) const MAGIC_V1: &str = "KENNEL-RUN 1";
pub(crate) const MAGIC_V2: &str = "KENNEL-RUN 2";

/// Most arguments a submission may carry.
pub const MAX_ARGS: usize = 64;
/// Most files a submission may carry.
pub const MAX_FILES: usize = 64;
/// Most compiler options a submission may carry.
pub const MAX_COMPILE_OPTIONS: usize = 32;
/// Most test cases any server takes (each server has its own, lower, `--max-tests`).
pub const MAX_TESTS: usize = 1024;

/// What a client asks to run. Limits left `None` take the server's defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Submission {
    /// The program as one source (version 1), or empty when `files` holds it.
    pub source: Vec<u8>,
    /// The program as several files (sources, headers, modules, data).
    pub files: Vec<SourceFile>,
    /// Python: the file to run when there are several (default `main.py`).
    pub entry: Option<String>,
    pub stdin: Vec<u8>,
    pub args: Vec<Vec<u8>>,
    pub expected: Option<Vec<u8>>,
    pub time_limit_ms: Option<u64>,
    pub wall_limit_ms: Option<u64>,
    pub memory_limit_kib: Option<u64>,
    /// The language, when the client states it (it must match the request type).
    pub language: Option<Language>,
    /// Compiler options, each checked against the language's allow-list.
    pub compile_options: Vec<String>,
    /// Test cases; none means one run with `stdin` and `expected`.
    pub tests: Vec<TestCase>,
    /// How stdout is compared with an expected output (default: `lines`).
    pub checker: Option<Checker>,
    /// A program the solution talks with (its stdout is the solution's stdin and back).
    pub interactor: Option<SideProgram>,
    /// Stop at the first test that fails (the rest are reported `skipped`).
    pub stop_on_first_failure: bool,
}

/// One file of a program.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceFile {
    pub name: String,
    pub content: Vec<u8>,
}

/// One test: an input, what the output should be, optionally its own limits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestCase {
    pub name: String,
    pub stdin: Vec<u8>,
    pub expected: Option<Vec<u8>>,
    pub time_limit_ms: Option<u64>,
    pub wall_limit_ms: Option<u64>,
    pub memory_limit_kib: Option<u64>,
}

impl Submission {
    /// 2 when the submission uses a field of version 2, else 1.
    pub fn version(&self) -> u8 {
        let v2 = !self.files.is_empty()
            || self.entry.is_some()
            || !self.compile_options.is_empty()
            || !self.tests.is_empty()
            || self.checker.is_some()
            || self.interactor.is_some()
            || self.stop_on_first_failure;
        if v2 {
            2
        } else {
            1
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(if self.version() == 2 {
            MAGIC_V2
        } else {
            MAGIC_V1
        });
        if let Some(l) = self.language {
            w.scalar("language", l.name());
        }
        limits(
            &mut w,
            "",
            self.time_limit_ms,
            self.wall_limit_ms,
            self.memory_limit_kib,
        );
        for a in &self.args {
            w.blob("arg", a);
        }
        if !self.source.is_empty() || self.files.is_empty() {
            w.blob("source", &self.source);
        }
        for f in &self.files {
            w.scalar("file_name", &f.name)
                .blob("file_content", &f.content);
        }
        if let Some(e) = &self.entry {
            w.scalar("entry", e);
        }
        for o in &self.compile_options {
            w.blob("compile_option", o.as_bytes());
        }
        w.blob("stdin", &self.stdin);
        if let Some(e) = &self.expected {
            w.blob("expected", e);
        }
        for t in &self.tests {
            w.scalar("test", &t.name).blob("test_stdin", &t.stdin);
            if let Some(e) = &t.expected {
                w.blob("test_expected", e);
            }
            limits(
                &mut w,
                "test_",
                t.time_limit_ms,
                t.wall_limit_ms,
                t.memory_limit_kib,
            );
        }
        if let Some(c) = &self.checker {
            w.scalar("checker", c.spec());
            if let Checker::Custom(p) = c {
                w.scalar("checker_language", p.language.name())
                    .blob("checker_source", &p.source);
            }
        }
        if let Some(p) = &self.interactor {
            w.scalar("interactor_language", p.language.name())
                .blob("interactor_source", &p.source);
        }
        if self.stop_on_first_failure {
            w.scalar("stop_on_first_failure", 1);
        }
        w.finish()
    }

    /// The tests to run: the submission's, or one made of `stdin` and `expected`.
    pub fn test_cases(&self) -> Vec<TestCase> {
        if !self.tests.is_empty() {
            return self.tests.clone();
        }
        vec![TestCase {
            name: "1".into(),
            stdin: self.stdin.clone(),
            expected: self.expected.clone(),
            ..TestCase::default()
        }]
    }
}

fn limits(w: &mut Writer, prefix: &str, cpu: Option<u64>, wall: Option<u64>, mem: Option<u64>) {
    for (name, v) in [
        ("time_limit_ms", cpu),
        ("wall_limit_ms", wall),
        ("memory_limit_kib", mem),
    ] {
        if let Some(v) = v {
            w.scalar(&format!("{prefix}{name}"), v);
        }
    }
}

/// Parses a limit field of a submission or a test.
pub(crate) fn limit(name: &str, v: &str) -> Result<Option<u64>, String> {
    number(name, v).map(Some)
}

/// The blob fields of a submission.
pub(crate) const BLOBS: &[&str] = &[
    "arg",
    "source",
    "stdin",
    "expected",
    "file_content",
    "compile_option",
    "test_stdin",
    "test_expected",
    "checker_source",
    "interactor_source",
];

/// The fields every version knows, for the decoder.
pub(crate) fn open<'a>(bytes: &'a [u8], magics: &[&str]) -> Result<Reader<'a>, String> {
    Reader::open(bytes, magics, BLOBS).map(|(r, _)| r)
}

/// A field a decoder does not know.
pub(crate) fn unknown(f: &Field<'_>) -> String {
    let (Field::Scalar(name, _) | Field::Blob(name, _)) = f;
    format!(
        "unknown field {:?}",
        kennel_common::protocol::printable_excerpt(name.as_bytes())
    )
}
