//! The instance survives damage to its own files: liveness belongs to the instance, not to a
//! path, so removing `watchdog.lock` lets no second watchdog remove or reuse a live instance's
//! objects, and the live one still stops cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kennel_tests::*;

#[test]
fn a_removed_lock_file_lets_no_second_watchdog_touch_the_live_instance() {
    let inst = Instance::start("nolock", 1, &[]);
    let rt = inst.runtime();
    let segment_name = std::fs::read_to_string(rt.segment_name_path()).unwrap();
    std::fs::remove_file(rt.lock_path()).unwrap();
    let out = Command::new(bin("kennel-watchdog"))
        .arg("--runtime-dir")
        .arg(&inst.dir)
        .args(["--port", "0", "--workers", "1"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("held by a live watchdog"), "{err}");
    // Nothing of the live instance was touched: its segment, name file and FIFOs are there,
    // it serves, and kennelctl still sees its watchdog alive.
    assert!(std::path::Path::new(&format!("/dev/shm{}", segment_name.trim())).exists());
    assert_eq!(
        std::fs::read_to_string(rt.segment_name_path()).unwrap(),
        segment_name
    );
    assert!(
        !rt.lock_path().exists(),
        "the refused watchdog removed the lock file it made"
    );
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "alive"),
        b"alive"
    );
    let check = inst.kennelctl(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // The live one still stops cleanly and leaves nothing.
    let dir = inst.dir.clone();
    let status = inst.stop();
    assert!(status.success());
    wait_for("the runtime dir emptied", Duration::from_secs(5), || {
        std::fs::read_dir(&dir)
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    });
    assert!(!std::path::Path::new(&format!("/dev/shm{}", segment_name.trim())).exists());
}

/// CPU seconds (user + system) `pid` has used, from /proc/PID/stat (fields 14 and 15).
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn a_dispatcher_out_of_file_descriptors_tells_clients_busy_without_spinning() {
    use std::io::Read;
    use std::net::TcpStream;
    let inst = Instance::start("emfile", 1, &[]);
    let pid = inst.dispatcher_pid();
    // Leave the dispatcher 40 descriptors: it runs out after some 30 connections.
    let limit = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--nofile=40:40"])
        .status()
        .unwrap();
    assert!(limit.success());
    let mut conns: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(inst.addr).unwrap())
        .collect();
    // Every connection beyond the limit is told, one per pause, and closed: the last ones wait
    // for the whole shedding, during which the dispatcher's CPU use is measured.
    let (before, t0) = (cpu_ticks(pid), Instant::now());
    let mut busy = 0;
    for c in conns.iter_mut().rev().take(10) {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        if got.starts_with(b"ERR busy: out of file descriptors") {
            busy += 1;
        }
    }
    assert!(busy >= 1, "{}", inst.log_text());
    // Clock ticks are 1/100 s: a busy loop would use about 100 a second.
    let (used, secs) = (cpu_ticks(pid) - before, t0.elapsed().as_secs_f64());
    assert!(
        (used as f64) < 30.0 * secs.max(1.0),
        "the dispatcher used {used} ticks in {secs:.1} s: spinning?"
    );
    // No log flood: the out-of-descriptors line is rate-limited.
    let lines = inst.log_text().matches("out of file descriptors").count();
    assert!(lines < 10, "{lines} lines");
    drop(conns);
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "ok"),
        b"ok"
    );
    assert_eq!(inst.dispatcher_pid(), pid, "never restarted");
}

