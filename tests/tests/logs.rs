//! `--log-format json`: every line of every process (the watchdog and the children it starts)
//! is one JSON object with the documented fields.

use std::time::Duration;

use kennel_tests::{wait_for, Instance};
use serde_json::Value;

#[test]
fn json_logs_are_one_object_per_line_from_every_process() {
    let inst = Instance::start("logs-json", 2, &["--log-format", "json"]);
    // A worker's death and restart, so that worker lines and watchdog lines are both there.
    kennel_tests::signal(inst.worker_pid(1), nix::sys::signal::Signal::SIGKILL);
    wait_for("the restart logged", Duration::from_secs(10), || {
        inst.log_text().contains("restarted (pid")
    });
    let log = inst.log_text();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for v in &lines {
        for field in ["time", "level", "process", "pid", "slot", "message"] {
            assert!(v.get(field).is_some(), "{field} missing: {v}");
        }
    }
    let processes: std::collections::HashSet<&str> =
        lines.iter().filter_map(|v| v["process"].as_str()).collect();
    for p in ["watchdog", "dispatcher", "worker 0", "worker 1"] {
        assert!(processes.contains(p), "no line from {p}: {processes:?}");
    }
    assert!(lines
        .iter()
        .any(|v| v["process"] == "worker 1" && v["slot"] == 1));
    assert!(
        lines
            .iter()
            .any(|v| v["level"] == "WARN"
                && v["message"].as_str().unwrap().contains("died: signal 9"))
    );
}

#[test]
fn events_follow_prints_state_changes_as_they_happen() {
    use std::io::BufRead;
    let inst = Instance::start("events", 2, &[]);
    let mut child = std::process::Command::new(kennel_tests::bin("kennelctl"))
        .arg("--runtime-dir")
        .arg(&inst.dir)
        .args(["events", "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
            );
        }
    });
    let expect = |who: &str, what: &str| loop {
        let v = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no event {who}: {what}"));
        if v["who"] == who && v["event"].as_str().unwrap_or("").contains(what) {
            return v;
        }
    };
    // Nothing happens before events has its first snapshot (it says "following").
    expect("events", "following");
    kennel_tests::signal(inst.worker_pid(0), nix::sys::signal::Signal::SIGKILL);
    let v = expect("worker 0", "restarted");
    assert!(v["event"].as_str().unwrap().contains("signal 9"), "{v}");
    assert!(inst.kennelctl(&["stop", "worker", "1"]).status.success());
    expect("worker 1", "now stopped");
    // Without --follow: what the segment remembers, not the status table.
    let past = inst.kennelctl(&["events", "--json"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&past.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let w0 = lines
        .iter()
        .find(|v| v["who"] == "worker 0")
        .expect("worker 0");
    let said = w0["event"].as_str().unwrap();
    assert!(
        said.contains("restarted once") && said.contains("signal 9"),
        "{said}"
    );
    assert!(inst.kennelctl(&["shutdown"]).status.success());
    expect("instance", "the watchdog is gone");
    assert!(kennel_tests::wait_with_timeout(&mut child, Duration::from_secs(10)).is_some());
}

#[test]
fn log_file_gathers_every_process_in_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let path = kennel_tests::fresh_dir("logfile").with_extension("txt");
    let p = path.to_str().unwrap().to_string();
    let inst = Instance::start("logfile-inst", 1, &["--log-file", &p]);
    wait_for(
        "the worker's ready line in the file",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .contains("worker 0[")
        },
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("watchdog[") && text.contains("dispatcher["),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        inst.log_text().is_empty(),
        "nothing left on stderr: {}",
        inst.log_text()
    );
    drop(inst);
    let _ = std::fs::remove_file(&path);
}
