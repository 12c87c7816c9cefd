//! The assignment's step 5 to the letter: on the worker connection the client and the worker
//! "exchange some information and cut the connection" — message after message, in the bare
//! style of the published student clients and in the framed styles, the slot busy for the
//! whole session.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kennel_tests::{recv_1024, wait_for, Instance};

/// Asks the dispatcher for `request_type` as the student clients do and connects to the port.
fn worker_for(inst: &Instance, request_type: &str) -> TcpStream {
    let mut control = TcpStream::connect(inst.addr).unwrap();
    control
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    control.write_all(request_type.as_bytes()).unwrap();
    let port: u16 = String::from_utf8(recv_1024(&mut control))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let w = TcpStream::connect((inst.addr.ip(), port)).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    w
}

fn tasks(inst: &Instance) -> u64 {
    inst.status()["workers"][0]["tasks"].as_u64().unwrap_or(99)
}

#[test]
fn a_student_client_talks_several_times_on_one_worker_connection() {
    let inst = Instance::start("session-bare", 1, &[]);
    // Damien-Collot/OSPS's client: Hello, read, encore, read, a goodbye, close.
    let mut w = worker_for(&inst, "echo");
    w.write_all(b"Hello").unwrap();
    assert_eq!(recv_1024(&mut w), b"Hello");
    assert_eq!(
        tasks(&inst),
        1,
        "the slot is the client's for the whole session"
    );
    w.write_all(b"encore").unwrap();
    assert_eq!(recv_1024(&mut w), b"encore");
    w.write_all(b"bye").unwrap();
    assert_eq!(recv_1024(&mut w), b"bye");
    // The goodbye ends the session: the worker closes, the slot is free again.
    let mut rest = Vec::new();
    w.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    wait_for("the slot free", Duration::from_secs(5), || {
        tasks(&inst) == 0
    });
    let s = inst.status();
    assert_eq!(
        s["workers"][0]["served"], 1,
        "one client served, three messages: {s}"
    );
    assert_eq!(s["workers"][0]["failed"], 0, "{s}");
}

#[test]
fn framed_messages_make_a_session_too_until_the_client_closes() {
    let inst = Instance::start("session-framed", 1, &[]);
    let w = worker_for(&inst, "echo");
    let mut r = BufReader::new(w.try_clone().unwrap());
    let mut w = w;
    for i in 0..3 {
        let msg = format!("line {i}\n");
        w.write_all(msg.as_bytes()).unwrap();
        let mut answer = String::new();
        r.read_line(&mut answer).unwrap();
        assert_eq!(answer, msg);
    }
    // Two length-framed messages written at once: both answered, in order.
    w.write_all(b"LEN 3\nabcLEN 2\nde").unwrap();
    let mut got = [0u8; 17];
    r.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"LEN 3\nabcLEN 2\nde");
    w.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    wait_for("the slot free", Duration::from_secs(5), || {
        tasks(&inst) == 0
    });
}

#[test]
fn a_silent_session_ends_at_the_client_timeout_and_frees_the_slot() {
    let inst = Instance::start("session-idle", 1, &["--client-timeout", "1s"]);
    let mut w = worker_for(&inst, "requetetype2");
    w.write_all(b"date?").unwrap();
    assert_eq!(recv_1024(&mut w).len(), 10, "YYYY-MM-DD");
    // Then nothing: the worker closes after the timeout and serves the next client.
    let mut rest = Vec::new();
    w.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    wait_for("the slot free", Duration::from_secs(5), || {
        tasks(&inst) == 0
    });
    let mut next = worker_for(&inst, "echo");
    next.write_all(b"next").unwrap();
    assert_eq!(recv_1024(&mut next), b"next");
}

#[test]
fn an_unknown_digit_on_the_control_connection_gets_its_err_and_the_connection_stays_usable() {
    // Two workers: the first reservation is not used here, and holds its slot a while.
    let inst = Instance::start("session-digit", 2, &[]);
    let mut control = TcpStream::connect(inst.addr).unwrap();
    control
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    control.write_all(b"requetetype1").unwrap();
    let port = String::from_utf8(recv_1024(&mut control)).unwrap();
    assert!(port.trim().parse::<u16>().is_ok(), "{port:?}");
    // The published client sends one digit here (its own server's menu).
    control.write_all(b"6").unwrap();
    let err = String::from_utf8(recv_1024(&mut control)).unwrap();
    assert!(err.starts_with("ERR "), "{err:?}");
    control.write_all(b"requetetype2").unwrap();
    let again = String::from_utf8(recv_1024(&mut control)).unwrap();
    assert!(again.trim().parse::<u16>().is_ok(), "{again:?}");
}
