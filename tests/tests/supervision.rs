//! Supervision: deaths, hangs, crash loops, dead lock holders, and stopping without leaks.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use kennel_client::{Client, ClientConfig};
use kennel_common::runtime::RuntimeDir;
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
    let pids: Vec<i32> = snap.records.iter().map(|r| r.pid as i32).collect();
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
    let children: Vec<i32> = snap.records.iter().map(|r| r.pid as i32).collect();
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

/// A bin dir holding the real watchdog and dispatcher, and a worker that is a shell script
/// exiting 1 at once (so it never becomes ready): a child that cannot stay up.
fn bin_dir_with_failing_worker(tag: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_dir(tag).with_extension("bin");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["kennel-watchdog", "kennel-dispatcher"] {
        std::os::unix::fs::symlink(bin(name), dir.join(name)).unwrap();
    }
    let worker = dir.join("kennel-worker");
    std::fs::write(
        &worker,
        "#!/bin/sh\necho 'kennel-worker: failing on purpose' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn a_worker_that_cannot_start_backs_off_becomes_fatal_fails_check_then_is_retried() {
    let bins = bin_dir_with_failing_worker("crashloop");
    // The worker never becomes ready, so the watchdog never reports the system up: start it by
    // hand and follow its log.
    let dir = fresh_dir("crashloop");
    let mut wd = Command::new(bins.join("kennel-watchdog"))
        .arg("--runtime-dir")
        .arg(&dir)
        .args(["--port", "0", "--workers", "1", "--bin-dir"])
        .arg(&bins)
        .args([
            "--max-restarts",
            "3",
            "--restart-window",
            "30s",
            "--fatal-cooldown",
            "1s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = wd.stderr.take().unwrap();
    let wd = Guarded(wd);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let next_line = |log: &mut String| -> String {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the watchdog went quiet; log so far:\n{log}"));
        log.push_str(&line);
        log.push('\n');
        line
    };
    let mut seen_backoff = false;
    loop {
        let line = next_line(&mut log);
        seen_backoff |= line.contains("next start in") && line.contains("(backoff)");
        if line.contains("worker 0 is FATAL") {
            break;
        }
    }
    assert!(seen_backoff, "{log}");
    assert!(log.contains("failing on purpose"), "{log}");
    let rt = RuntimeDir::resolve(Some(&dir));
    let seg = Segment::attach(&rt, Access::ReadOnly).unwrap();
    let snap = seg.snapshot();
    let w = &snap.workers()[0];
    assert_eq!(w.display_state(), "fatal");
    assert_eq!(
        w.fatal_reason().unwrap().describe(),
        "restarted too often (crash loop)"
    );
    // The other process is unaffected: the dispatcher is up.
    assert_eq!(snap.dispatcher().display_state(), "idle");
    // A FATAL child is never silent: check fails and names it.
    let check = Command::new(bin("kennelctl"))
        .arg("--runtime-dir")
        .arg(&dir)
        .arg("check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{text}");
    assert!(
        text.contains("child-not-fatal") && text.contains("worker 0 is FATAL"),
        "{text}"
    );
    // Repair the binary; after the cool-down the slot is tried again and comes up.
    std::fs::remove_file(bins.join("kennel-worker")).unwrap();
    std::os::unix::fs::symlink(bin("kennel-worker"), bins.join("kennel-worker")).unwrap();
    loop {
        let line = next_line(&mut log);
        if line.contains("worker 0 ready") {
            break;
        }
    }
    assert_eq!(seg.snapshot().workers()[0].display_state(), "idle");
    drop(seg);
    let mut wd = wd;
    signal(wd.0.id() as i32, Signal::SIGTERM);
    assert!(wd.0.wait().unwrap().success());
    let _ = std::fs::remove_dir(&dir);
    let _ = std::fs::remove_dir_all(&bins);
}

/// Runs a watchdog that must refuse to start; returns its stderr after checking it exited
/// non-zero and left no object behind in its runtime directory.
fn refused_start(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bin("kennel-watchdog"))
        .arg("--runtime-dir")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}\n{err}");
    assert!(!err.contains("started (pid"), "no child was started: {err}");
    err
}

#[test]
fn a_port_that_cannot_be_bound_stops_the_start_naming_it_and_leaves_nothing() {
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port().to_string();
    let dir = fresh_dir("squatted");
    let err = refused_start(
        &dir,
        &["--port", "0", "--workers", "2", "--worker-port-base", &port],
    );
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")) && err.contains("in use"),
        "{err}"
    );
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn a_missing_child_binary_stops_the_start_naming_its_path() {
    let bins = fresh_dir("nobins").with_extension("bin");
    std::fs::create_dir_all(&bins).unwrap();
    let dir = fresh_dir("nobins");
    let err = refused_start(&dir, &["--port", "0", "--bin-dir", bins.to_str().unwrap()]);
    assert!(
        err.contains(&format!("{}/kennel-dispatcher is missing", bins.display())),
        "{err}"
    );
    let _ = std::fs::remove_dir(&dir);
    let _ = std::fs::remove_dir_all(&bins);
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
    let check = inst.kennelctl(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
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
