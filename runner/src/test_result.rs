//! What one test of a graded submission did, and its fields in version 2 of the result on the
//! framed wire: `test NAME` opens an entry, the `test_*` fields after it belong to it.

use serde::Serialize;

use crate::fields::{number, Field, Writer};
use crate::status::{lossy, TimeKind, Verdict};

/// One test's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub name: String,
    pub verdict: Verdict,
    pub time_limit: Option<TimeKind>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_kib: u64,
    #[serde(serialize_with = "lossy")]
    pub stdout: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// Why, when the verdict needs a sentence (for a wrong answer: where the output differs).
    pub message: String,
}

impl TestResult {
    pub fn new(name: &str, verdict: Verdict) -> TestResult {
        TestResult {
            name: name.to_string(),
            verdict,
            time_limit: None,
            exit_code: None,
            signal: None,
            cpu_ms: 0,
            wall_ms: 0,
            memory_kib: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            message: String::new(),
        }
    }

    /// Keeps at most `cap` bytes of each output (a result of many tests stays small).
    pub fn cap_output(&mut self, cap: usize) {
        if self.stdout.len() > cap {
            self.stdout.truncate(cap);
            self.stdout_truncated = true;
        }
        if self.stderr.len() > cap {
            self.stderr.truncate(cap);
            self.stderr_truncated = true;
        }
    }

    /// One line for people: `test 01: wrong answer · line 2: expected "4", got "5"`.
    pub fn line(&self) -> String {
        let mut parts = vec![match self.time_limit {
            Some(TimeKind::Cpu) => "time limit (cpu)".to_string(),
            Some(TimeKind::Wall) => "time limit (wall)".to_string(),
            None => self.verdict.name().replace('_', " "),
        }];
        if self.verdict != Verdict::Skipped {
            parts.push(format!("cpu {} ms", self.cpu_ms));
            parts.push(format!("mem {:.1} MiB", self.memory_kib as f64 / 1024.0));
        }
        if !self.message.is_empty() {
            parts.push(self.message.clone());
        }
        format!("test {}: {}", self.name, parts.join(" · "))
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        let opt = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        w.scalar("test", &self.name)
            .scalar("test_verdict", self.verdict.name());
        if let Some(k) = self.time_limit {
            w.scalar("test_time_limit", k.name());
        }
        w.scalar("test_exit_code", opt(self.exit_code))
            .scalar("test_signal", opt(self.signal))
            .scalar("test_cpu_ms", self.cpu_ms)
            .scalar("test_wall_ms", self.wall_ms)
            .scalar("test_memory_kib", self.memory_kib)
            .scalar("test_stdout_truncated", u8::from(self.stdout_truncated))
            .scalar("test_stderr_truncated", u8::from(self.stderr_truncated))
            .blob("test_message", self.message.as_bytes())
            .blob("test_stdout", &self.stdout)
            .blob("test_stderr", &self.stderr);
    }
}

/// The result's blob fields that belong to a test.
pub(crate) const BLOBS: [&str; 3] = ["test_message", "test_stdout", "test_stderr"];

/// Reads a `test*` field into `tests` (a `test` opens an entry); false if `f` is not one.
pub(crate) fn decode_field(tests: &mut Vec<TestResult>, f: &Field<'_>) -> Result<bool, String> {
    if let Field::Scalar("test", name) = *f {
        tests.push(TestResult::new(name, Verdict::InternalError));
        return Ok(true);
    }
    let name = match *f {
        Field::Scalar(n, _) | Field::Blob(n, _) => n,
    };
    if !name.starts_with("test_") {
        return Ok(false);
    }
    let t = tests
        .last_mut()
        .ok_or_else(|| format!("{name} before any test"))?;
    let opt = |n: &str, v: &str| -> Result<Option<i32>, String> {
        if v == "-" {
            Ok(None)
        } else {
            number(n, v).map(Some)
        }
    };
    match *f {
        Field::Scalar("test_verdict", v) => {
            t.verdict = Verdict::from_name(v).ok_or(format!("unknown verdict {v:?}"))?
        }
        Field::Scalar("test_time_limit", v) => t.time_limit = TimeKind::from_name(v),
        Field::Scalar("test_exit_code", v) => t.exit_code = opt("test_exit_code", v)?,
        Field::Scalar("test_signal", v) => t.signal = opt("test_signal", v)?,
        Field::Scalar("test_cpu_ms", v) => t.cpu_ms = number("test_cpu_ms", v)?,
        Field::Scalar("test_wall_ms", v) => t.wall_ms = number("test_wall_ms", v)?,
        Field::Scalar("test_memory_kib", v) => t.memory_kib = number("test_memory_kib", v)?,
        Field::Scalar("test_stdout_truncated", v) => t.stdout_truncated = v == "1",
        Field::Scalar("test_stderr_truncated", v) => t.stderr_truncated = v == "1",
        Field::Blob("test_message", b) => t.message = String::from_utf8_lossy(b).into_owned(),
        Field::Blob("test_stdout", b) => t.stdout = b.to_vec(),
        Field::Blob("test_stderr", b) => t.stderr = b.to_vec(),
        // A test field of a later version: skipped, as the result's own are.
        _ => {}
    }
    Ok(true)
}
