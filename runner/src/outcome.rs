//! A run's result: its verdict and everything measured, as one struct that is encoded on the
//! framed wire (`encode`/`decode`), printed as JSON (serde) and summed up in one human line.

use serde::Serialize;

use crate::fields::{number, Field, Reader, Writer};

use crate::status::lossy;
pub use crate::status::{TimeKind, Verdict};
use crate::test_result::{self, TestResult};

const MAGIC_V1: &str = "KENNEL-RESULT 1";
/// Version 2 adds the tests of a graded submission (`passed`, `total`, `test …`).
const MAGIC_V2: &str = "KENNEL-RESULT 2";

/// Everything a client learns about its run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunResult {
    pub verdict: Verdict,
    /// For `time_limit`: which limit.
    pub time_limit: Option<TimeKind>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    #[serde(serialize_with = "lossy")]
    pub stdout: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub stderr: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub compile_output: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_kib: u64,
    /// The limits the run had (so "killed after N ms" can be said).
    pub time_limit_ms: u64,
    pub wall_limit_ms: u64,
    pub memory_limit_kib: u64,
    pub worker: u16,
    pub language: String,
    pub cached_compile: bool,
    /// One sentence on what happened when the verdict alone does not say it.
    pub message: String,
    /// Tests that passed, of `total` (0 and 0 for a run without tests).
    #[serde(skip_serializing_if = "is_zero")]
    pub passed: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u32,
    /// One entry per test, in the submission's order (none for a run without tests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestResult>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RunResult {
    pub fn new(verdict: Verdict, language: &str) -> RunResult {
        RunResult {
            verdict,
            time_limit: None,
            exit_code: None,
            signal: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            compile_output: Vec::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            cpu_ms: 0,
            wall_ms: 0,
            memory_kib: 0,
            time_limit_ms: 0,
            wall_limit_ms: 0,
            memory_limit_kib: 0,
            worker: 0,
            language: language.to_string(),
            cached_compile: false,
            message: String::new(),
            passed: 0,
            total: 0,
            tests: Vec::new(),
        }
    }

    /// The one line `kennel-client run` prints on stderr (and the bare style sends last).
    pub fn summary_line(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        match (self.verdict, self.time_limit) {
            (Verdict::TimeLimit, Some(TimeKind::Cpu)) => {
                parts.push("time limit (cpu)".into());
                parts.push(format!("killed after {} ms cpu", self.time_limit_ms));
            }
            (Verdict::TimeLimit, _) => {
                parts.push("time limit (wall)".into());
                parts.push(format!("killed after {} ms wall", self.wall_limit_ms));
            }
            (v, _) => {
                parts.push(v.name().replace('_', " "));
                if let Some(c) = self.exit_code {
                    parts.push(format!("exit {c}"));
                }
                if let Some(s) = self.signal {
                    let name = nix::sys::signal::Signal::try_from(s)
                        .map(|s| s.as_str())
                        .unwrap_or("?");
                    parts.push(format!("signal {s} ({name})"));
                }
                if v != Verdict::CompileError && v != Verdict::InternalError {
                    parts.push(format!("cpu {} ms", self.cpu_ms));
                    parts.push(format!("wall {} ms", self.wall_ms));
                    parts.push(format!("mem {:.1} MiB", self.memory_kib as f64 / 1024.0));
                }
            }
        }
        if !self.message.is_empty() && self.verdict != Verdict::Accepted {
            parts.push(self.message.clone());
        }
        if self.total > 0 {
            parts.push(format!("passed {}/{}", self.passed, self.total));
        }
        if self.cached_compile {
            parts.push("cached compile".into());
        }
        parts.push(format!("worker {}", self.worker));
        format!("-- {}", parts.join(" · "))
    }

    /// Version 1 unless there are tests (only a version-2 submission has them, so a client
    /// of version 1 always reads what it gets).
    pub fn encode(&self) -> Vec<u8> {
        let v2 = self.total > 0 || !self.tests.is_empty();
        let mut w = Writer::new(if v2 { MAGIC_V2 } else { MAGIC_V1 });
        let opt = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        w.scalar("verdict", self.verdict.name());
        if let Some(k) = self.time_limit {
            w.scalar("time_limit", k.name());
        }
        w.scalar("exit_code", opt(self.exit_code))
            .scalar("signal", opt(self.signal))
            .scalar("stdout_truncated", u8::from(self.stdout_truncated))
            .scalar("stderr_truncated", u8::from(self.stderr_truncated))
            .scalar("cpu_ms", self.cpu_ms)
            .scalar("wall_ms", self.wall_ms)
            .scalar("memory_kib", self.memory_kib)
            .scalar("time_limit_ms", self.time_limit_ms)
            .scalar("wall_limit_ms", self.wall_limit_ms)
            .scalar("memory_limit_kib", self.memory_limit_kib)
            .scalar("worker", self.worker)
            .scalar("language", &self.language)
            .scalar("cached_compile", u8::from(self.cached_compile))
            .blob("message", self.message.as_bytes())
            .blob("stdout", &self.stdout)
            .blob("stderr", &self.stderr)
            .blob("compile_output", &self.compile_output);
        if v2 {
            w.scalar("passed", self.passed).scalar("total", self.total);
            for t in &self.tests {
                t.encode(&mut w);
            }
        }
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<RunResult, String> {
        const BLOBS: &[&str] = &[
            "message",
            "stdout",
            "stderr",
            "compile_output",
            test_result::BLOBS[0],
            test_result::BLOBS[1],
            test_result::BLOBS[2],
        ];
        let (mut r, _) = Reader::open(bytes, &[MAGIC_V1, MAGIC_V2], BLOBS)?;
        let mut out = RunResult::new(Verdict::InternalError, "");
        let mut has_verdict = false;
        let opt = |n: &str, v: &str| -> Result<Option<i32>, String> {
            if v == "-" {
                Ok(None)
            } else {
                number(n, v).map(Some)
            }
        };
        while let Some(f) = r.next_field()? {
            if test_result::decode_field(&mut out.tests, &f)? {
                continue;
            }
            match f {
                Field::Scalar("verdict", v) => {
                    out.verdict = Verdict::from_name(v).ok_or(format!("unknown verdict {v:?}"))?;
                    has_verdict = true;
                }
                Field::Scalar("time_limit", v) => out.time_limit = TimeKind::from_name(v),
                Field::Scalar("exit_code", v) => out.exit_code = opt("exit_code", v)?,
                Field::Scalar("signal", v) => out.signal = opt("signal", v)?,
                Field::Scalar("stdout_truncated", v) => out.stdout_truncated = v == "1",
                Field::Scalar("stderr_truncated", v) => out.stderr_truncated = v == "1",
                Field::Scalar("cpu_ms", v) => out.cpu_ms = number("cpu_ms", v)?,
                Field::Scalar("wall_ms", v) => out.wall_ms = number("wall_ms", v)?,
                Field::Scalar("memory_kib", v) => out.memory_kib = number("memory_kib", v)?,
                Field::Scalar("time_limit_ms", v) => {
                    out.time_limit_ms = number("time_limit_ms", v)?
                }
                Field::Scalar("wall_limit_ms", v) => {
                    out.wall_limit_ms = number("wall_limit_ms", v)?
                }
                Field::Scalar("memory_limit_kib", v) => {
                    out.memory_limit_kib = number("memory_limit_kib", v)?
                }
                Field::Scalar("worker", v) => out.worker = number("worker", v)?,
                Field::Scalar("language", v) => out.language = v.to_string(),
                Field::Scalar("cached_compile", v) => out.cached_compile = v == "1",
                Field::Scalar("passed", v) => out.passed = number("passed", v)?,
                Field::Scalar("total", v) => out.total = number("total", v)?,
                Field::Blob("message", b) => out.message = String::from_utf8_lossy(b).into_owned(),
                Field::Blob("stdout", b) => out.stdout = b.to_vec(),
                Field::Blob("stderr", b) => out.stderr = b.to_vec(),
                Field::Blob("compile_output", b) => out.compile_output = b.to_vec(),
                // Fields of a later version are skipped: old clients keep working.
                Field::Scalar(..) | Field::Blob(..) => {}
            }
        }
        if !has_verdict {
            return Err("a result without a verdict".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_summarises() {
        let mut r = RunResult::new(Verdict::TimeLimit, "cpp");
        r.time_limit = Some(TimeKind::Cpu);
        r.signal = Some(24);
        r.stdout = vec![0xff, b'\n'];
        r.time_limit_ms = 1000;
        r.cpu_ms = 1000;
        r.worker = 2224;
        assert_eq!(RunResult::decode(&r.encode()).unwrap(), r);
        assert!(r.encode().starts_with(b"KENNEL-RESULT 1\n"));
        let mut graded = r.clone();
        graded.total = 2;
        graded.passed = 1;
        let mut t = TestResult::new("01", Verdict::WrongAnswer);
        t.stdout = b"5\n".to_vec();
        t.message = "line 1: expected \"4\", got \"5\"".into();
        graded.tests = vec![t, TestResult::new("02", Verdict::Skipped)];
        assert!(graded.encode().starts_with(b"KENNEL-RESULT 2\n"));
        assert_eq!(RunResult::decode(&graded.encode()).unwrap(), graded);
        assert!(graded.summary_line().contains("passed 1/2"));
        assert_eq!(
            r.summary_line(),
            "-- time limit (cpu) · killed after 1000 ms cpu · worker 2224"
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.starts_with("{\"verdict\":\"time_limit\""), "{json}");
        assert!(json.contains("\"stdout\":\"\u{fffd}\\n\""), "{json}");
        let statuses: std::collections::HashSet<i32> =
            Verdict::ALL.iter().map(|v| v.exit_status()).collect();
        assert_eq!(statuses.len(), Verdict::ALL.len());
        assert!(!statuses.contains(&1) && !statuses.contains(&2));
    }
}
