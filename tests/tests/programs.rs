//! The program runner end to end: the real watchdog, dispatcher and workers, `kennel-client
//! run` and a bare student-style client, over real sockets. (The sandbox's own hostile-program
//! tests are in runner/tests/.) Every test is named `sandbox_*`: scripts/test.sh skips and
//! counts them when bubblewrap or a toolchain could not be installed.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use kennel_tests::{bin, fresh_dir, wait_for, Instance};

fn write(dir: &PathBuf, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn client_run(inst: &Instance, args: &[&str]) -> Output {
    Command::new(bin("kennel-client"))
        .arg("--runtime-dir")
        .arg(&inst.dir)
        .arg("run")
        .args(args)
        .output()
        .expect("kennel-client runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const HELLO_C: &str = "#include <stdio.h>\nint main(void){puts(\"Hello, world\");return 0;}\n";

#[test]
fn sandbox_kennel_client_run_shows_output_verdict_and_exit_status() {
    let inst = Instance::start("run-client", 2, &[]);
    let files = fresh_dir("run-client-files");
    let hello = write(&files, "hello.c", HELLO_C);
    let out = client_run(&inst, &[hello.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "Hello, world\n");
    let err = text(&out.stderr);
    assert!(err.starts_with("-- accepted · exit 0 · cpu "), "{err}");
    assert!(err.contains(" · worker "), "{err}");
    assert_eq!(out.status.code(), Some(0));
    let again = client_run(&inst, &[hello.to_str().unwrap()]);
    assert!(
        text(&again.stderr).contains("cached compile"),
        "{}",
        text(&again.stderr)
    );

    let sum = write(
        &files,
        "sum.py",
        "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
    );
    let input = write(&files, "input.txt", "3 4\n");
    let args = [
        sum.to_str().unwrap(),
        "--stdin",
        input.to_str().unwrap(),
        "--time-limit",
        "2s",
        "--json",
    ];
    let out = client_run(&inst, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["stdout"], "7\n");
    assert_eq!(v["time_limit_ms"], 2000);
    for field in [
        "exit_code",
        "signal",
        "stderr",
        "compile_output",
        "stdout_truncated",
        "stderr_truncated",
        "cpu_ms",
        "wall_ms",
        "memory_kib",
        "worker",
        "language",
        "cached_compile",
    ] {
        assert!(v.get(field).is_some(), "missing {field} in {v}");
    }

    let spin = write(
        &files,
        "loop.cpp",
        "int main(){ volatile long x = 0; for(;;) x++; }\n",
    );
    let out = client_run(&inst, &[spin.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        err.contains("-- time limit (cpu) · killed after 1000 ms cpu · worker "),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(3));

    let expected = write(&files, "expected.txt", "8\n");
    let out = client_run(
        &inst,
        &[
            sum.to_str().unwrap(),
            "--stdin",
            input.to_str().unwrap(),
            "--expected",
            expected.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(8),
        "wrong answer: {}",
        text(&out.stderr)
    );
    inst.assert_check_ok();
}

#[test]
fn sandbox_a_bare_client_sends_the_source_and_half_closes() {
    let inst = Instance::start("run-bare", 1, &[]);
    let mut control = TcpStream::connect(inst.addr).unwrap();
    control
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    control.write_all(b"python").unwrap();
    let mut buf = [0u8; 64];
    let n = control.read(&mut buf).unwrap();
    let port: u16 = text(&buf[..n]).parse().expect("a bare port");
    let mut w = TcpStream::connect((inst.addr.ip(), port)).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    w.write_all(b"print('hi from a ten-line script')\n")
        .unwrap();
    w.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    w.read_to_end(&mut answer).unwrap();
    let answer = text(&answer);
    assert!(
        answer.starts_with("hi from a ten-line script\n-- accepted · exit 0"),
        "{answer}"
    );
    assert!(answer.ends_with('\n'));
}

#[test]
fn sandbox_what_cannot_be_run_is_refused_with_a_reason_and_nothing_changes() {
    let inst = Instance::start("run-refused", 1, &["--max-payload", "1048576"]);
    let files = fresh_dir("run-refused-files");
    let big = files.join("big.c");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(&big, vec![b' '; 10 << 20]).unwrap();
    let out = client_run(&inst, &[big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("exceeds the limit"),
        "{}",
        text(&out.stderr)
    );
    let hello = write(&files, "hello.c", HELLO_C);
    let out = client_run(&inst, &[hello.to_str().unwrap(), "--time-limit", "60s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("refused: a time limit of 60000 ms is over the server's maximum of 10000 ms"),
        "{}",
        text(&out.stderr)
    );
    let out = client_run(&inst, &[hello.to_str().unwrap(), "--lang", "cobol"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let out = client_run(&inst, &[hello.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the worker serves the next request"
    );
    let s = inst.status();
    assert_eq!(s["workers"][0]["restarts"], 0, "{s}");
}

#[test]
fn sandbox_a_worker_runs_up_to_its_capacity_at_once_and_status_shows_it() {
    let inst = Instance::start("run-capacity", 1, &["--max-tasks", "2"]);
    let s = inst.status();
    let w = &s["workers"][0];
    assert_eq!(w["capacity"], 2, "{s}");
    let langs: Vec<&str> = w["languages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        langs.contains(&"python") && langs.contains(&"c"),
        "{langs:?}"
    );
    let files = fresh_dir("run-capacity-files");
    let slow = write(
        &files,
        "slow.py",
        "import time\ntime.sleep(1.5)\nprint('done')\n",
    );
    let runs: Vec<_> = (0..2)
        .map(|_| {
            Command::new(bin("kennel-client"))
                .arg("--runtime-dir")
                .arg(&inst.dir)
                .args(["run", slow.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for(
        "both programs running on the one worker",
        Duration::from_secs(10),
        || inst.status()["workers"][0]["tasks"] == 2,
    );
    assert_eq!(inst.status()["workers"][0]["state"], "busy", "full at 2/2");
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert_eq!(text(&out.stdout), "done\n", "{}", text(&out.stderr));
    }
    wait_for("the worker empty again", Duration::from_secs(5), || {
        inst.status()["workers"][0]["tasks"] == 0
    });
    assert!(
        !inst.log_text().contains("was altered"),
        "a worker at capacity took its own record for a damaged one:\n{}",
        inst.log_text()
    );
    inst.assert_check_ok();
}

#[test]
fn sandbox_a_hostile_program_harms_no_kennel_process() {
    let inst = Instance::start("run-hostile", 1, &["--wall-limit", "2s"]);
    let before = (inst.worker_pid(0), inst.dispatcher_pid());
    let files = fresh_dir("run-hostile-files");
    let bomb = write(
        &files,
        "bomb.c",
        "#include <signal.h>\n#include <unistd.h>\nint main(void){ kill(-1, SIGKILL); kill(getppid(), SIGKILL);\n\
         for(;;) fork(); }\n",
    );
    let out = client_run(&inst, &[bomb.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "time limit: {}",
        text(&out.stderr)
    );
    let hello = write(&files, "hello.c", HELLO_C);
    let out = client_run(&inst, &[hello.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "Hello, world\n", "{}", text(&out.stderr));
    assert_eq!(
        (inst.worker_pid(0), inst.dispatcher_pid()),
        before,
        "nobody was restarted"
    );
    inst.assert_check_ok();
}

/// What a person sees: their own file's name in the diagnostics, and a hint when a program
/// that failed was given no input.
#[test]
fn sandbox_diagnostics_name_the_user_s_file_and_an_empty_stdin_is_said() {
    let inst = Instance::start("run-names", 1, &[]);
    let files = fresh_dir("run-names-files");
    let sum = write(&files, "sum.py", "print(sum(map(int, input().split())))\n");
    let out = client_run(&inst, &[sum.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(err.contains("File \"sum.py\""), "{err}");
    assert!(!err.contains("/work/main.py"), "{err}");
    assert!(
        err.contains("runtime error") && err.contains("stdin was empty"),
        "{err}"
    );
    let bad = write(&files, "broken.c", "int main(void) { return x; }\n");
    let out = client_run(&inst, &[bad.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(err.contains("broken.c:1:"), "{err}");
    assert!(!err.contains("main.c:"), "{err}");
    let _ = std::fs::remove_dir_all(&files);
}

#[test]
fn sandbox_a_compile_is_held_to_the_compile_memory_limit() {
    // <bits/stdc++.h> makes cc1plus take well over 64 MiB; the same program compiles under
    // the default (1G) on the instance beside it.
    let src = "#include <bits/stdc++.h>\nint main(){std::vector<int> v{1,2};std::cout<<v.size()<<'\\n';}\n";
    let files = fresh_dir("compile-memory-files");
    let prog = write(&files, "big.cpp", src);
    let tight = Instance::start("compile-memory", 1, &["--compile-memory-limit", "64M"]);
    let out = client_run(&tight, &[prog.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        err.contains("compile_error") || err.contains("compile error"),
        "{err}"
    );
    assert_ne!(out.status.code(), Some(0), "{err}");
    drop(tight);
    let roomy = Instance::start("compile-memory-default", 1, &[]);
    let out = client_run(&roomy, &[prog.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "2\n", "{}", text(&out.stderr));
}
