//! The elastic pool (`--min-workers`/`--max-workers`): it grows under a burst, shrinks when
//! idle, obeys `kennelctl scale`, and never touches a worker the operator stopped.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use kennel_tests::{wait_for, Instance};
use serde_json::Value;

// Every poll reported (--report-every 0): the poll lines are the scale test's clock.
const ELASTIC: [&str; 12] = [
    "--report-every",
    "0",
    "--min-workers",
    "1",
    "--max-workers",
    "4",
    "--max-tasks",
    "1",
    "--scale-up-after",
    "100ms",
    "--idle-stop",
    "1s",
];

fn count(s: &Value, state: &str) -> usize {
    s["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == state)
        .count()
}

fn active(s: &Value) -> usize {
    4 - count(s, "vacant") - count(s, "stopped")
}

/// A client that holds its worker: it asks, connects, and thinks 600 ms before its message.
fn slow_request(addr: SocketAddr, i: usize) -> Result<(), String> {
    let mut c = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"echo\n").map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(&c)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| format!("dispatcher said {line:?}"))?;
    let mut w = TcpStream::connect((addr.ip(), port)).map_err(|e| e.to_string())?;
    w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    std::thread::sleep(Duration::from_millis(600)); // the client's own think time
    w.write_all(format!("slow {i}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(&w)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    (answer.trim_end() == format!("slow {i}"))
        .then_some(())
        .ok_or(format!("worker said {answer:?}"))
}

#[test]
fn a_burst_grows_the_pool_to_its_maximum_and_idleness_brings_it_back_without_a_failure() {
    let inst = Instance::start_flags("elastic-burst", &ELASTIC);
    let s = inst.status();
    assert_eq!((active(&s), count(&s, "vacant")), (1, 3), "{s}");
    assert_eq!(
        (s["pool"]["min"].as_u64(), s["pool"]["max"].as_u64()),
        (Some(1), Some(4))
    );
    let failed = AtomicU64::new(0);
    let errors = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for i in 0..12 {
            let (failed, errors, addr) = (&failed, &errors, inst.addr);
            sc.spawn(move || {
                if let Err(e) = slow_request(addr, i) {
                    failed.fetch_add(1, SeqCst);
                    errors.lock().unwrap().push(e);
                }
            });
        }
        inst.wait_status("the pool grown to 4", Duration::from_secs(15), |s| {
            active(s) == 4
        });
    });
    assert_eq!(failed.load(SeqCst), 0, "{:?}", errors.lock().unwrap());
    let s = inst.wait_status("the pool back to 1", Duration::from_secs(20), |s| {
        active(s) == 1 && count(s, "vacant") == 3
    });
    // A drained slot shows no process: no pid, no tasks, no languages, no heartbeat.
    for w in s["workers"].as_array().unwrap() {
        if w["state"] == "vacant" {
            assert!(w["pid"].is_null(), "a vacant slot with a pid: {w}");
            assert!(w["heartbeat_age_ms"].is_null(), "{w}");
            assert_eq!(w["capacity"], 0, "{w}");
            assert_eq!(w["languages"], serde_json::json!([]), "{w}");
        }
    }
    let text = String::from_utf8_lossy(&inst.kennelctl(&["status"]).stdout).into_owned();
    let vacant_rows: Vec<&str> = text.lines().filter(|l| l.contains(" vacant ")).collect();
    assert_eq!(vacant_rows.len(), 3, "{text}");
    for row in vacant_rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            (cols[2], cols[5]),
            ("-", "-"),
            "pid and tasks of a vacant row: {row}"
        );
    }
    assert!(
        !inst.log_text().contains("gateway - (vacant)"),
        "no --http: no gateway in the poll line"
    );
    assert!(s["pool"]["scale_ups"].as_u64().unwrap() >= 3, "{s}");
    assert!(s["pool"]["scale_downs"].as_u64().unwrap() >= 3, "{s}");
    let log = inst.log_text();
    assert!(log.contains("scaling up to a pool of 4"), "{log}");
    assert!(log.contains("idle for 1 s): draining"), "{log}");
    inst.assert_check_ok();
}

#[test]
fn scale_sets_the_pool_and_a_stopped_worker_is_left_alone() {
    let inst = Instance::start_flags("elastic-scale", &ELASTIC);
    let out = inst.kennelctl(&["scale", "3"]);
    assert!(out.status.success(), "{out:?}");
    inst.wait_status("3 workers running", Duration::from_secs(10), |s| {
        kennel_tests::running_workers(s) == 3
    });
    // The operator's size is the floor: past --idle-stop the pool stays at 3.
    let polls = inst.log_text().matches("poll:").count();
    // Two more polls: at least one poll interval (2 s) later, past --idle-stop (1 s).
    wait_for("two more polls", Duration::from_secs(20), || {
        inst.log_text().matches("poll:").count() >= polls + 2
    });
    assert_eq!(active(&inst.status()), 3);
    let out = inst.kennelctl(&["scale", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has 4 worker slots"),
        "{out:?}"
    );
    // Worker 3 stays vacant; stop worker 2 by hand: scaling to 4 cannot use it.
    assert!(inst.kennelctl(&["stop", "worker", "2"]).status.success());
    inst.wait_status("worker 2 stopped", Duration::from_secs(10), |s| {
        s["workers"][2]["state"] == "stopped"
    });
    let out = inst.kennelctl(&["scale", "4"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("start them"),
        "{out:?}"
    );
    assert_eq!(inst.status()["workers"][2]["state"], "stopped");
    assert!(inst.kennelctl(&["scale", "1"]).status.success());
    inst.wait_status("the pool at 1", Duration::from_secs(10), |s| {
        kennel_tests::running_workers(s) == 1
    });
    inst.assert_check_ok();
}