#[test]
fn removed_fifos_are_recreated_and_children_started_afterwards_come_up() {
    let inst = Instance::start("nofifo", 2, &["--poll-interval", "200ms"]);
    let fifos: Vec<std::path::PathBuf> = std::fs::read_dir(&inst.dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "fifo"))
        .collect();
    assert_eq!(fifos.len(), 4, "{fifos:?}");
    for f in &fifos {
        std::fs::remove_file(f).unwrap();
    }
    wait_for("the FIFOs recreated", Duration::from_secs(5), || {
        fifos.iter().all(|f| f.exists())
    });
    assert!(inst.log_text().contains("was removed: recreated it"));
    // A worker and the dispatcher started after the damage open the new FIFOs and report
    // ready through the new watchdog FIFO.
    signal(inst.worker_pid(1), nix::sys::signal::Signal::SIGKILL);
    signal(inst.dispatcher_pid(), nix::sys::signal::Signal::SIGKILL);
    let s = inst.wait_status("both back", Duration::from_secs(10), |s| {
        s["workers"][1]["restarts"] == 1
            && s["workers"][1]["state"] == "idle"
            && s["dispatcher"]["restarts"] == 1
            && s["dispatcher"]["state"] == "ready"
    });
    assert_eq!(s["workers"][1]["supervision"], "running", "{s}");
    let mut c = StudentClient::connect(inst.addr);
    for i in 0..4 {
        let m = format!("after {i}");
        assert_eq!(c.request("echo", &m), m.as_bytes());
    }
    let check = inst.kennelctl(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn a_semaphore_removed_with_ipcrm_is_replaced_and_followed_by_every_process() {
    let inst = Instance::start("ipcrm", 2, &["--poll-interval", "200ms"]);
    let old = inst.runtime();
    let seg =
        kennel_common::segment::Segment::attach(&old, kennel_common::segment::Access::ReadOnly)
            .unwrap();
    let old_id = seg.semid();
    drop(seg);
    let rm = Command::new("ipcrm")
        .args(["-s", &old_id.to_string()])
        .status()
        .unwrap();
    assert!(rm.success());
    wait_for(
        "the watchdog to make a new semaphore",
        Duration::from_secs(5),
        || {
            inst.log_text()
                .contains(&format!("semaphore {old_id} was removed (ipcrm?): created"))
        },
    );
    // Every process follows the new one at its next lock: requests keep being answered.
    let mut c = StudentClient::connect(inst.addr);
    for i in 0..6 {
        let m = format!("after ipcrm {i}");
        assert_eq!(c.request("echo", &m), m.as_bytes());
    }
    let check = inst.kennelctl(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let seg =
        kennel_common::segment::Segment::attach(&old, kennel_common::segment::Access::ReadOnly)
            .unwrap();
    assert_ne!(seg.semid(), old_id);
    drop(seg);
    // Stopping removes the new semaphore too (the suite's leak check would say otherwise).
    assert!(inst.stop().success());
}

#[test]
fn every_field_the_watchdog_owns_is_restored_after_someone_overwrites_it() {
    use std::sync::atomic::Ordering::SeqCst;
    let inst = Instance::start("scribble", 2, &["--poll-interval", "200ms"]);
    let good = inst.status();
    let seg = kennel_common::segment::Segment::attach(
        &inst.runtime(),
        kennel_common::segment::Access::ReadWrite,
    )
    .unwrap();
    let w0 = seg.record(kennel_common::segment::RecordId::Worker(0));
    w0.supervision.store(4, SeqCst); // FATAL
    w0.fatal_reason.store(77, SeqCst); // no such reason
    w0.restarts.store(999, SeqCst);
    w0.kill_reason.store(55, SeqCst); // no such code
    w0.pid.store(1, SeqCst); // init's
    seg.header().stopping.store(1, SeqCst);
    wait_for(
        "the watchdog to restore them",
        Duration::from_secs(5),
        || {
            let log = inst.log_text();
            [
                "supervision state",
                "restart count",
                "pid (1 ->",
                "kill reason",
                "stopping flag",
            ]
            .iter()
            .all(|what| log.contains(what))
        },
    );
    let s = inst.status();
    assert_eq!(s["workers"][0]["supervision"], "running", "{s}");
    assert_eq!(s["workers"][0]["restarts"], 0, "{s}");
    assert_eq!(s["workers"][0]["pid"], good["workers"][0]["pid"], "{s}");
    assert_eq!(s["stopping"], false, "{s}");
    let check = inst.kennelctl(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "ok"),
        b"ok"
    );
}
