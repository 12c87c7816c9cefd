//! The instance survives damage to its own files: liveness belongs to the instance, not to a
//! path, so removing `watchdog.lock` lets no second watchdog remove or reuse a live instance's
//! objects, and the live one still stops cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

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
