//! The request path, end to end, as existing student clients and Kennel's own client speak it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use kennel_client::{Client, ClientConfig};
use kennel_tests::*;

fn is_time(b: &[u8]) -> bool {
    let s = String::from_utf8_lossy(b);
    s.len() == 12 && s.ends_with(" UTC") && &s[2..3] == ":" && &s[5..6] == ":"
}

fn is_date(b: &[u8]) -> bool {
    let s = String::from_utf8_lossy(b);
    s.len() == 10 && s.starts_with("20") && &s[4..5] == "-"
}

#[test]
fn student_client_gets_every_type_over_one_control_connection() {
    let inst = Instance::start("student", 2, &[]);
    let mut c = StudentClient::connect(inst.addr);
    for _ in 0..3 {
        assert!(is_time(
            &c.request("requetetype1", "Hello, what time is it ?")
        ));
        assert!(is_date(
            &c.request("requetetype2", "Hello, what day is it ?")
        ));
        assert_eq!(c.request("echo", "Hello, echo ?"), b"Hello, echo ?");
    }
    // Clients that open a new control connection for every request work too.
    for _ in 0..3 {
        let mut fresh = StudentClient::connect(inst.addr);
        assert!(is_time(&fresh.request("requetetype1", "again")));
    }
    // A worker counts a request once its answer is written; a client that reads one recv()
    // can get there first, so wait (bounded) for the last count to land, then check exactly.
    let workers_served = |s: &serde_json::Value| -> u64 {
        s["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["served"].as_u64().unwrap())
            .sum()
    };
    let s = inst.wait_status(
        "12 requests counted by the workers",
        Duration::from_secs(5),
        |s| workers_served(s) >= 12,
    );
    assert_eq!(workers_served(&s), 12);
    assert_eq!(s["dispatcher"]["served"], 12);
    assert!(inst.stop().success());
}

#[test]
fn terminated_lines_get_terminated_answers_and_kennel_client_works() {
    let inst = Instance::start("lines", 2, &[]);
    let mut control = TcpStream::connect(inst.addr).unwrap();
    control
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    control.write_all(b"requetetype1\r\n").unwrap();
    let answer = recv_1024(&mut control);
    assert!(answer.ends_with(b"\n"), "{answer:?}");
    let port: u16 = String::from_utf8(answer).unwrap().trim().parse().unwrap();
    let mut w = TcpStream::connect((inst.addr.ip(), port)).unwrap();
    w.write_all(b"what time is it?\n").unwrap();
    let mut reply = Vec::new();
    w.read_to_end(&mut reply).unwrap();
    assert!(
        reply.ends_with(b"\n") && is_time(&reply[..reply.len() - 1]),
        "{reply:?}"
    );

    let mut client = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    let payload: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    let a = client.request("echo", &payload).unwrap();
    assert_eq!(a.body, payload, "1 MiB echo comes back byte for byte");
    assert_eq!(a.attempts, 1);
    assert!(is_date(&client.request("requetetype2", b"").unwrap().body));
}

#[test]
fn twenty_clients_at_once_are_all_answered() {
    let inst = Instance::start("twenty", 4, &[]);
    let addr = inst.addr;
    let threads: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let mut client = Client::connect(ClientConfig::new(addr)).unwrap();
                for j in 0..10 {
                    let msg = format!("client {i} request {j}");
                    let a = client.request("echo", msg.as_bytes()).unwrap();
                    assert_eq!(a.body, msg.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let s = inst.status();
    assert_eq!(s["dispatcher"]["served"].as_u64().unwrap(), 200);
    inst.assert_check_ok();
}

#[test]
fn worker_refuses_a_connection_the_dispatcher_did_not_assign() {
    let inst = Instance::start("unassigned", 1, &[]);
    let port = inst.status()["workers"][0]["port"].as_u64().unwrap() as u16;
    let answer = worker_exchange(SocketAddr::new(inst.addr.ip(), port), "let me in");
    assert!(
        answer.starts_with(b"ERR not assigned"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(inst.status()["workers"][0]["failed"], 1);
    // The slot is still usable by an assigned client.
    let mut c = StudentClient::connect(inst.addr);
    assert_eq!(c.request("echo", "ok"), b"ok");
}

#[test]
fn no_idle_worker_within_the_queue_timeout_answers_minus_one() {
    let inst = Instance::start(
        "busy",
        1,
        &["--queue-timeout", "200ms", "--client-timeout", "5s"],
    );
    let mut first = StudentClient::connect(inst.addr);
    let port = first.ask("requetetype1");
    assert!(port.iter().all(u8::is_ascii_digit), "{port:?}");
    // The only worker is now assigned to `first`, which has not connected yet.
    let mut second = StudentClient::connect(inst.addr);
    assert_eq!(second.ask("requetetype1"), b"-1");
    assert_eq!(inst.status()["dispatcher"]["busy"], 1);
    // Once the first client is served, the second gets the worker.
    let port: u16 = String::from_utf8(port).unwrap().parse().unwrap();
    assert!(is_time(&worker_exchange(
        SocketAddr::new(inst.addr.ip(), port),
        "hi"
    )));
    assert!(is_time(&second.request("requetetype1", "now?")));
}

#[test]
fn a_request_waits_for_a_worker_that_becomes_idle() {
    let inst = Instance::start("queue", 1, &["--queue-timeout", "5s"]);
    let mut first = StudentClient::connect(inst.addr);
    let port: u16 = String::from_utf8(first.ask("echo"))
        .unwrap()
        .parse()
        .unwrap();
    let addr = inst.addr;
    let waiter = std::thread::spawn(move || StudentClient::connect(addr).request("echo", "second"));
    // The waiter is queued in the dispatcher until the first exchange ends and the worker's
    // pong notice wakes it.
    inst.wait_status(
        "the second request to be queued",
        Duration::from_secs(5),
        |s| s["dispatcher"]["waiting"] == 1,
    );
    assert_eq!(
        worker_exchange(SocketAddr::new(addr.ip(), port), "first"),
        b"first"
    );
    assert_eq!(waiter.join().unwrap(), b"second");
}

#[test]
fn queued_requests_keep_their_order_and_survive_a_half_close() {
    let inst = Instance::start("queueorder", 1, &["--queue-timeout", "5s"]);
    let mut first = StudentClient::connect(inst.addr);
    let port: u16 = String::from_utf8(first.ask("echo"))
        .unwrap()
        .parse()
        .unwrap();
    let worker = SocketAddr::new(inst.addr.ip(), port);
    let read_line = |r: &mut std::io::BufReader<&TcpStream>| {
        let mut line = String::new();
        std::io::BufRead::read_line(r, &mut line).unwrap();
        line
    };
    // A client that queues its request and half-closes (it has nothing more to send) still
    // gets its answer, then the dispatcher closes.
    let mut half = TcpStream::connect(inst.addr).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (&half).write_all(b"echo\n").unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
    inst.wait_status(
        "the half-closed request to be queued",
        Duration::from_secs(5),
        |s| s["dispatcher"]["waiting"] == 1,
    );
    assert_eq!(worker_exchange(worker, "first"), b"first");
    assert_eq!(
        read_line(&mut std::io::BufReader::new(&half)),
        format!("{port}\n")
    );
    assert_eq!(worker_exchange(worker, "half"), b"half");
    assert_eq!(recv_1024(&mut half), b"", "closed after its answer");
    // A client that sends two requests and then an unknown one in one write, while the only
    // worker is taken: the answers come back in request order, each when it is due.
    let mut busy = StudentClient::connect(inst.addr);
    assert_eq!(busy.ask("echo"), port.to_string().as_bytes());
    let mut eager = TcpStream::connect(inst.addr).unwrap();
    eager
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    eager.write_all(b"echo\necho\nnonsense\n").unwrap();
    inst.wait_status(
        "the first of them to be queued",
        Duration::from_secs(5),
        |s| s["dispatcher"]["waiting"] == 1,
    );
    assert_eq!(worker_exchange(worker, "busy"), b"busy");
    let mut lines = std::io::BufReader::new(&eager);
    assert_eq!(
        read_line(&mut lines),
        format!("{port}\n"),
        "the first queued request gets the worker"
    );
    // The second waits for that exchange to end; the error line comes only after it.
    assert_eq!(worker_exchange(worker, "second"), b"second");
    assert_eq!(read_line(&mut lines), format!("{port}\n"));
    assert_eq!(worker_exchange(worker, "third"), b"third");
    let line = read_line(&mut lines);
    assert!(line.starts_with("ERR unknown request type"), "{line:?}");
    let s = inst.status();
    assert_eq!(s["dispatcher"]["busy"], 0, "nobody was answered -1");
    assert_eq!(s["dispatcher"]["served"], 5);
}

#[test]
fn the_client_binary_finds_the_port_and_fails_clearly_without_a_server() {
    let inst = Instance::start("clientbin", 1, &[]);
    let dir = inst.dir.to_str().expect("a UTF-8 runtime dir");
    let out = run_ok(
        "kennel-client",
        [
            "--runtime-dir",
            dir,
            "--type",
            "echo",
            "--message",
            "found you",
            "--quiet",
            "--count",
            "2",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "found you\nfound you\n"
    );
    // Nothing listens on a port we just released: 5 attempts, a clear message, exit 1.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(bin("kennel-client"))
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the dispatcher") && err.contains("after 5 attempts"),
        "{err}"
    );
}
