//! The clients people already use, unchanged, against Kennel: Judge0's official Python SDK
//! (PyPI `judge0`) and npm's `piston-client`, each running its cases (tests/compat/) against
//! an instance started as root and as `nobody`: hello world in C, C++, Java and Python,
//! stdin, a wrong answer, a time limit, a compile error, a crash, a non-zero exit, batches.
//!
//! Named `compat_*`: scripts/test.sh installs the SDK into target/pytools and piston-client
//! into target/jstools, and passes their paths in KENNEL_JUDGE0_PYTHON and
//! KENNEL_PISTON_CLIENT_DIR; without them these tests are skipped and counted as skipped there.
//! They run programs, so they need the sandbox too.

use std::path::Path;
use std::process::Command;

use std::time::Duration;

use kennel_tests::as_user::{everyone, start, status_as, Who};
use kennel_tests::{wait_for, Instance};

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("compat")
        .join(name)
        .display()
        .to_string()
}

/// The gateway's URL, once it serves (read as `who`: the instance may be `nobody`'s).
fn url(inst: &Instance, who: Who) -> String {
    let addr = std::cell::RefCell::new(String::new());
    wait_for("the gateway to serve", Duration::from_secs(20), || {
        let s = status_as(inst, who);
        match s["gateway"]["address"].as_str() {
            Some(a) if s["gateway"]["state"] == "ready" => {
                *addr.borrow_mut() = a.to_string();
                true
            }
            _ => false,
        }
    });
    format!("http://{}", addr.borrow())
}

/// Every `ok NAME` line the client printed, after checking it succeeded.
fn passed(what: &str, out: std::process::Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .map(String::from)
        .collect()
}

#[test]
fn compat_sandbox_judge0_python_sdk_runs_unchanged() {
    let python = std::env::var("KENNEL_JUDGE0_PYTHON").expect(
        "KENNEL_JUDGE0_PYTHON names a Python with the judge0 SDK (scripts/test.sh sets it)",
    );
    for who in everyone() {
        let inst = start(
            "judge0-sdk",
            who,
            2,
            &["--http", "127.0.0.1:0", "--http-rate", "1000"],
            None,
        );
        let url = url(&inst, who);
        let out = Command::new(&python)
            .arg(script("judge0_sdk.py"))
            .arg(&url)
            .output()
            .expect("python starts");
        let ok = passed(&format!("the Judge0 SDK as {who:?}"), out);
        for case in [
            "hello C",
            "hello CPP",
            "hello JAVA",
            "hello PYTHON",
            "wrong answer",
            "time limit",
            "compile error",
            "segfault",
            "batch 2",
            "test cases",
        ] {
            assert!(
                ok.iter().any(|c| c == case),
                "{case} not passed as {who:?}: {ok:?}"
            );
        }
    }
}

#[test]
fn compat_sandbox_piston_client_runs_unchanged() {
    let dir = std::env::var("KENNEL_PISTON_CLIENT_DIR").expect(
        "KENNEL_PISTON_CLIENT_DIR names a directory with piston-client installed (scripts/test.sh sets it)",
    );
    // Node resolves the import from the script's own directory: a copy goes beside the package.
    let copy = Path::new(&dir).join("piston_client.mjs");
    std::fs::copy(script("piston_client.mjs"), &copy).expect("copy the script");
    for who in everyone() {
        let inst = start(
            "piston-client",
            who,
            2,
            &["--http", "127.0.0.1:0", "--http-rate", "1000"],
            None,
        );
        let url = url(&inst, who);
        let out = Command::new("node")
            .arg(&copy)
            .arg(&url)
            .output()
            .expect("node starts");
        let ok = passed(&format!("piston-client as {who:?}"), out);
        for case in [
            "runtimes",
            "hello c",
            "hello c++",
            "hello java",
            "hello python",
            "stdin",
            "time limit",
            "compile error",
            "segfault",
            "unknown version",
        ] {
            assert!(
                ok.iter().any(|c| c == case),
                "{case} not passed as {who:?}: {ok:?}"
            );
        }
    }
}
