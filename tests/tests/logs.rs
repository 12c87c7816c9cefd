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
