//! `kennel-client run FILE`: submits a program to the program runner and shows its result —
//! the program's stdout on stdout, its stderr (and any compiler output) on stderr, one
//! verdict line on stderr; or the whole result as one JSON object (`--json`). The exit
//! status says the verdict (docs/RUNNER.md: 0 accepted, 3 time limit, 4 memory limit,
//! 5 output limit, 6 runtime error, 7 compile error, 8 wrong answer, 9 internal error; 1 the
//! client could not get a result, 2 bad flags).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use kennel_options::shared::Format;
use kennel_runner::{Language, RunResult, Submission};

use crate::{Client, ClientConfig};

pub use super::run_args::RunArgs;

/// Exit status when no result could be had.
const EXIT_FAILED: i32 = 1;
const EXIT_USAGE: i32 = 2;

/// Runs the subcommand against the dispatcher at `dispatcher`.
pub fn main_with(dispatcher: std::net::SocketAddr, a: RunArgs, format: Format) -> i32 {
    let (lang, sub) = match super::run_files::submission(&a) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kennel-client: {e}");
            return EXIT_USAGE;
        }
    };
    let mut cfg = ClientConfig::new(dispatcher);
    // A run takes its wall time plus a compile: wait for the answer accordingly.
    let runs = sub.tests.len().max(1) as u32 * if sub.checker.is_some() { 2 } else { 1 };
    cfg.answer_timeout =
        a.wall_limit.unwrap_or(Duration::from_secs(30)) * runs + Duration::from_secs(60);
    let result = Client::connect(cfg)
        .and_then(|mut c| c.request(lang.name(), &sub.encode()))
        .map_err(|e| e.to_string())
        .and_then(|answer| {
            RunResult::decode(&answer.body).map_err(|e| format!("an unreadable result: {e}"))
        });
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kennel-client: {}: {e}", a.files[0].display());
            return EXIT_FAILED;
        }
    };
    let mut result = result;
    if format == Format::Text {
        if sub.files.is_empty() {
            name_the_user_s_file(&mut result, lang, &sub, &a.files[0]);
        }
        if sub.stdin.is_empty() && result.verdict == kennel_runner::Verdict::RuntimeError {
            // The commonest first failure: a program that reads input, given none.
            result.message = match result.message.as_str() {
                "" => "stdin was empty".into(),
                m => format!("{m}; stdin was empty"),
            };
        }
    }
    show(&result, format);
    result.verdict.exit_status()
}

/// The compiler's and the interpreter's diagnostics name the file as the sandbox holds it
/// (`main.c`, `/work/main.py`); people know it by their own name. (Text output only: the
/// JSON result stays the server's, byte for byte.)
fn name_the_user_s_file(r: &mut RunResult, lang: Language, sub: &Submission, file: &Path) {
    let Some(mine) = file.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let theirs = lang.source_name(&sub.source);
    if mine == theirs {
        return;
    }
    // Text only: bytes that are not UTF-8 pass through untouched.
    let rename = |text: &[u8]| -> Vec<u8> {
        match std::str::from_utf8(text) {
            Ok(t) => t
                .replace(&format!("/work/{theirs}"), &mine)
                .replace(&format!("{theirs}:"), &format!("{mine}:"))
                .into_bytes(),
            Err(_) => text.to_vec(),
        }
    };
    r.compile_output = rename(&r.compile_output);
    r.stderr = rename(&r.stderr);
}

fn show(r: &RunResult, format: Format) {
    match format {
        Format::Json => match serde_json::to_string(r) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("kennel-client: {e}"),
        },
        Format::Text => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&r.stdout);
            let _ = out.flush();
            for t in &r.tests {
                let _ = writeln!(out, "{}", t.line());
            }
            let _ = out.flush();
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&r.compile_output);
            let _ = err.write_all(&r.stderr);
            if r.stdout_truncated || r.stderr_truncated {
                let _ = writeln!(err, "-- output cut at the server's limit");
            }
            let _ = writeln!(err, "{}", r.summary_line());
        }
    }
}
