//! A run as Judge0 shows a submission: the fields asked for (`fields=`, `*` for all, else
//! Judge0's default eight), the status by Judge0's ids, times as strings of seconds, memory in
//! KB, and the texts in base64 when asked — or, when not and a text is not UTF-8, Judge0's
//! conversion error instead of a mangled text.

use std::time::{SystemTime, UNIX_EPOCH};

use kennel_runner::{RunResult, Verdict};
use serde_json::{json, Map, Value};

use super::languages::by_id;
use super::request::{encode_base64, Fields};
use crate::store::{uuid_of, Record, RunState};

/// Every field a submission has (Judge0 1.13.1's serializer), in its order.
pub const ALL_FIELDS: [&str; 35] = [
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "wall_time",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "status",
    "language",
];

/// The fields shown when none are asked for.
pub const DEFAULT_FIELDS: [&str; 8] = [
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
];

/// The fields `fields=` asks for, or the names it gets wrong (Judge0's 400).
pub fn requested(fields: Option<&str>) -> Result<Vec<&'static str>, String> {
    let asked: Vec<&str> = fields
        .unwrap_or("")
        .split(',')
        .filter(|f| !f.is_empty())
        .collect();
    let bad: Vec<&str> = asked
        .iter()
        .copied()
        .filter(|f| *f != "*" && !ALL_FIELDS.contains(f))
        .collect();
    if !bad.is_empty() {
        return Err(format!("invalid fields: [{}]", bad.join(", ")));
    }
    if asked.contains(&"*") {
        return Ok(ALL_FIELDS.to_vec());
    }
    let chosen: Vec<&'static str> = ALL_FIELDS
        .iter()
        .copied()
        .filter(|f| asked.contains(f))
        .collect();
    Ok(if chosen.is_empty() {
        DEFAULT_FIELDS.to_vec()
    } else {
        chosen
    })
}

/// Judge0's status for a run's state: `(id, description)`.
pub fn status(state: &RunState) -> u32 {
    match state {
        RunState::Queued => 1,
        RunState::Running => 2,
        RunState::Failed(_) => 13,
        RunState::Done(r) => status_of(r.verdict, signal_of(r)),
    }
}

fn status_of(v: Verdict, signal: Option<i32>) -> u32 {
    match v {
        Verdict::Accepted => 3,
        Verdict::WrongAnswer => 4,
        Verdict::TimeLimit => 5,
        Verdict::CompileError => 6,
        Verdict::OutputLimit => 8,
        Verdict::MemoryLimit => 12,
        Verdict::RuntimeError => match signal {
            Some(11) => 7,
            Some(25) => 8,
            Some(8) => 9,
            Some(6) => 10,
            Some(_) => 12,
            None => 11,
        },
        Verdict::InternalError | Verdict::Skipped => 13,
    }
}

/// The run that speaks for the submission with `number_of_runs` > 1: the first that
/// failed, else the first; `None` for a single run.
fn speaker(r: &RunResult) -> Option<&kennel_runner::TestResult> {
    r.tests
        .iter()
        .find(|t| t.verdict == r.verdict)
        .or(r.tests.first())
}

fn signal_of(r: &RunResult) -> Option<i32> {
    speaker(r).map_or(r.signal, |t| t.signal)
}

/// What a finished run shows, in Judge0's terms.
struct Shown<'a> {
    compile_error: bool,
    stdout: &'a [u8],
    stderr: &'a [u8],
    exit_code: Option<i32>,
    exit_signal: Option<i32>,
    /// Seconds of CPU and of wall clock, averaged over the runs; KB, the largest.
    time: Option<f64>,
    wall_time: Option<f64>,
    memory: Option<u64>,
}

