//! What the operator sees is true: a frozen process is flagged (and fails `check`) while it is
//! frozen, an instance whose watchdog is gone shows stale rows and a non-zero status, the last
//! exit says when the watchdog killed a child and why, and `kennel-client --runtime-dir` never
//! falls back to another instance's port.

use std::process::Command;
use std::time::Duration;

use kennel_tests::*;
use nix::sys::signal::Signal;

#[test]
fn a_frozen_worker_is_flagged_and_fails_check_until_it_thaws() {
    // A long hang timeout: the freeze is watched, not cut short by the hang kill.
    let inst = Instance::start("frozen", 2, &["--hang-timeout", "30s"]);
    let pid = inst.worker_pid(1);
    signal(pid, Signal::SIGSTOP);
    let s = inst.wait_status("worker 1 flagged frozen", Duration::from_secs(10), |s| {
        s["workers"][1]["frozen"] == true
    });
    assert_eq!(s["workers"][1]["state"], "frozen", "{s}");
    assert_eq!(s["workers"][0]["frozen"], false, "{s}");
    let table = String::from_utf8_lossy(&inst.kennelctl(&["status"]).stdout).into_owned();
    assert!(table.contains("frozen"), "{table}");
    let check = inst.kennelctl(&["check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{text}");
    assert!(
        text.contains("heartbeat-fresh") && text.contains("worker 1"),
        "{text}"
    );
    signal(pid, Signal::SIGCONT);
    inst.wait_status("worker 1 beating again", Duration::from_secs(10), |s| {
        s["workers"][1]["frozen"] == false
    });
    inst.assert_check_ok();
    assert_eq!(
        inst.worker_pid(1),
        pid,
        "never killed: the hang timeout was not reached"
    );
}

#[test]
fn the_last_exit_says_the_watchdog_killed_a_hung_child_and_why() {
    let inst = Instance::start(
        "killedfor",
        1,
        &["--poll-interval", "200ms", "--hang-timeout", "1s"],
    );
    let pid = inst.worker_pid(0);
    signal(pid, Signal::SIGSTOP);
    let s = inst.wait_status("the hung worker replaced", Duration::from_secs(15), |s| {
        s["workers"][0]["restarts"] == 1 && s["workers"][0]["state"] == "idle"
    });
    assert_eq!(s["workers"][0]["last_exit"], "signal 9 (SIGKILL)", "{s}");
    assert_eq!(s["workers"][0]["killed_for"], "hang", "{s}");
    let table = String::from_utf8_lossy(&inst.kennelctl(&["status"]).stdout).into_owned();
    assert!(
        table.contains("signal 9 (SIGKILL), killed by the watchdog: hang"),
        "{table}"
    );
    // A kill from outside is not the watchdog's: no reason is claimed.
    signal(inst.worker_pid(0), Signal::SIGKILL);
    let s = inst.wait_status("the killed worker replaced", Duration::from_secs(15), |s| {
        s["workers"][0]["restarts"] == 2 && s["workers"][0]["state"] == "idle"
    });
    assert_eq!(
        s["workers"][0]["killed_for"],
        serde_json::Value::Null,
        "{s}"
    );
}

#[test]
fn status_of_an_instance_whose_watchdog_is_gone_is_stale_and_fails() {
    let mut inst = Instance::start("gone", 1, &[]);
    let children = [inst.dispatcher_pid(), inst.worker_pid(0)];
    signal(inst.watchdog.child.id() as i32, Signal::SIGKILL);
    let _ = inst.watchdog.child.wait();
    wait_for(
        "the children to die with it",
        Duration::from_secs(5),
        || children.iter().all(|p| !alive(*p)),
    );
    let out = inst.kennelctl(&["status"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(table.contains("GONE") && table.contains("STALE"), "{table}");
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("dispatcher") || l.starts_with("worker"))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows.iter().all(|r| r.contains(" stale ")), "{table}");
    let json = inst.kennelctl(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["stale"], true);
    assert_eq!(v["dispatcher"]["state"], "stale");
    // The next start clears what the dead watchdog left (segment, semaphore, FIFOs).
    let dir = inst.dir.clone();
    drop(inst);
    let next = Instance::start_in(dir, 1, &[]);
    assert!(next.log_text().contains("removed the stale shared segment"));
}

#[test]
fn kennel_client_with_a_runtime_dir_it_cannot_read_names_it_instead_of_guessing_a_port() {
    let dir = fresh_dir("noinstance");
    let out = Command::new(bin("kennel-client"))
        .arg("--runtime-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("no Kennel instance to read in {}", dir.display())),
        "{err}"
    );
    // The default directory exists but holds no instance: said, never a guessed port (it
    // once reached another instance on 2222).
    let xdg = fresh_dir("xdg");
    std::fs::create_dir_all(xdg.join("kennel")).unwrap();
    let out = Command::new(bin("kennel-client"))
        .env("XDG_RUNTIME_DIR", &xdg)
        .env_remove("KENNEL_RUNTIME_DIR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "no Kennel instance to read in {}/kennel",
            xdg.display()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&xdg);
}
