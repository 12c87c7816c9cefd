//! The operator's verbs through the watchdog's control socket: `kennelctl restart | stop |
//! start | signal | shutdown`, with the real processes.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use kennel_client::{Client, ClientConfig};
use kennel_tests::{wait_for, Instance};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `kennelctl` with a verb: its exit code and what it printed.
fn verb(inst: &Instance, args: &[&str]) -> (Option<i32>, String) {
    let out = inst.kennelctl(args);
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn a_stopped_worker_stays_stopped_until_started() {
    let inst = Instance::start(
        "ctl-stop",
        2,
        &["--poll-interval", "500ms", "--report-every", "0"],
    );
    let old = inst.worker_pid(1);
    let (code, said) = verb(&inst, &["stop", "worker", "1"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("stopping worker 1"), "{said}");
    inst.wait_status("worker 1 stopped", Duration::from_secs(10), |s| {
        s["workers"][1]["state"] == "stopped"
    });
    // Two polls later (each a supervision pass), still stopped, and requests are served.
    let polls = inst.log_text().matches("poll:").count();
    wait_for("two more polls", Duration::from_secs(10), || {
        inst.log_text().matches("poll:").count() >= polls + 2
    });
    let s = inst.status();
    assert_eq!(s["workers"][1]["state"], "stopped", "{s}");
    assert_eq!(s["workers"][1]["supervision"], "stopped", "{s}");
    let mut c = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    for _ in 0..4 {
        let a = c.request("echo", b"still served").unwrap();
        assert_eq!(a.body, b"still served");
    }
    inst.assert_check_ok();
    let (code, said) = verb(&inst, &["stop", "worker", "1"]);
    assert_eq!(
        (code, said.trim()),
        (Some(0), "worker 1 is already stopped")
    );
    let (code, said) = verb(&inst, &["start", "worker", "1"]);
    assert_eq!(code, Some(0), "{said}");
    let s = inst.wait_status("worker 1 back", Duration::from_secs(10), |s| {
        s["workers"][1]["supervision"] == "running"
    });
    assert_ne!(s["workers"][1]["pid"].as_i64().unwrap() as i32, old);
}

#[test]
fn restart_replaces_one_child_and_a_rolling_restart_under_load_loses_no_request() {
    let inst = Instance::start("ctl-roll", 4, &[]);
    let before: Vec<i32> = (0..4).map(|k| inst.worker_pid(k)).collect();
    let (code, said) = verb(&inst, &["restart", "worker", "2"]);
    assert_eq!(code, Some(0), "{said}");
    let s = inst.wait_status("worker 2 replaced", Duration::from_secs(10), |s| {
        s["workers"][2]["supervision"] == "running"
            && s["workers"][2]["pid"].as_i64() != Some(before[2] as i64)
    });
    assert_eq!(s["workers"][2]["restarts"], 1, "{s}");

    let stop = AtomicBool::new(false);
    let (served, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let mid: Vec<i32> = (0..4).map(|k| inst.worker_pid(k)).collect();
    std::thread::scope(|s| {
        let (stop_r, served_r, failed_r, addr) = (&stop, &served, &failed, inst.addr);
        s.spawn(move || kennel_tests::echo_load(addr, 8, stop_r, served_r, failed_r));
        wait_for("requests flowing", Duration::from_secs(10), || {
            served.load(SeqCst) > 50
        });
        let (code, said) = verb(&inst, &["restart", "workers"]);
        assert_eq!(code, Some(0), "{said}");
        assert!(
            said.contains("restarted workers [0, 1, 2, 3], one at a time"),
            "{said}"
        );
        let after = served.load(SeqCst);
        wait_for("requests after the roll", Duration::from_secs(10), || {
            served.load(SeqCst) > after + 50
        });
        stop.store(true, SeqCst);
    });
    assert_eq!(
        failed.load(SeqCst),
        0,
        "requests lost during the rolling restart"
    );
    for (k, old) in mid.iter().enumerate() {
        assert_ne!(inst.worker_pid(k), *old, "worker {k} was not restarted");
    }
    inst.assert_check_ok();
}

#[test]
fn verbs_that_cannot_be_done_are_refused_and_change_nothing() {
    let inst = Instance::start("ctl-refuse", 2, &[]);
    let pids = (
        inst.worker_pid(0),
        inst.worker_pid(1),
        inst.dispatcher_pid(),
    );
    for (args, expect) in [
        (
            &["restart", "worker", "7"][..],
            "there is no worker 7: this instance has workers 0 to 1",
        ),
        (&["stop", "dispatcher"][..], "use shutdown"),
        (
            &["signal", "worker", "0", "STOP"][..],
            "not a signal an operator may send",
        ),
        (&["restart", "worker", "x"][..], "is not a worker number"),
    ] {
        let (code, said) = verb(&inst, args);
        assert_ne!(code, Some(0), "{args:?}: {said}");
        assert!(said.contains(expect), "{args:?}: {said}");
    }
    // Raw bytes on the socket: garbage, an unterminated request, an overlong one.
    let path = inst.runtime().control_socket_path();
    for (bytes, expect) in [
        (b"reboot now\n".to_vec(), "error unknown verb \"reboot\""),
        (vec![0xff, 0xfe, b'\n'], "error a request that is not text"),
        (vec![b'a'; 1000], "error a request over 256 bytes"),
    ] {
        let mut s = UnixStream::connect(&path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&bytes).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with(expect), "{answer:?}");
    }
    // A caller that says nothing holds nobody up (it is dropped after its 2 s).
    let silent = UnixStream::connect(&path).unwrap();
    let (code, said) = verb(&inst, &["signal", "worker", "0", "CONT"]);
    assert_eq!(code, Some(0), "{said}");
    drop(silent);
    assert_eq!(
        (
            inst.worker_pid(0),
            inst.worker_pid(1),
            inst.dispatcher_pid()
        ),
        pids
    );
    inst.assert_check_ok();
}

#[test]
#[ignore = "needs root: another uid must be able to reach the socket to be refused by it"]
fn another_user_is_refused_by_the_control_socket() {
    use std::os::unix::fs::PermissionsExt;
    let inst = Instance::start("ctl-uid", 1, &[]);
    let path = inst.runtime().control_socket_path();
    // Open the way on purpose (0711 directory, 0666 socket): the uid check must still refuse.
    std::fs::set_permissions(&inst.dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(kennel_tests::bin("kennelctl"))
        .arg("--runtime-dir")
        .arg(&inst.dir)
        .args(["stop", "worker", "0"])
        .output()
        .expect("runuser");
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("may not control this instance"), "{said}");
    std::fs::set_permissions(&inst.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(inst.status()["workers"][0]["supervision"], "running");
    assert!(inst
        .log_text()
        .contains("control: refused a verb from uid 65534"));
}

#[test]
fn shutdown_stops_the_instance_cleanly() {
    let mut inst = Instance::start("ctl-shutdown", 2, &[]);
    let (code, said) = verb(&inst, &["shutdown"]);
    assert_eq!((code, said.trim()), (Some(0), "stopping the instance"));
    let status = kennel_tests::wait_with_timeout(&mut inst.watchdog.child, Duration::from_secs(15))
        .expect("the watchdog stopped");
    assert!(status.success(), "{status:?}");
    assert!(!inst.runtime().control_socket_path().exists());
    assert!(inst.log_text().contains("every IPC object removed"));
}

#[test]
fn verbs_during_a_rolling_restart_are_refused_until_it_ends() {
    let inst = Instance::start("ctl-roll-busy", 2, &["--client-timeout", "3s"]);
    let dir = inst.dir.clone();
    // A client that takes a worker and says nothing: that worker's restart waits for it (up
    // to the 3 s client timeout), which holds the roll open.
    let mut control = std::net::TcpStream::connect(inst.addr).unwrap();
    control.write_all(b"echo\n").unwrap();
    let mut line = [0u8; 32];
    let n = control.read(&mut line).unwrap();
    let port: u16 = text(&line[..n]).trim().parse().unwrap();
    let silent = std::net::TcpStream::connect((inst.addr.ip(), port)).unwrap();
    std::thread::scope(|s| {
        let roll = s.spawn(|| {
            std::process::Command::new(kennel_tests::bin("kennelctl"))
                .arg("--runtime-dir")
                .arg(&dir)
                .args(["restart", "workers"])
                .output()
                .unwrap()
        });
        wait_for("the roll under way", Duration::from_secs(10), || {
            inst.log_text().contains("control: restart workers")
        });
        for args in [
            &["reload"][..],
            &["stop", "worker", "1"][..],
            &["restart", "workers"][..],
        ] {
            let (code, said) = verb(&inst, args);
            assert_eq!(code, Some(1), "{args:?}: {said}");
            assert!(said.contains("rolling restart"), "{args:?}: {said}");
        }
        let out = roll.join().unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    drop(silent);
    let (code, said) = verb(&inst, &["stop", "worker", "1"]);
    assert_eq!(code, Some(0), "after the roll: {said}");
}

#[test]
fn the_ready_and_live_probes_answer_their_one_question() {
    let inst = Instance::start("ctl-probes", 1, &["--max-tasks", "1"]);
    let probe = |which: &str| verb(&inst, &["check", which]);
    let (code, said) = probe("--ready");
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.starts_with("ready: dispatcher up, 1 worker(s) with room"),
        "{said}"
    );
    assert_eq!(probe("--live").0, Some(0));
    // No worker that can take a client: not ready, still live.
    assert_eq!(verb(&inst, &["stop", "worker", "0"]).0, Some(0));
    inst.wait_status("worker 0 stopped", Duration::from_secs(10), |s| {
        s["workers"][0]["state"] == "stopped"
    });
    let (code, said) = probe("--ready");
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("not ready: no worker can take a client now"),
        "{said}"
    );
    assert_eq!(probe("--live").0, Some(0));
    assert_eq!(verb(&inst, &["start", "worker", "0"]).0, Some(0));
    wait_for("ready again", Duration::from_secs(10), || {
        probe("--ready").0 == Some(0)
    });
    // A frozen watchdog is not live (its loop stamps its heartbeat at least every 250 ms).
    let watchdog = inst.watchdog.child.id() as i32;
    kennel_tests::signal(watchdog, nix::sys::signal::Signal::SIGSTOP);
    wait_for(
        "the probe to see the frozen loop",
        Duration::from_secs(15),
        || probe("--live").0 == Some(1),
    );
    kennel_tests::signal(watchdog, nix::sys::signal::Signal::SIGCONT);
    wait_for("live again", Duration::from_secs(10), || {
        probe("--live").0 == Some(0)
    });
    let (_, said) = verb(&inst, &["check", "--live", "--json"]);
    let v: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    assert_eq!(
        (v["probe"].as_str(), v["ok"].as_bool()),
        (Some("live"), Some(true))
    );
}
