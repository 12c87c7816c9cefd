//! systemd's readiness protocol: the test plays systemd — it binds the notification socket,
//! hands it to the watchdog in `NOTIFY_SOCKET` with `WATCHDOG_USEC`, and reads the datagrams.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use kennel_tests::{fresh_dir, Instance};

/// Datagrams until one contains `want` (or the deadline passes): all of them, for checks.
fn until(sock: &UnixDatagram, want: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        sock.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ))
        .unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            let d = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = d.contains(want);
            seen.push(d);
            if done {
                return seen;
            }
        }
    }
    panic!("no datagram with {want:?} within {within:?}; got {seen:?}");
}

#[test]
fn ready_status_watchdog_pings_and_stopping_reach_systemd() {
    let path = fresh_dir("notify").with_extension("sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let env = [
        ("NOTIFY_SOCKET", path.display().to_string()),
        ("WATCHDOG_USEC", "400000".to_string()),
    ];
    let inst = Instance::start_env("notify-inst", &["--workers", "2"], &env);
    let got = until(&sock, "READY=1", Duration::from_secs(10));
    let ready = got.last().unwrap();
    assert!(ready.contains("STATUS=2/2 workers ready"), "{ready}");
    // Pings every 200 ms (half of WATCHDOG_USEC) while the loop turns.
    let t = Instant::now();
    until(&sock, "WATCHDOG=1", Duration::from_secs(2));
    until(&sock, "WATCHDOG=1", Duration::from_secs(2));
    assert!(t.elapsed() < Duration::from_secs(2));
    // A status change is told.
    assert!(inst.kennelctl(&["stop", "worker", "1"]).status.success());
    until(&sock, "STATUS=1/1 workers ready", Duration::from_secs(10));
    // The stop says so.
    assert!(inst.kennelctl(&["shutdown"]).status.success());
    until(&sock, "STOPPING=1", Duration::from_secs(10));
    let _ = std::fs::remove_file(&path);
}
