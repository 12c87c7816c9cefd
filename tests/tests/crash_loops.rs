//! Children that cannot stay up, and starts that cannot happen: a crash loop backs off, goes
//! FATAL (and `kennelctl check` says so), and is retried; a port that cannot be bound or a
//! missing binary stops the start at once, naming it, with nothing left behind.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, Segment};
use kennel_tests::*;
use nix::sys::signal::Signal;

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
#[ignore = "needs root (mounts a tiny /dev/shm in a private mount namespace); scripts/test.sh runs it when root"]
fn a_full_dev_shm_stops_the_start_with_enospc_and_leaves_nothing() {
    assert!(
        nix::unistd::getuid().is_root(),
        "needs root: run with --include-ignored as root"
    );
    let dir = fresh_dir("fullshm");
    // A private mount namespace whose /dev/shm is an 8 KiB tmpfs, filled before the start.
    let script = format!(
        "mount -t tmpfs -o size=8k tmpfs /dev/shm || exit 99; \
         dd if=/dev/zero of=/dev/shm/fill bs=4096 count=4 2>/dev/null; \
         exec '{}' --runtime-dir '{}' --port 0",
        bin("kennel-watchdog").display(),
        dir.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(99),
        "could not mount a tmpfs: {err}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a clean error exit, not a signal: {err}"
    );
    assert!(
        err.contains("reserving") && err.contains("No space left on device"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}\n{err}");
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn a_child_waiting_in_backoff_fails_check_naming_it() {
    let bins = bin_dir_with_failing_worker("backoffcheck");
    let dir = fresh_dir("backoffcheck");
    let mut wd = Guarded(
        Command::new(bins.join("kennel-watchdog"))
            .arg("--runtime-dir")
            .arg(&dir)
            .args([
                "--port",
                "0",
                "--workers",
                "1",
                "--max-restarts",
                "100",
                "--bin-dir",
            ])
            .arg(&bins)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = wd.0.stderr.take().unwrap();
    // Follow the log to the fifth backoff (1.6 s long): a wide window for the check.
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line.contains("worker 0 died") && line.contains("next start in 1600 ms") {
            break;
        }
    }
    let check = Command::new(bin("kennelctl"))
        .arg("--runtime-dir")
        .arg(&dir)
        .arg("check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{text}");
    assert!(
        text.contains("child-up") && text.contains("worker 0 is down"),
        "{text}"
    );
    signal(wd.0.id() as i32, Signal::SIGTERM);
    assert!(wd.0.wait().unwrap().success());
    let _ = std::fs::remove_dir(&dir);
    let _ = std::fs::remove_dir_all(&bins);
}
