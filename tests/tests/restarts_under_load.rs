//! The door never closes: the watchdog holds the dispatcher's listening socket, so a dispatcher
//! killed again and again, each time right after it became ready, under 8 clients, costs no
//! refused connection and no failed request, and never makes it FATAL.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use kennel_tests::*;
use nix::sys::signal::Signal;

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    /// A connect answered ECONNREFUSED: the door was closed. Must stay 0.
    refused: AtomicU64,
    /// A control connection cut by the kill (EOF before the answer): asked again.
    cut: AtomicU64,
    /// Requests that failed even after asking again. Must stay 0.
    failed: AtomicU64,
}

enum Try {
    Done,
    Refused,
    Cut,
    Busy,
    Other(String),
}

fn connect(addr: SocketAddr) -> Result<TcpStream, Try> {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
        Ok(s) => {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(Try::Refused),
        Err(e) => Err(Try::Other(format!("connect {addr}: {e}"))),
    }
}

/// One request the way a plain line client makes it: a fresh control connection, the type,
/// the port, then the worker.
fn one_request(dispatcher: SocketAddr, msg: &str) -> Try {
    let run = || -> Result<Try, Try> {
        let mut c = connect(dispatcher)?;
        c.write_all(b"echo\n").map_err(|_| Try::Cut)?;
        let mut line = String::new();
        match BufReader::new(&c).read_line(&mut line) {
            Ok(0) | Err(_) => return Ok(Try::Cut),
            Ok(_) => {}
        }
        let port: i32 = line
            .trim()
            .parse()
            .map_err(|_| Try::Other(format!("answer {line:?}")))?;
        if port == -1 {
            return Ok(Try::Busy);
        }
        let worker = SocketAddr::new(dispatcher.ip(), port as u16);
        let mut w = connect(worker)?;
        w.write_all(format!("{msg}\n").as_bytes())
            .map_err(|e| Try::Other(format!("worker write: {e}")))?;
        let mut answer = String::new();
        BufReader::new(&w)
            .read_line(&mut answer)
            .map_err(|e| Try::Other(format!("worker read: {e}")))?;
        if answer.trim_end() == msg {
            Ok(Try::Done)
        } else {
            Ok(Try::Other(format!("worker answered {answer:?}")))
        }
    };
    run().unwrap_or_else(|t| t)
}

fn client(addr: SocketAddr, i: usize, stop: &AtomicBool, tally: &Tally) {
    let mut n = 0;
    while !stop.load(SeqCst) {
        n += 1;
        let msg = format!("client {i} request {n}");
        let mut last = String::new();
        let mut done = false;
        // Asking again is allowed after a cut connection or a busy answer, never after a
        // refusal (which is counted).
        for _ in 0..50 {
            match one_request(addr, &msg) {
                Try::Done => {
                    done = true;
                    break;
                }
                Try::Refused => {
                    tally.refused.fetch_add(1, SeqCst);
                    last = "refused".into();
                }
                Try::Cut => {
                    tally.cut.fetch_add(1, SeqCst);
                }
                Try::Busy => std::thread::sleep(Duration::from_millis(20)),
                Try::Other(e) => last = e,
            }
        }
        if done {
            tally.ok.fetch_add(1, SeqCst);
        } else {
            tally.failed.fetch_add(1, SeqCst);
            eprintln!("client {i}: request {n} failed: {last}");
        }
    }
}

#[test]
fn a_dispatcher_killed_right_after_each_start_refuses_nobody_and_never_goes_fatal() {
    let inst = Instance::start("door", 4, &["--client-timeout", "1s"]);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (stop, tally, addr) = (Arc::clone(&stop), Arc::clone(&tally), inst.addr);
            std::thread::spawn(move || client(addr, i, &stop, &tally))
        })
        .collect();
    let mut pid = inst.dispatcher_pid();
    for k in 0..20 {
        signal(pid, Signal::SIGKILL);
        // Wait for the replacement to be ready, then kill it at once.
        let s = inst.wait_status("the next dispatcher ready", Duration::from_secs(10), |s| {
            let d = &s["dispatcher"];
            d["pid"].as_i64().is_some_and(|p| p as i32 != pid)
                && d["supervision"] == "running"
                && d["state"] == "ready"
        });
        assert_eq!(s["dispatcher"]["restarts"], k + 1, "{s}");
        pid = s["dispatcher"]["pid"].as_i64().unwrap() as i32;
    }
    // Let the clients see the last dispatcher serve them.
    let served = tally.ok.load(SeqCst);
    wait_for(
        "requests after the last kill",
        Duration::from_secs(10),
        || tally.ok.load(SeqCst) > served + 8,
    );
    stop.store(true, SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let (ok, refused, cut, failed) = (
        tally.ok.load(SeqCst),
        tally.refused.load(SeqCst),
        tally.cut.load(SeqCst),
        tally.failed.load(SeqCst),
    );
    eprintln!("{ok} requests answered, {cut} asked again after a cut connection");
    assert_eq!(refused, 0, "refused connections");
    assert_eq!(failed, 0, "failed requests");
    assert!(ok > 0);
    let s = inst.status();
    assert_eq!(s["dispatcher"]["supervision"], "running", "{s}");
    assert_eq!(s["dispatcher"]["restarts"], 20, "{s}");
    inst.assert_check_ok();
}
