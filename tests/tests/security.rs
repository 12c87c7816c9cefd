//! The attacks of docs/SECURITY.md, one test each (or a few per test): what Kennel does when
//! a client, a local process of the same user, or a pre-existing object is hostile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use kennel_client::{Client, ClientConfig};
use kennel_tests::*;

fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v);
    v
}

/// Runs a watchdog on `dir` that is expected to refuse to start (it exits at once).
fn start_watchdog_in(dir: &std::path::Path) -> std::process::Output {
    Command::new(bin("kennel-watchdog"))
        .arg("--runtime-dir")
        .arg(dir)
        .args(["--port", "0"])
        .stdout(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_slow_loris_is_cut_off_at_the_idle_timeout_however_it_trickles() {
    let inst = Instance::start("slowloris", 1, &["--idle-timeout", "1s"]);
    let mut s = TcpStream::connect(inst.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = s.try_clone().unwrap();
    // One byte every 300 ms: the whole type would take 3.6 s, each gap is under the timeout.
    let trickle = std::thread::spawn(move || {
        for b in b"requetetype1" {
            if writer.write_all(&[*b]).is_err() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        true
    });
    let answer = read_all(&mut s);
    assert_eq!(text(&answer), "ERR incomplete request timeout, closing\n");
    let _ = trickle.join();
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "ok"),
        b"ok"
    );
}

#[test]
fn a_connection_flood_meets_the_caps_and_capacity_comes_back() {
    let inst = Instance::start(
        "flood",
        1,
        &["--max-connections", "4", "--max-per-source", "3"],
    );
    // Three from 127.0.0.1 fill its per-source cap; the fourth from it is refused.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(inst.addr).unwrap())
        .collect();
    let mut fourth = TcpStream::connect(inst.addr).unwrap();
    fourth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        text(&read_all(&mut fourth)),
        "ERR busy: too many connections\n"
    );
    // Another source still gets in, up to the total cap of 4.
    let mut other = connect_from([127, 0, 0, 2], inst.addr);
    other.write_all(b"echo\n").unwrap();
    let mut buf = [0u8; 64];
    let n = other.read(&mut buf).unwrap();
    assert!(
        buf[..n].ends_with(b"\n") && buf[0].is_ascii_digit(),
        "{:?}",
        text(&buf[..n])
    );
    let mut fifth = connect_from([127, 0, 0, 3], inst.addr);
    assert_eq!(
        text(&read_all(&mut fifth)),
        "ERR busy: too many connections\n"
    );
    // Once the flood goes away, everyone is served again.
    drop(held);
    drop(other);
    wait_for("capacity to come back", Duration::from_secs(10), || {
        let mut c = StudentClient::connect(inst.addr);
        c.control.write_all(b"echo").is_ok()
            && recv_1024(&mut c.control)
                .first()
                .is_some_and(u8::is_ascii_digit)
    });
}

#[test]
fn tokens_admit_exactly_their_client_once() {
    let inst = Instance::start("token", 1, &["--require-token", "--client-timeout", "2s"]);
    let ip = inst.addr.ip();
    // Kennel's client speaks tokens.
    let mut client = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    assert_eq!(
        client.request("echo", b"with token").unwrap().body,
        b"with token"
    );

    let mut control = TcpStream::connect(inst.addr).unwrap();
    control
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let ask = |control: &mut TcpStream| -> (u16, String) {
        control.write_all(b"echo\n").unwrap();
        let line = text(&recv_1024(control));
        let mut parts = line.trim().split(' ');
        let port: u16 = parts.next().unwrap().parse().unwrap();
        (port, parts.next().expect("a token").to_string())
    };
    let (port, token) = ask(&mut control);
    assert_eq!(token.len(), 16);
    let worker = SocketAddr::new(ip, port);
    // No token: refused. A wrong token: refused. Neither spends the assignment.
    let mut w = TcpStream::connect(worker).unwrap();
    w.write_all(b"LEN 2\nhi").unwrap();
    assert!(text(&read_all(&mut w)).starts_with("ERR a token is required"));
    let mut w = TcpStream::connect(worker).unwrap();
    w.write_all(b"TOKEN 0123456789abcdef\nLEN 2\nhi").unwrap();
    assert_eq!(text(&read_all(&mut w)), "ERR wrong or used token\n");
    // The right token: served.
    let mut w = TcpStream::connect(worker).unwrap();
    w.write_all(format!("TOKEN {token}\nLEN 2\nhi").as_bytes())
        .unwrap();
    assert_eq!(text(&read_all(&mut w)), "LEN 2\nhi");
    // Replayed: refused at once, before the worker reads anything.
    let mut w = TcpStream::connect(worker).unwrap();
    w.write_all(format!("TOKEN {token}\nLEN 2\nhi").as_bytes())
        .unwrap();
    assert!(text(&read_all(&mut w)).starts_with("ERR not assigned"));
    let s = inst.status();
    assert_eq!(s["workers"][0]["served"], 2);
    assert_eq!(s["workers"][0]["failed"], 3);
}

#[test]
fn a_squatted_or_unrecognisable_segment_is_refused_and_left_untouched() {
    use nix::fcntl::OFlag;
    use nix::sys::mman::{shm_open, shm_unlink};
    use nix::sys::stat::Mode;
    let dir = fresh_dir("squat");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let name = format!("/kennel-{}-5eed5eed5eed5eed", nix::unistd::getuid());
    std::fs::write(dir.join("segment"), &name).unwrap();
    std::fs::set_permissions(dir.join("segment"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let fd = shm_open(
        name.as_str(),
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )
    .unwrap();
    let junk = vec![0x5a_u8; 4096];
    nix::unistd::write(&fd, &junk).unwrap();
    let out = start_watchdog_in(&dir);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&name) && err.contains("Refusing to remove or reuse it"),
        "{err}"
    );
    // Untouched: same size, same bytes.
    let mut content = Vec::new();
    std::fs::File::open(format!("/dev/shm{name}"))
        .unwrap()
        .read_to_end(&mut content)
        .unwrap();
    assert_eq!(content, junk);
    if nix::unistd::getuid().is_root() {
        // Owned by someone else: refused as foreign.
        nix::unistd::fchown(&fd, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let out = start_watchdog_in(&dir);
        assert!(
            text(&out.stderr).contains("belongs to uid 65534"),
            "{}",
            text(&out.stderr)
        );
    }
    shm_unlink(name.as_str()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_symlink_or_a_file_where_a_fifo_belongs_is_refused_and_not_followed() {
    for (fifo, make) in [("worker-0.fifo", "symlink"), ("dispatcher.fifo", "file")] {
        let dir = fresh_dir("fifosquat");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = dir.with_extension("target");
        std::fs::write(&target, b"precious").unwrap();
        if make == "symlink" {
            std::os::unix::fs::symlink(&target, dir.join(fifo)).unwrap();
        } else {
            std::fs::write(dir.join(fifo), b"not a fifo").unwrap();
        }
        let out = start_watchdog_in(&dir);
        let err = text(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains(fifo) && err.contains("is not a FIFO of ours"),
            "{err}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(&target).unwrap();
    }
}

#[test]
fn a_runtime_directory_open_to_others_is_refused() {
    let dir = fresh_dir("opendir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = start_watchdog_in(&dir);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("it must be private (0700)"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_corrupted_segment_and_a_foreign_pid_are_repaired_without_a_panic_or_a_stray_signal() {
    let inst = Instance::start("vandal", 2, &["--poll-interval", "200ms"]);
    let pids = (
        inst.dispatcher_pid(),
        inst.worker_pid(0),
        inst.worker_pid(1),
    );
    // Our own pid goes into worker 0's slot: if anything signalled the pid it read from the
    // segment, this test process would be the victim.
    let out = Command::new(bin("segment_vandal"))
        .arg(&inst.dir)
        .arg(std::process::id().to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // kennelctl cannot even attach while the magic is wrong; the watchdog restores it.
    let s = inst.wait_status_ok("the segment to be repaired", Duration::from_secs(10), |s| {
        s["workers"][0]["state"] == "idle"
            && s["workers"][1]["state"] == "idle"
            && s["workers"][1]["ping"] == s["workers"][1]["pong"]
            && s["dispatcher"]["supervision"] == "running"
            && s["workers"][0]["pid"].as_i64() == Some(i64::from(pids.1))
            // The pid is the watchdog's to restore, the endpoint the worker's: wait for both.
            && s["workers"][0]["port"] != 1
    });
    assert_ne!(s["workers"][0]["port"], 1);
    let check = inst.kennelctl(&["check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    // Nobody was restarted: repair, not replacement.
    assert_eq!(
        (
            inst.dispatcher_pid(),
            inst.worker_pid(0),
            inst.worker_pid(1)
        ),
        pids
    );
    let log = inst.log_text();
    assert!(log.contains("restored the segment header: magic"), "{log}");
    assert!(
        log.contains("our record was altered") || log.contains("repaired worker 0's record"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    let mut client = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    for _ in 0..4 {
        assert_eq!(
            client.request("echo", b"still fine").unwrap().body,
            b"still fine"
        );
    }
}

#[test]
fn garbage_on_the_fifos_is_discarded_and_logged() {
    let inst = Instance::start("fifogarbage", 1, &[]);
    for fifo in ["dispatcher.fifo", "watchdog.fifo", "worker-0.fifo"] {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(inst.dir.join(fifo))
            .unwrap();
        f.write_all(b"garbage!").unwrap();
        f.write_all(b"KN\x01\x09aaaabbbbcccc").unwrap();
    }
    // The next exchange makes every reader drain its FIFO; all still work.
    for _ in 0..3 {
        assert_eq!(
            StudentClient::connect(inst.addr).request("echo", "ok"),
            b"ok"
        );
    }
    wait_for("the garbage to be reported", Duration::from_secs(5), || {
        inst.log_text().matches("discarding").count() >= 2
    });
    assert!(!inst.log_text().contains("panicked"));
}
