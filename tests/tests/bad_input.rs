//! Hostile and broken clients: each gets a clear ERR line or a timeout close, and nobody else
//! notices.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use kennel_tests::*;

fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v);
    v
}

#[test]
fn oversized_line_gets_an_error_and_the_connection_closes() {
    let inst = Instance::start("oversized", 1, &[]);
    let mut s = TcpStream::connect(inst.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(&vec![b'r'; 5000]);
    let answer = read_all(&mut s);
    assert!(
        answer.starts_with(b"ERR request line over 4096 bytes"),
        "{answer:?}"
    );
    // Others are unaffected.
    assert_eq!(StudentClient::connect(inst.addr).request("echo", "x"), b"x");
}

#[test]
fn garbage_and_unknown_types_get_errors_and_the_connection_stays_usable() {
    let inst = Instance::start("garbage", 1, &[]);
    let mut c = StudentClient::connect(inst.addr);
    let e = c.ask("\u{ff}\u{0}binary\u{7}garbage");
    assert!(e.starts_with(b"ERR unknown request type"), "{e:?}");
    let e = c.ask("requetetype3");
    assert!(e.starts_with(b"ERR unknown request type"), "{e:?}");
    c.control.write_all(b"\xff\xfe\x00\n").unwrap();
    let e = recv_1024(&mut c.control);
    assert!(e.starts_with(b"ERR unknown request type"), "{e:?}");
    // Same connection, valid request: served.
    assert_eq!(c.request("echo", "still here"), b"still here");
    assert_eq!(inst.status()["dispatcher"]["failed"], 3);
}

#[test]
fn a_silent_client_delays_nobody_and_is_closed_after_the_idle_timeout() {
    let inst = Instance::start("silent", 1, &["--idle-timeout", "1s"]);
    let mut silent = TcpStream::connect(inst.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut half = TcpStream::connect(inst.addr).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    half.write_all(b"requete").unwrap();
    // While both sit there, others are served at once.
    for _ in 0..5 {
        assert_eq!(
            StudentClient::connect(inst.addr).request("echo", "fast"),
            b"fast"
        );
    }
    assert_eq!(read_all(&mut silent), b"ERR idle timeout, closing\n");
    assert_eq!(
        read_all(&mut half),
        b"ERR incomplete request timeout, closing\n"
    );
}

#[test]
fn a_client_that_vanishes_mid_request_frees_the_worker() {
    let inst = Instance::start(
        "vanish",
        1,
        &["--client-timeout", "1s", "--queue-timeout", "5s"],
    );
    let mut c = StudentClient::connect(inst.addr);
    // Assigned, connects, announces 100 bytes, sends 3, and vanishes.
    let port: u16 = String::from_utf8(c.ask("echo")).unwrap().parse().unwrap();
    let mut w = TcpStream::connect((inst.addr.ip(), port)).unwrap();
    w.write_all(b"LEN 100\nabc").unwrap();
    drop(w);
    // Assigned and never connects at all.
    let _ = c.ask("echo");
    // Both assignments end (truncated; expired) and the single worker serves again.
    let mut next = StudentClient::connect(inst.addr);
    assert_eq!(next.request("echo", "after"), b"after");
    // The served count is written after the answer leaves: wait for it too, not only for
    // the failures (reading it at once raced the worker's bookkeeping once in CI).
    let s = inst.wait_status("the failures to be counted", Duration::from_secs(5), |s| {
        s["workers"][0]["failed"] == 2 && s["workers"][0]["served"] == 1
    });
    assert_eq!(s["workers"][0]["served"], 1);
    assert!(inst
        .log_text()
        .contains("closed before the announced payload arrived"));
    assert!(inst.log_text().contains("never connected"));
}

#[test]
fn a_payload_over_the_limit_is_refused_before_it_is_read() {
    let inst = Instance::start("payload", 1, &["--max-payload", "1000"]);
    let mut c = StudentClient::connect(inst.addr);
    let port: u16 = String::from_utf8(c.ask("echo")).unwrap().parse().unwrap();
    let mut w = TcpStream::connect(SocketAddr::new(inst.addr.ip(), port)).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    w.write_all(b"LEN 5000\n").unwrap();
    let answer = read_all(&mut w);
    assert!(
        answer.starts_with(b"ERR payload of 5000 bytes exceeds the limit of 1000"),
        "{answer:?}"
    );
    assert_eq!(c.request("echo", "small"), b"small");
}

#[test]
fn one_connection_cannot_hold_the_pool_with_workers_it_never_uses() {
    use std::io::{BufRead, BufReader};
    let inst = Instance::start("hoarder", 4, &[]);
    let hoarder = TcpStream::connect(inst.addr).unwrap();
    hoarder
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut lines = BufReader::new(hoarder.try_clone().unwrap()).lines();
    (&hoarder).write_all(b"echo\necho\necho\necho\n").unwrap();
    let answers: Vec<String> = (0..4).map(|_| lines.next().unwrap().unwrap()).collect();
    let ports: Vec<u16> = answers[..2].iter().map(|a| a.parse().unwrap()).collect();
    assert_eq!(ports.len(), 2, "{answers:?}");
    for refused in &answers[2..] {
        assert!(
            refused.starts_with("ERR this connection already holds 2 unused workers"),
            "{answers:?}"
        );
    }
    // The other half of the pool still serves everyone else.
    assert_eq!(
        StudentClient::connect(inst.addr).request("echo", "free"),
        b"free"
    );
    // Once the hoarder uses its workers, it may reserve again.
    for port in ports {
        let reply = worker_exchange(SocketAddr::new(inst.addr.ip(), port), "used");
        assert_eq!(reply, b"used");
    }
    wait_for("both reservations used", Duration::from_secs(5), || {
        let s = inst.status();
        (0..4).all(|k| s["workers"][k]["ping"] == s["workers"][k]["pong"])
    });
    (&hoarder).write_all(b"echo\n").unwrap();
    let again = lines.next().unwrap().unwrap();
    assert!(again.parse::<u16>().is_ok(), "{again}");
}
