//! Many control connections at once: `n` idle ones opened, the dispatcher's RSS read, then,
//! while they stay open and a few clients keep the pool busy, a real client's echo exchanges
//! timed one by one (its p50 and p99); last, each idle connection is used once, to prove
//! none was dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use kennel_common::procfs;
use kennel_common::protocol::frame_request;
use kennel_common::segment::RecordId;

use super::load::percentile_us;
use super::report::Outcome;
use kennel_client::inspect::Inspector;
use kennel_client::{Client, ClientConfig};

/// Exchanges the real client times.
const SAMPLES: usize = 2000;
/// Clients that keep the pool busy meanwhile.
const BUSY_CLIENTS: usize = 4;

/// Runs the whole measure, filling `out`'s idle-connection fields.
pub fn measure(
    n: usize,
    addr: SocketAddr,
    inspector: &Inspector,
    out: &mut Outcome,
) -> Result<(), String> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        match TcpStream::connect(addr) {
            Ok(s) => conns.push(s),
            Err(_) => out.idle_conn_errors += 1,
        }
    }
    out.idle_conn_opened = conns.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while inspector.segment.read(RecordId::Dispatcher).connections < conns.len() as u64 {
        if Instant::now() > deadline {
            return Err("the dispatcher did not accept every idle connection within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = inspector
        .segment
        .read(RecordId::Dispatcher)
        .pid()
        .ok_or("no dispatcher pid")?;
    out.idle_conn_rss_kib = procfs::rss_kib(pid).unwrap_or(0);
    let samples = if n >= 1000 { SAMPLES } else { 50 };
    let (mut lat, errors) = real_client_under_load(addr, samples);
    lat.sort_unstable();
    out.idle_real_p50_us = percentile_us(&lat, 50.0);
    out.idle_real_p99_us = percentile_us(&lat, 99.0);
    out.idle_real_errors = errors;
    let request = frame_request(b"idle no more");
    for s in conns {
        if use_idle_connection(s, &request).is_err() {
            out.idle_conn_errors += 1;
        }
    }
    Ok(())
}

/// `samples` echo exchanges by one client (its control connection kept, as kennel-client
/// does), each timed, while `BUSY_CLIENTS` others loop; returns the latencies in ns and the
/// failures of the timed client.
fn real_client_under_load(addr: SocketAddr, samples: usize) -> (Vec<u64>, u64) {
    let stop = AtomicBool::new(false);
    let failed = AtomicU64::new(0);
    let mut lat = Vec::with_capacity(samples);
    std::thread::scope(|s| {
        for _ in 0..BUSY_CLIENTS {
            s.spawn(|| {
                let Ok(mut c) = Client::connect(ClientConfig::new(addr)) else {
                    return;
                };
                while !stop.load(SeqCst) {
                    let _ = c.request("echo", b"busy");
                }
            });
        }
        match Client::connect(ClientConfig::new(addr)) {
            Ok(mut c) => {
                for _ in 0..samples {
                    let t = Instant::now();
                    match c.request("echo", b"real") {
                        Ok(a) if a.body == b"real" => lat.push(t.elapsed().as_nanos() as u64),
                        _ => {
                            failed.fetch_add(1, SeqCst);
                        }
                    }
                }
            }
            Err(_) => {
                failed.fetch_add(samples as u64, SeqCst);
            }
        }
        stop.store(true, SeqCst);
    });
    (lat, failed.load(SeqCst))
}

fn use_idle_connection(s: TcpStream, request: &[u8]) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let ip = s.peer_addr()?.ip();
    (&s).write_all(b"echo\n")?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(line.clone()))?;
    let w = TcpStream::connect((ip, port))?;
    w.set_read_timeout(Some(Duration::from_secs(10)))?;
    (&w).write_all(request)?;
    // Half-closed: the worker's session ends after this one message (docs/PROTOCOL.md §2).
    w.shutdown(std::net::Shutdown::Write)?;
    let mut reply = Vec::new();
    (&w).read_to_end(&mut reply)?;
    if reply != request {
        return Err(std::io::Error::other("wrong echo"));
    }
    Ok(())
}
