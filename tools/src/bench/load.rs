//! The load generator: C client threads, each doing request after request for a fixed time,
//! over one of the paths being compared. Every path carries the same bytes — a `LEN`-framed
//! payload, echoed back — so only the path differs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kennel_common::protocol::frame_request;

/// How a request reaches its server.
#[derive(Debug, Clone)]
pub enum Route {
    /// One hop: connect straight to a server (round robin over them).
    Direct(Vec<SocketAddr>),
    /// One hop through a proxy (nginx).
    Proxy(SocketAddr),
    /// Two hops: ask the dispatcher on a kept control connection, then connect to the port it
    /// answers (Kennel, or the minimal dispatcher).
    TwoHop(SocketAddr),
}

/// What one timed run measured.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency of every successful request, in nanoseconds.
    pub latencies_ns: Vec<u64>,
}

impl RunResult {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `clients` threads for `duration` over `route` with `payload`-byte requests.
pub fn run(route: &Route, clients: usize, payload: usize, duration: Duration) -> RunResult {
    let start = Instant::now();
    let deadline = start + duration;
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let route = route.clone();
            std::thread::spawn(move || client(i, &route, payload, deadline))
        })
        .collect();
    let mut total = RunResult::default();
    for t in threads {
        if let Ok(r) = t.join() {
            total.requests += r.requests;
            total.errors += r.errors;
            total.latencies_ns.extend(r.latencies_ns);
        } else {
            total.errors += 1;
        }
    }
    total.elapsed = start.elapsed();
    total
}

fn client(i: usize, route: &Route, payload: usize, deadline: Instant) -> RunResult {
    let request: Vec<u8> = frame_request(&vec![b'k'; payload]);
    let mut reply = vec![0u8; payload];
    let mut control: Option<BufReader<TcpStream>> = None;
    let mut out = RunResult::default();
    let mut n = i;
    while Instant::now() < deadline {
        let t0 = Instant::now();
        let target = match route {
            Route::Direct(servers) => Ok(servers[n % servers.len()]),
            Route::Proxy(addr) => Ok(*addr),
            Route::TwoHop(dispatcher) => ask(&mut control, *dispatcher),
        };
        n += 1;
        let ok = target.and_then(|addr| exchange(addr, &request, &mut reply));
        match ok {
            Ok(()) => {
                out.requests += 1;
                out.latencies_ns.push(t0.elapsed().as_nanos() as u64);
            }
            Err(_) => {
                out.errors += 1;
                control = None;
            }
        }
    }
    out
}

/// Asks the dispatcher for a worker on the kept control connection.
fn ask(
    control: &mut Option<BufReader<TcpStream>>,
    dispatcher: SocketAddr,
) -> std::io::Result<SocketAddr> {
    if control.is_none() {
        let s = TcpStream::connect(dispatcher)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        *control = Some(BufReader::new(s));
    }
    let c = control.as_mut().expect("just set");
    c.get_mut().write_all(b"echo\n")?;
    let mut line = String::new();
    c.read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| std::io::Error::other(format!("dispatcher answered {line:?}")))?;
    Ok(SocketAddr::new(dispatcher.ip(), port))
}

/// One request/reply on a new connection, checking the reply's length.
fn exchange(addr: SocketAddr, request: &[u8], reply: &mut [u8]) -> std::io::Result<()> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    (&s).write_all(request)?;
    // One message per connection, said at once: the worker's session ends with its answer.
    s.shutdown(std::net::Shutdown::Write)?;
    let mut r = BufReader::new(s);
    let mut header = String::new();
    r.read_line(&mut header)?;
    let n: usize = header
        .trim()
        .strip_prefix("LEN ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("reply header {header:?}")))?;
    if n != reply.len() {
        return Err(std::io::Error::other("reply of the wrong length"));
    }
    r.read_exact(reply)
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds.
pub fn percentile_us(sorted_ns: &[u64], p: f64) -> f64 {
    crate::bench::restart::percentile(sorted_ns, p) as f64 / 1000.0
}
