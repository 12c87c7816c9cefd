//! A slow client never gets a healthy worker killed: the worker's heartbeat means "this
//! process is alive", whatever its client does. A client that trickles its message, or never
//! reads a large answer, keeps the worker only until the client timeout — which is longer than
//! the hang timeout here on purpose — and the worker is neither killed nor restarted.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use kennel_tests::*;

/// Hang timeout 1 s (checked every 250 ms), client timeout 3 s: a worker blocked on its client
/// with a silent heartbeat would be killed long before the client timeout.
const FLAGS: &[&str] = &[
    "--poll-interval",
    "250ms",
    "--hang-timeout",
    "1s",
    "--client-timeout",
    "3s",
    "--max-payload",
    "16777216",
];

/// Asks the dispatcher for a worker; returns its address.
fn reserve(inst: &Instance) -> SocketAddr {
    let mut c = TcpStream::connect(inst.addr).unwrap();
    c.write_all(b"echo\n").unwrap();
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap();
    SocketAddr::new(inst.addr.ip(), port)
}

fn restarts_and_pid(inst: &Instance) -> (i64, i64) {
    let s = inst.status();
    let w = &s["workers"][0];
    (w["restarts"].as_i64().unwrap(), w["pid"].as_i64().unwrap())
}

#[test]
fn a_client_trickling_its_message_past_the_hang_timeout_does_not_get_its_worker_killed() {
    let inst = Instance::start("trickle", 1, FLAGS);
    let before = restarts_and_pid(&inst);
    let mut w = TcpStream::connect(reserve(&inst)).unwrap();
    // A 40-byte body announced at once, then sent one byte every 100 ms: complete after 4 s,
    // past the client timeout.
    w.write_all(b"LEN 40\n").unwrap();
    let trickler = std::thread::spawn(move || {
        for _ in 0..40 {
            if w.write_all(b"x").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // The worker gives up on the client at its timeout (3 s): proof it was alive past the
    // hang timeout (1 s) the whole time.
    wait_for(
        "the worker to give up on its client",
        Duration::from_secs(20),
        || {
            inst.log_text()
                .contains("sent no complete message within the client timeout")
        },
    );
    let _ = trickler.join();
    assert_eq!(restarts_and_pid(&inst), before, "{}", inst.log_text());
    assert!(!inst.log_text().contains("TIMEOUT"), "{}", inst.log_text());
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "next"),
        b"next"
    );
}

#[test]
fn a_client_that_never_reads_a_large_answer_does_not_get_its_worker_killed() {
    let inst = Instance::start("noread", 1, FLAGS);
    let before = restarts_and_pid(&inst);
    let mut w = TcpStream::connect(reserve(&inst)).unwrap();
    // A 12 MiB echo, never read: far more than the socket buffers hold.
    let body = vec![b'x'; 12 << 20];
    w.write_all(format!("LEN {}\n", body.len()).as_bytes())
        .unwrap();
    w.write_all(&body).unwrap();
    wait_for(
        "the worker to give up writing",
        Duration::from_secs(20),
        || {
            inst.log_text()
                .contains("the client read nothing of its answer within the client timeout")
        },
    );
    assert_eq!(restarts_and_pid(&inst), before, "{}", inst.log_text());
    assert!(!inst.log_text().contains("TIMEOUT"), "{}", inst.log_text());
    drop(w);
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "next"),
        b"next"
    );
}
