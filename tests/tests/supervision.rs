//! Supervision: deaths, hangs, crash loops, dead lock holders, and stopping without leaks.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use kennel_client::{Client, ClientConfig};
use kennel_common::segment::{Access, Segment};
use kennel_tests::*;
use nix::sys::signal::Signal;

fn served_echo(inst: &Instance) {
    let mut client = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    for i in 0..5 {
        let msg = format!("ping {i}");
        assert_eq!(
            client.request("echo", msg.as_bytes()).unwrap().body,
            msg.as_bytes()
        );
    }
}

#[test]
fn a_killed_worker_is_restarted_and_requests_keep_being_answered() {
    let inst = Instance::start("killworker", 2, &[]);
    let old = inst.worker_pid(1);
    signal(old, Signal::SIGKILL);
    let s = inst.wait_status("worker 1 to come back", Duration::from_secs(10), |s| {
        let w = &s["workers"][1];
        w["pid"].as_i64() != Some(i64::from(old)) && w["state"] == "idle" && w["restarts"] == 1
    });
    assert_eq!(s["workers"][1]["last_exit"], "signal 9 (SIGKILL)");
    assert_eq!(
        s["workers"][0]["restarts"], 0,
        "the other worker was left alone"
    );
    served_echo(&inst);
    let log = inst.log_text();
    assert!(
        log.contains(&format!("worker 1 (pid {old}) died: signal 9 (SIGKILL)")),
        "{log}"
    );
    assert!(log.contains("worker 1 restarted"), "{log}");
}

#[test]
fn a_killed_dispatcher_is_restarted_on_the_same_port_and_workers_keep_running() {
    let inst = Instance::start("killdispatcher", 2, &[]);
    let workers = [inst.worker_pid(0), inst.worker_pid(1)];
    let mut client = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    assert_eq!(client.request("echo", b"before").unwrap().body, b"before");
    let old = inst.dispatcher_pid();
    signal(old, Signal::SIGKILL);
    let s = inst.wait_status(
        "the dispatcher to come back",
        Duration::from_secs(10),
        |s| {
            let d = &s["dispatcher"];
            d["pid"].as_i64() != Some(i64::from(old)) && d["state"] == "ready" && d["restarts"] == 1
        },
    );
    assert_eq!(
        s["dispatcher"]["port"].as_u64(),
        Some(u64::from(inst.addr.port()))
    );
    assert_eq!(
        [inst.worker_pid(0), inst.worker_pid(1)],
        workers,
        "workers not restarted"
    );
    // The same client object reconnects by itself.
    assert_eq!(client.request("echo", b"after").unwrap().body, b"after");
    served_echo(&inst);
}

#[test]
fn sigterm_stops_everything_and_leaves_no_process_or_ipc_object() {
    let inst = Instance::start("sigterm", 3, &[]);
    served_echo(&inst);
    let snap = inst.snapshot();
    let seg = Segment::attach(&inst.runtime(), Access::ReadOnly).unwrap();
    let (shm_name, semid) = (seg.name().to_string(), seg.semid());
    drop(seg);
    let pids: Vec<i32> = snap.present().map(|r| r.pid as i32).collect();
    assert!(pids.iter().all(|p| alive(*p)));
    let dir = inst.dir.clone();
    assert!(inst.stop().success(), "watchdog exits 0 after SIGTERM");
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still exists (or is a zombie)");
    }
    assert!(
        !std::path::Path::new(&format!("/dev/shm{shm_name}")).exists(),
        "shared memory object {shm_name} left behind"
    );
    assert!(
        kennel_common::sys::sem_stat(semid).is_err(),
        "semaphore {semid} left behind"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "files left in the runtime directory: {left:?}"
    );
}

#[test]
fn children_of_a_killed_watchdog_exit_and_the_next_start_cleans_up() {
    let inst = Instance::start("killwatchdog", 2, &[]);
    let snap = inst.snapshot();
    let children: Vec<i32> = snap.present().map(|r| r.pid as i32).collect();
    let old_shm = Segment::attach(&inst.runtime(), Access::ReadOnly)
        .unwrap()
        .name()
        .to_string();
    let dir = inst.dir.clone();
    let mut inst = inst;
    signal(inst.watchdog.pid() as i32, Signal::SIGKILL);
    let _ = inst.watchdog.child.wait();
    wait_for(
        "every child to exit after the watchdog's death",
        Duration::from_secs(1),
        || children.iter().all(|p| !alive(*p)),
    );
    // The stale objects are still there until the next start.
    assert!(std::path::Path::new(&format!("/dev/shm{old_shm}")).exists());
    let status = inst.kennelctl(&["check"]);
    assert!(!status.status.success(), "check flags a stale segment");
    assert!(String::from_utf8_lossy(&status.stdout).contains("watchdog-alive"));
    drop(inst);
    let next = Instance::start_in(dir, 2, &[]);
    assert!(
        next.log_text().contains("removed the stale shared segment"),
        "{}",
        next.log_text()
    );
    assert!(!std::path::Path::new(&format!("/dev/shm{old_shm}")).exists());
    served_echo(&next);
}

