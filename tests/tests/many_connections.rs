//! The dispatcher's event loop at scale: thousands of control connections open at once, a
//! client that sends requests without reading the answers, and every connection still
//! served afterwards. (The 10,000-connection figures are `kennel-bench load`'s.)

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use kennel_tests::{allow_fds, wait_for, Instance};

const OPEN: usize = 4000;

#[test]
fn thousands_of_open_connections_are_all_accepted_served_and_released() {
    allow_fds(OPEN as u64 + 1000);
    let inst = Instance::start("many-conns", 2, &[]);
    let mut conns: Vec<TcpStream> = (0..OPEN)
        .map(|_| TcpStream::connect(inst.addr).expect("connect"))
        .collect();
    wait_for("every connection accepted", Duration::from_secs(20), || {
        inst.snapshot().dispatcher().connections == OPEN as u64
    });
    // A real client is served while they are open.
    let mut c = kennel_client::Client::connect(kennel_client::ClientConfig::new(inst.addr))
        .expect("connect");
    for _ in 0..20 {
        assert_eq!(c.request("echo", b"real").unwrap().body, b"real");
    }
    // Every open connection still gets an answer to a request (the port of a worker).
    for s in conns.iter_mut().step_by(7) {
        s.write_all(b"requetetype1\n").unwrap();
    }
    for s in conns.iter().step_by(7) {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        let answer = line.trim();
        assert!(
            answer == "-1" || answer.parse::<u16>().is_ok(),
            "a port or -1: {answer:?}"
        );
    }
    drop(conns);
    drop(c);
    wait_for("every connection released", Duration::from_secs(20), || {
        inst.snapshot().dispatcher().connections == 0
    });
    inst.assert_check_ok();
}

#[test]
fn a_client_that_never_reads_its_answers_is_cut_off_and_others_are_served() {
    let inst = Instance::start("no-reader", 2, &["--queue-timeout", "0s"]);
    let mut greedy = TcpStream::connect(inst.addr).unwrap();
    greedy
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Unknown types are answered at once with an error line: requests that cost nothing but
    // answers. Sent without ever reading, the answers fill the socket, then what is owed.
    let burst = b"nonsense\n".repeat(4096);
    let mut cut = false;
    for _ in 0..200 {
        if greedy.write_all(&burst).is_err() {
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "the dispatcher cut off a client that reads none of its answers"
    );
    let mut c = kennel_client::Client::connect(kennel_client::ClientConfig::new(inst.addr))
        .expect("connect");
    assert_eq!(c.request("echo", b"fine").unwrap().body, b"fine");
    assert!(inst.log_text().contains("does not read its answers"));
}