fn shown(r: &RunResult) -> Shown<'_> {
    let compiled_out = r.verdict == Verdict::CompileError;
    if let Some(t) = speaker(r) {
        let n = r
            .tests
            .iter()
            .filter(|t| t.verdict != Verdict::Skipped)
            .count()
            .max(1) as f64;
        let sum = |f: fn(&kennel_runner::TestResult) -> u64| {
            r.tests.iter().map(f).sum::<u64>() as f64 / n / 1000.0
        };
        return Shown {
            compile_error: false,
            stdout: &t.stdout,
            stderr: &t.stderr,
            exit_code: Some(t.exit_code.unwrap_or(0)),
            exit_signal: t.signal,
            time: Some(sum(|t| t.cpu_ms)),
            wall_time: Some(sum(|t| t.wall_ms)),
            memory: r.tests.iter().map(|t| t.memory_kib).max(),
        };
    }
    Shown {
        compile_error: compiled_out,
        stdout: &r.stdout,
        stderr: &r.stderr,
        // Judge0: the exit code, 0 when the program had none (killed); none after a compile error.
        exit_code: (!compiled_out).then_some(r.exit_code.unwrap_or(0)),
        exit_signal: r.signal.filter(|_| !compiled_out),
        time: (!compiled_out).then_some(r.cpu_ms as f64 / 1000.0),
        wall_time: (!compiled_out).then_some(r.wall_ms as f64 / 1000.0),
        memory: (!compiled_out).then_some(r.memory_kib),
    }
}

/// Judge0's message when Kennel's is empty (isolate's words).
fn message(r: &RunResult, s: &Shown) -> Option<String> {
    if s.compile_error {
        return None;
    }
    if !r.message.is_empty() {
        return Some(r.message.clone());
    }
    match r.verdict {
        Verdict::TimeLimit => Some("Time limit exceeded".into()),
        Verdict::RuntimeError => Some(match (s.exit_signal, s.exit_code) {
            (Some(sig), _) => format!("Caught fatal signal {sig}"),
            (None, code) => format!("Exited with error status {}", code.unwrap_or(1)),
        }),
        _ => None,
    }
}

/// A text is not UTF-8 and base64 was not asked (Judge0's conversion error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8;

/// A text field: base64 when asked; else the text, or `Err` when it is not UTF-8.
fn text(b: &[u8], base64: bool) -> Result<Value, NotUtf8> {
    if base64 {
        return Ok(Value::String(encode_base64(b)));
    }
    std::str::from_utf8(b)
        .map(|t| Value::String(t.to_string()))
        .map_err(|_| NotUtf8)
}

fn opt_text(b: Option<&[u8]>, base64: bool) -> Result<Value, NotUtf8> {
    b.map_or(Ok(Value::Null), |b| text(b, base64))
}

/// The submission as JSON, or `Err` when a text is not UTF-8 and base64 was not asked.
pub fn document(
    id: &str,
    rec: &Record,
    fields: &[&str],
    base64: bool,
) -> Result<Map<String, Value>, NotUtf8> {
    let none = Fields::default();
    let f = rec
        .attachment
        .as_ref()
        .and_then(|a| a.downcast_ref::<Fields>())
        .unwrap_or(&none);
    let result = match &rec.state {
        RunState::Done(r) => Some(r.as_ref()),
        _ => None,
    };
    let s = result.map(shown);
    let status_id = status(&rec.state);
    let msg = match (&rec.state, result, &s) {
        (RunState::Failed(e), _, _) => Some(e.message.clone()),
        (_, Some(r), Some(s)) => message(r, s),
        _ => None,
    };
    let mut out = Map::new();
    for &name in fields {
        let v = match name {
            "source_code" => opt_text(f.source_code.as_deref(), base64)?,
            "stdin" => opt_text(f.stdin.as_deref(), base64)?,
            "expected_output" => opt_text(f.expected_output.as_deref(), base64)?,
            // Judge0 shows an empty output as null, and none at all after a compile error.
            "stdout" => opt_text(s.as_ref().filter(|s| !s.compile_error).map(|s| s.stdout).filter(|o| !o.is_empty()), base64)?,
            "stderr" => opt_text(s.as_ref().filter(|s| !s.compile_error).map(|s| s.stderr).filter(|o| !o.is_empty()), base64)?,
            "compile_output" => opt_text(result.map(|r| &r.compile_output[..]).filter(|c| !c.is_empty()), base64)?,
            "message" => opt_text(msg.as_deref().map(str::as_bytes), base64)?,
            "additional_files" => f.additional_files.as_deref().map_or(Value::Null, |z| encode_base64(z).into()),
            "status" => json!({"id": status_id, "description": description(status_id)}),
            "status_id" => json!(status_id),
            "language" => f.language_id.and_then(by_id).map_or(Value::Null, |l| {
                json!({"id": l.id, "name": crate::toolchains::known().map_or(l.judge0_name.to_string(), |t| super::languages::name(l, t))})
            }),
            "token" => json!(uuid_of(id)),
            "created_at" => json!(timestamp(rec.created_at)),
            "finished_at" => rec.finished_at.map_or(Value::Null, |t| json!(timestamp(t))),
            "time" => s.as_ref().and_then(|s| s.time).map_or(Value::Null, |t| json!(format!("{t:.3}"))),
            "wall_time" => s.as_ref().and_then(|s| s.wall_time).map_or(Value::Null, |t| json!(format!("{t:.3}"))),
            "memory" => json!(s.as_ref().and_then(|s| s.memory)),
            "exit_code" => json!(s.as_ref().and_then(|s| s.exit_code)),
            "exit_signal" => json!(s.as_ref().and_then(|s| s.exit_signal)),
            other => echo(f, other),
        };
        out.insert(name.to_string(), v);
    }
    Ok(out)
}