#[test]
fn a_second_watchdog_on_the_same_runtime_dir_is_refused() {
    let inst = Instance::start("twice", 1, &[]);
    let mut second = Guarded(
        Command::new(bin("kennel-watchdog"))
            .arg("--runtime-dir")
            .arg(&inst.dir)
            .args(["--port", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = wait_with_timeout(&mut second.0, Duration::from_secs(10))
        .expect("the second watchdog exits at once");
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut second.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("is already running on"), "{err}");
    served_echo(&inst);
}

#[test]
fn a_frozen_worker_is_killed_for_its_silent_heartbeat_and_restarted() {
    let inst = Instance::start(
        "frozen",
        2,
        &["--poll-interval", "200ms", "--hang-timeout", "800ms"],
    );
    let old = inst.worker_pid(0);
    signal(old, Signal::SIGSTOP);
    inst.wait_status(
        "the frozen worker to be replaced",
        Duration::from_secs(10),
        |s| {
            let w = &s["workers"][0];
            w["pid"].as_i64() != Some(i64::from(old)) && w["state"] == "idle"
        },
    );
    let log = inst.log_text();
    assert!(
        log.contains(&format!("worker 0 (pid {old}) TIMEOUT: silent for")),
        "{log}"
    );
    served_echo(&inst);
}

#[test]
fn a_guard_holder_killed_in_its_critical_section_blocks_nobody_and_its_write_is_repaired() {
    let inst = Instance::start("guardholder", 2, &["--poll-interval", "200ms"]);
    let mut holder = Guarded(
        Command::new(bin("guard_holder"))
            .arg(&inst.dir)
            .arg("1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(holder.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "holding");
    let seg = Segment::attach(&inst.runtime(), Access::ReadOnly).unwrap();
    assert_eq!(seg.guard_value().unwrap(), 0, "the helper holds the guard");
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    // SEM_UNDO: the kernel gave the unit back at once.
    assert_eq!(
        seg.guard_value().unwrap(),
        1,
        "guard released by the kernel"
    );
    // The record it was writing is repaired by the watchdog's next poll.
    inst.wait_status(
        "the torn record to be repaired",
        Duration::from_secs(5),
        |s| s["workers"][1]["torn"] == false,
    );
    assert!(
        inst.log_text().contains("repaired worker 1's record"),
        "{}",
        inst.log_text()
    );
    inst.assert_check_ok();
    served_echo(&inst);
}

#[test]
fn an_assignment_left_by_a_dead_dispatcher_is_reconciled_by_its_worker() {
    let inst = Instance::start("inflight", 1, &["--client-timeout", "1s"]);
    let mut c = StudentClient::connect(inst.addr);
    let port = c.ask("requetetype1");
    assert!(port.iter().all(u8::is_ascii_digit), "{port:?}");
    let s = inst.status();
    assert_eq!(s["workers"][0]["state"], "assigned");
    assert_eq!(s["workers"][0]["request_type"], "requetetype1");
    let old = inst.dispatcher_pid();
    signal(old, Signal::SIGKILL);
    // The client never comes; the worker cancels the reservation (pong = ping) and the new
    // dispatcher can hand the slot out again.
    let s = inst.wait_status(
        "the reservation to be cancelled",
        Duration::from_secs(10),
        |s| {
            s["workers"][0]["state"] == "idle"
                && s["dispatcher"]["state"] == "ready"
                && s["dispatcher"]["pid"].as_i64() != Some(i64::from(old))
        },
    );
    assert_eq!(s["workers"][0]["ping"], s["workers"][0]["pong"]);
    assert_eq!(s["workers"][0]["restarts"], 0);
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "next"),
        b"next"
    );
}

#[test]
fn a_frozen_worker_gets_no_new_client_while_it_waits_to_be_killed() {
    // A long hang timeout: the frozen worker stays in its slot, looking idle.
    let inst = Instance::start("frozenidle", 2, &["--hang-timeout", "30s"]);
    let frozen = inst.worker_pid(0);
    let frozen_port = inst.status()["workers"][0]["port"].as_u64().unwrap();
    signal(frozen, Signal::SIGSTOP);
    inst.wait_status(
        "the frozen worker's heartbeat to go stale",
        Duration::from_secs(10),
        |s| s["workers"][0]["heartbeat_age_ms"].as_u64().unwrap_or(0) > 1000,
    );
    for _ in 0..6 {
        let mut c = StudentClient::connect(inst.addr);
        let port: u64 = String::from_utf8(c.ask("echo")).unwrap().parse().unwrap();
        assert_ne!(port, frozen_port, "a frozen worker was handed out");
        let answer = worker_exchange(std::net::SocketAddr::new(inst.addr.ip(), port as u16), "x");
        assert_eq!(answer, b"x");
    }
    signal(frozen, Signal::SIGCONT);
}

#[test]
fn a_guard_held_for_good_while_children_keep_dying_never_stalls_the_watchdog_loop() {
    // Every poll reported (--report-every 0): the poll lines are this test's clock.
    let inst = Instance::start(
        "stall",
        2,
        &["--poll-interval", "200ms", "--report-every", "0"],
    );
    let seg = Segment::attach(&inst.runtime(), Access::ReadWrite).unwrap();
    let polls_before = inst.log_text().matches("poll: ").count();
    {
        // This test process takes the guard and keeps it: every lock in the instance waits,
        // restarted children cannot publish themselves and die again and again.
        let _guard = seg.lock(Duration::from_secs(2)).unwrap();
        signal(inst.worker_pid(0), Signal::SIGKILL);
        signal(inst.worker_pid(1), Signal::SIGKILL);
        // The watchdog's loop keeps turning: its periodic report goes on.
        wait_for(
            "polls to go on while the guard is held",
            Duration::from_secs(20),
            || inst.log_text().matches("poll: ").count() >= polls_before + 5,
        );
    }
    // Guard released: everything comes back.
    inst.wait_status_ok("every child back", Duration::from_secs(20), |s| {
        s["dispatcher"]["state"] == "ready" && (0..2).all(|k| s["workers"][k]["state"] == "idle")
    });
    wait_for("check to pass", Duration::from_secs(10), || {
        inst.kennelctl(&["check"]).status.success()
    });
    served_echo(&inst);
}
