//! A run as Piston answers it: `{language, version, run, compile}`, each stage with
//! `stdout`, `stderr`, `output`, `code`, `signal`, `message`, `status` (isolate's `TO`, `RE`,
//! `SG`, `OL`, `XX`), `cpu_time` and `wall_time` in ms, `memory` in bytes. A compile that
//! failed is also shown as `run`, as Piston does for clients that only read `run`.

use kennel_runner::{RunResult, Verdict};
use serde_json::{json, Value};

use super::runtimes::Runtime;

/// Signal names, as Piston gives them.
fn signal_name(sig: i32) -> Value {
    let name = nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str().to_string());
    name.map_or(Value::Null, Value::String)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The run stage.
fn run_stage(r: &RunResult) -> Value {
    let (status, message, signal) = match r.verdict {
        Verdict::Accepted | Verdict::WrongAnswer => (None, None, r.signal),
        Verdict::TimeLimit => (Some("TO"), Some("Time limit exceeded".to_string()), Some(9)),
        Verdict::OutputLimit => (
            Some("OL"),
            Some("stdout length exceeded".to_string()),
            Some(9),
        ),
        Verdict::RuntimeError | Verdict::MemoryLimit => match r.signal {
            Some(sig) => (
                Some("SG"),
                Some(format!("Caught fatal signal {sig}")),
                Some(sig),
            ),
            None => (
                Some("RE"),
                Some(format!(
                    "Exited with error status {}",
                    r.exit_code.unwrap_or(1)
                )),
                None,
            ),
        },
        Verdict::InternalError | Verdict::CompileError | Verdict::Skipped => {
            (Some("XX"), Some(r.message.clone()), None)
        }
    };
    let message = match (message, r.message.is_empty()) {
        (Some(m), true) => Some(m),
        (Some(_), false) | (None, false) => Some(r.message.clone()),
        (None, true) => None,
    };
    json!({
        "stdout": text(&r.stdout),
        "stderr": text(&r.stderr),
        "output": text(&r.stdout) + &text(&r.stderr),
        "code": if signal.is_some() { None } else { r.exit_code },
        "signal": signal.map_or(Value::Null, signal_name),
        "message": message,
        "status": status,
        "cpu_time": r.cpu_ms,
        "wall_time": r.wall_ms,
        "memory": r.memory_kib * 1024,
    })
}

/// The compile stage (compiled languages only).
fn compile_stage(r: &RunResult) -> Value {
    let failed = r.verdict == Verdict::CompileError;
    let out = text(&r.compile_output);
    json!({
        "stdout": "",
        "stderr": out,
        "output": out,
        "code": if failed { 1 } else { 0 },
        "signal": null,
        "message": if failed { Some(r.message.clone()).filter(|m| !m.is_empty()) } else { None },
        "status": if failed { Some("RE") } else { None },
        "cpu_time": null,
        "wall_time": null,
        "memory": null,
    })
}

/// The whole answer.
pub fn document(rt: &Runtime, r: &RunResult) -> Value {
    let mut doc = json!({"language": rt.language, "version": rt.version});
    if rt.kennel.compiled() {
        let compile = compile_stage(r);
        doc["run"] = if r.verdict == Verdict::CompileError {
            compile.clone()
        } else {
            run_stage(r)
        };
        doc["compile"] = compile;
    } else {
        doc["run"] = run_stage(r);
    }
    doc
}
