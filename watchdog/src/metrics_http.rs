//! `--metrics-addr ADDR:PORT`: the same exposition as `kennelctl metrics`, served over HTTP
//! for Prometheus to scrape (`GET /metrics`). A thread of its own with its own read-only
//! mapping of the segment; one connection at a time, each bounded (8 KiB of request, 2 s).
//!
//! Not hyper, unlike the gateway: the watchdog is the one process that must never wedge and
//! carries no async runtime; a scrape is one GET every few seconds from one client, and a
//! blocking thread that reads one bounded request and writes one answer is all it needs (the
//! parsing here is the request line, nothing more; any other request gets 404 or 400).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, Segment};
use kennel_common::{Error, Result};

/// Binds `addr` (a start fails if it cannot) and serves from a thread.
pub fn start(addr: SocketAddr, rt: &RuntimeDir) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| Error::io(format!("binding --metrics-addr {addr}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("metrics address", e))?;
    let segment = Segment::attach(rt, Access::ReadOnly)?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, &segment);
            }
        })
        .map_err(|e| Error::io("starting the metrics thread", e))?;
    log::info!(
        "metrics on http://{local}/metrics{}",
        if local.ip().is_loopback() {
            ""
        } else {
            " (REACHABLE FROM OTHER MACHINES)"
        }
    );
    Ok(local)
}

fn answer(mut s: TcpStream, segment: &Segment) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let first = String::from_utf8_lossy(&req);
    let first = first.lines().next().unwrap_or("");
    let (status, kind, body) = if first.starts_with("GET /metrics ") || first == "GET /metrics" {
        let body =
            kennel_common::metrics::render(&segment.snapshot(), &segment.dispatch_histogram());
        ("200 OK", kennel_common::metrics::CONTENT_TYPE, body)
    } else {
        (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n".to_string(),
        )
    };
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body.as_bytes()));
}
