//! Standby workers (`--standby-workers`, watchdog/src/spare.rs): a worker started in advance
//! takes a dead worker's slot in one message, a new standby follows (and
//! replaces one killed while it waits), `0` turns them off, and a stop leaves none.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use kennel_client::{Client, ClientConfig};
use kennel_common::segment::{Access, Segment};
use kennel_tests::*;
use nix::sys::signal::Signal;

/// The watchdog's standby workers: its children started with `--standby-fd` that hold no
/// slot (one that took a slot keeps its command line).
fn standbys(inst: &Instance) -> Vec<u32> {
    let seg = Segment::attach(&inst.runtime(), Access::ReadOnly).expect("segment");
    let watchdog = seg.header().watchdog_pid.load(SeqCst);
    let slots: Vec<u32> = inst.snapshot().present().map(|r| r.pid).collect();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| kennel_common::procfs::parent_of(*p) == Some(watchdog) && !slots.contains(p))
        .filter(|p| kennel_common::procfs::cmdline(*p).is_some_and(|c| c.contains("--standby-fd")))
        .collect()
}

fn echo(inst: &Instance) {
    let mut client = Client::connect(ClientConfig::new(inst.addr)).expect("connect");
    for i in 0..4 {
        let msg = format!("ping {i}");
        let got = client.request("echo", msg.as_bytes()).expect("echo");
        assert_eq!(got.body, msg.as_bytes());
    }
}

#[test]
fn a_dead_worker_s_slot_goes_to_the_standby_and_a_new_standby_follows() {
    let inst = Instance::start("standby", 2, &[]);
    wait_for("a standby worker", Duration::from_secs(10), || {
        standbys(&inst).len() == 1
    });
    let spare = standbys(&inst)[0];
    let old = inst.worker_pid(0);
    signal(old, Signal::SIGKILL);
    let s = inst.wait_status("slot 0 back", Duration::from_secs(10), |s| {
        let w = &s["workers"][0];
        w["pid"].as_i64() != Some(i64::from(old)) && w["state"] == "idle"
    });
    assert_eq!(
        s["workers"][0]["pid"].as_i64(),
        Some(i64::from(spare)),
        "the standby took the slot: {s}"
    );
    assert_eq!(s["workers"][0]["restarts"], 1, "{s}");
    echo(&inst);
    wait_for("a new standby worker", Duration::from_secs(10), || {
        standbys(&inst).iter().any(|p| *p != spare)
    });
    assert_eq!(standbys(&inst).len(), 1, "exactly one standby");
    let log = inst.log_text();
    assert!(
        log.contains(&format!("given to standby worker {spare}")),
        "{log}"
    );
    assert!(
        log.contains("worker 0[") && log.contains(&format!("[{spare}]")),
        "{log}"
    );
    // A standby killed while it waits is replaced, and no slot is touched.
    let next = standbys(&inst)[0];
    signal(next as i32, Signal::SIGKILL);
    wait_for("the standby replaced", Duration::from_secs(10), || {
        standbys(&inst).iter().any(|p| *p != next)
    });
    let s = inst.status();
    assert_eq!(s["workers"][1]["restarts"], 0, "{s}");
    assert_eq!(s["workers"][0]["restarts"], 1, "{s}");
    // Stopped with the instance.
    let left = standbys(&inst);
    assert!(inst.stop().success());
    for p in left {
        assert!(!alive(p as i32), "standby {p} outlived the instance");
    }
}

#[test]
fn no_standby_with_zero_and_a_restart_still_works() {
    let inst = Instance::start("standby0", 1, &["--standby-workers", "0"]);
    let old = inst.worker_pid(0);
    signal(old, Signal::SIGKILL);
    inst.wait_status("slot 0 back", Duration::from_secs(10), |s| {
        let w = &s["workers"][0];
        w["pid"].as_i64() != Some(i64::from(old)) && w["state"] == "idle"
    });
    echo(&inst);
    assert!(
        standbys(&inst).is_empty(),
        "a standby with --standby-workers 0"
    );
}

/// A standby is started without a parent-death signal (`posix_spawn`, no pre-exec step): it
/// must still go when the watchdog dies, whether it waits for a slot or is still starting —
/// the end of its socket tells it.
#[test]
fn a_waiting_standby_exits_when_the_watchdog_is_killed() {
    let mut inst = Instance::start("standbykill", 1, &[]);
    wait_for("a standby worker", Duration::from_secs(10), || {
        standbys(&inst).len() == 1
    });
    let spare = standbys(&inst)[0];
    signal(inst.watchdog.pid() as i32, Signal::SIGKILL);
    let _ = inst.watchdog.child.wait();
    wait_for(
        "the standby to exit after the watchdog's death",
        Duration::from_secs(2),
        || !alive(spare as i32),
    );
    // The killed watchdog left its segment and semaphore: the next start there removes them.
    let dir = inst.dir.clone();
    drop(inst);
    let next = Instance::start_in(dir, 1, &[]);
    assert!(
        next.log_text().contains("removed the stale shared segment"),
        "{}",
        next.log_text()
    );
    assert!(next.stop().success());
}