/// A request field as the submission was taken (defaults filled in).
fn echo(f: &Fields, name: &str) -> Value {
    let secs = |v: Option<f64>| v.map_or(Value::Null, |x| json!(format!("{x:.1}")));
    let int = |v: Option<f64>| json!(v.map(|x| x as i64));
    match name {
        "language_id" => json!(f.language_id),
        "number_of_runs" => int(f.number_of_runs),
        "cpu_time_limit" => secs(f.cpu_time_limit),
        "cpu_extra_time" => secs(f.cpu_extra_time),
        "wall_time_limit" => secs(f.wall_time_limit),
        "memory_limit" => int(f.memory_limit),
        "stack_limit" => int(f.stack_limit),
        "max_processes_and_or_threads" => int(f.max_processes_and_or_threads),
        "max_file_size" => int(f.max_file_size),
        "enable_per_process_and_thread_time_limit" => {
            json!(f.enable_per_process_and_thread_time_limit)
        }
        "enable_per_process_and_thread_memory_limit" => {
            json!(f.enable_per_process_and_thread_memory_limit)
        }
        "redirect_stderr_to_stdout" => json!(f.redirect_stderr_to_stdout),
        "enable_network" => json!(f.enable_network),
        "compiler_options" => json!(f.compiler_options),
        "command_line_arguments" => json!(f.command_line_arguments),
        "callback_url" => json!(f.callback_url),
        _ => Value::Null,
    }
}

fn description(id: u32) -> &'static str {
    super::languages::STATUSES
        .iter()
        .find(|(i, _)| *i == id)
        .map_or("Internal Error", |(_, d)| d)
}

/// `2026-12-05T06:10:00.123Z`, as Rails writes a time.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let c = kennel_common::calendar::civil_from_unix(d.as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_judge0s_signal_table() {
        assert_eq!(status_of(Verdict::RuntimeError, Some(11)), 7);
        assert_eq!(status_of(Verdict::RuntimeError, Some(8)), 9);
        assert_eq!(status_of(Verdict::RuntimeError, Some(6)), 10);
        assert_eq!(status_of(Verdict::RuntimeError, Some(9)), 12);
        assert_eq!(status_of(Verdict::RuntimeError, None), 11);
        assert_eq!(status_of(Verdict::TimeLimit, Some(9)), 5);
    }

    #[test]
    fn fields_default_all_or_named_and_bad_names_are_listed() {
        assert_eq!(requested(None).unwrap(), DEFAULT_FIELDS);
        assert_eq!(requested(Some("*")).unwrap().len(), 35);
        assert_eq!(
            requested(Some("stdout,token")).unwrap(),
            ["stdout", "token"]
        );
        assert_eq!(
            requested(Some("stdout,nope,x")).unwrap_err(),
            "invalid fields: [nope, x]"
        );
    }

    #[test]
    fn timestamps_are_rails_shaped() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_796_450_400_123);
        assert_eq!(timestamp(t), "2026-12-05T06:00:00.123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
