//! Every asynchronous signal whose default action is to terminate is either a clean stop or
//! ignored, in every Kennel process: a stray `kill -USR1` takes nothing down, and SIGQUIT stops
//! the instance as cleanly as SIGTERM.

use std::time::Duration;

use kennel_common::shutdown::IGNORED_SIGNALS;
use kennel_tests::*;
use nix::sys::signal::Signal;

#[test]
fn stray_signals_are_ignored_by_every_process_and_sigquit_stops_cleanly() {
    let inst = Instance::start("signals", 1, &[]);
    let pids = [
        inst.watchdog.child.id() as i32,
        inst.dispatcher_pid(),
        inst.worker_pid(0),
    ];
    for sig in IGNORED_SIGNALS {
        for pid in pids {
            signal(pid, sig);
        }
    }
    // Each process says so once per signal: proof each one received and survived them all.
    wait_for(
        "every process to ignore every signal",
        Duration::from_secs(10),
        || {
            let log = inst.log_text();
            IGNORED_SIGNALS
                .iter()
                .all(|s| log.matches(&format!("ignoring {}", s.as_str())).count() >= pids.len())
        },
    );
    let s = inst.status();
    assert_eq!(inst.dispatcher_pid(), pids[1], "{s}");
    assert_eq!(inst.worker_pid(0), pids[2], "{s}");
    assert_eq!(s["workers"][0]["restarts"], 0, "{s}");
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "still"),
        b"still"
    );
    // SIGQUIT: the same clean stop as SIGTERM (no core dump, nothing left).
    let mut inst = inst;
    signal(pids[0], Signal::SIGQUIT);
    let status = inst.watchdog.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", inst.log_text());
    assert!(inst.log_text().contains("received SIGQUIT: stopping"));
    let left: Vec<_> = std::fs::read_dir(&inst.dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A client that asked for a port and went away leaves a reservation: the instance's stop
/// drops it at once, and no worker waits out the grace period into a SIGKILL.
#[test]
fn a_stop_drops_a_reservation_nobody_used_and_needs_no_sigkill() {
    let mut inst = Instance::start("stop-reserved", 1, &[]);
    let mut control = std::net::TcpStream::connect(inst.addr).unwrap();
    control
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    std::io::Write::write_all(&mut control, b"requetetype1").unwrap();
    let port = kennel_tests::recv_1024(&mut control);
    assert!(String::from_utf8_lossy(&port).trim().parse::<u16>().is_ok());
    drop(control);
    let status = inst
        .watchdog
        .stop(std::time::Duration::from_secs(20))
        .expect("stopped");
    assert!(status.success(), "{status:?}");
    let log = inst.log_text();
    assert!(log.contains("dropped assignment"), "{log}");
    assert!(
        !log.contains("SIGKILL"),
        "a normal stop needed a SIGKILL:\n{log}"
    );
}
