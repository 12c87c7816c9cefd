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
    let name_file = std::fs::read_to_string(rt.segment_name_path()).unwrap();
    let shm = shm_path(&inst);
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
    assert!(shm.exists());
    assert_eq!(
        std::fs::read_to_string(rt.segment_name_path()).unwrap(),
        name_file
    );
    assert!(
        !rt.lock_path().exists(),
        "the refused watchdog removed the lock file it made"
    );
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "alive"),
        b"alive"
    );
    inst.assert_check_ok();
    // The live one still stops cleanly and leaves nothing.
    let dir = inst.dir.clone();
    let status = inst.stop();
    assert!(status.success());
    wait_for("the runtime dir emptied", Duration::from_secs(5), || {
        std::fs::read_dir(&dir)
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    });
    assert!(!shm.exists());
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
    assert!(inst
        .log_text()
        .contains("was removed or replaced: made again"));
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
    inst.assert_check_ok();
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
    inst.assert_check_ok();
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
    inst.assert_check_ok();
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "ok"),
        b"ok"
    );
}

fn shm_path(inst: &Instance) -> std::path::PathBuf {
    let name = std::fs::read_to_string(inst.runtime().segment_name_path()).unwrap();
    std::path::PathBuf::from(format!("/dev/shm{}", name.lines().next().unwrap()))
}

#[test]
fn a_segment_truncated_or_grown_while_running_is_sized_back_and_nobody_dies_silently() {
    use nix::sys::signal::Signal;
    let inst = Instance::start("truncate", 2, &["--poll-interval", "200ms"]);
    let path = shm_path(&inst);
    let size = std::fs::metadata(&path).unwrap().len();
    let watchdog = inst.watchdog.child.id() as i32;
    for (what, len) in [("truncated", 0), ("grown", size * 2)] {
        // The watchdog is held still while the segment is wrong, so that the children meet
        // the short mapping (a SIGBUS each, within a tick) before it is sized back.
        signal(watchdog, Signal::SIGSTOP);
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len).unwrap();
        drop(f);
        if len == 0 {
            wait_for(
                "every child to meet the short mapping",
                Duration::from_secs(5),
                || {
                    inst.log_text()
                        .matches("SIGBUS: the shared segment shrank")
                        .count()
                        >= 3
                },
            );
        }
        signal(watchdog, Signal::SIGCONT);
        wait_for(
            &format!("the {what} segment sized back"),
            Duration::from_secs(5),
            || {
                std::fs::metadata(&path)
                    .map(|m| m.len() == size)
                    .unwrap_or(false)
            },
        );
        // Serving again with every invariant holding: the children that died were restarted.
        inst.wait_status_ok("every child back", Duration::from_secs(15), |s| {
            s["dispatcher"]["state"] == "ready"
                && (0..2).all(|k| s["workers"][k]["state"] == "idle")
        });
        wait_for("check to pass", Duration::from_secs(10), || {
            inst.kennelctl(&["check"]).status.success()
        });
        assert_eq!(
            StudentClient::connect(inst.addr).request("echo", what),
            what.as_bytes()
        );
    }
    let log = inst.log_text();
    assert!(log.contains("sized back to"), "{log}");
    // Nobody died silently: each SIGBUS death (status 4) comes with the process's own line.
    let deaths = log.matches(") died: exit 4").count();
    let said = log.matches("SIGBUS: the shared segment shrank").count();
    assert!(
        deaths >= 3 && said >= deaths,
        "{deaths} deaths, {said} lines:\n{log}"
    );
    assert!(
        !log.contains("signal 7 (SIGBUS)"),
        "a silent SIGBUS death:\n{log}"
    );
}

#[test]
fn a_truncated_segment_left_by_a_dead_watchdog_is_cleaned_up_semaphore_included() {
    let mut inst = Instance::start("deadtrunc", 1, &[]);
    let path = shm_path(&inst);
    let semid = inst
        .runtime()
        .read_recorded_semid()
        .expect("semaphore recorded");
    signal(
        inst.watchdog.child.id() as i32,
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = inst.watchdog.child.wait();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let dir = inst.dir.clone();
    drop(inst);
    let next = Instance::start_in(dir, 1, &[]);
    assert!(
        next.log_text()
            .contains("removing the damaged segment of a watchdog that died"),
        "{}",
        next.log_text()
    );
    assert!(!path.exists());
    assert!(
        kennel_common::sys::sem_stat(semid).is_err(),
        "semaphore {semid} leaked"
    );
    assert_eq!(
        StudentClient::connect(next.addr).request("echo", "ok"),
        b"ok"
    );
}
