//! The floors: a minimal request/reply server (one accepting thread per port, like a Kennel
//! worker, answering the `LEN` framing with an echo) and a minimal "dispatcher" that answers a
//! port round robin with no IPC at all. Kennel minus these is the cost of its coordination.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use kennel_common::protocol::{frame_answer, Framing};

/// Starts `n` minimal echo servers on loopback; returns their addresses. The threads run for
/// the life of the process.
pub fn start_servers(n: usize) -> std::io::Result<Vec<SocketAddr>> {
    (0..n)
        .map(|_| {
            let l = TcpListener::bind("127.0.0.1:0")?;
            let addr = l.local_addr()?;
            std::thread::spawn(move || {
                for s in l.incoming().flatten() {
                    let _ = echo_once(s);
                }
            });
            Ok(addr)
        })
        .collect()
}

/// Reads one `LEN n\n` + n bytes request, answers it the same way, closes.
fn echo_once(s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut r = BufReader::new(s);
    let mut header = String::new();
    r.by_ref().take(64).read_line(&mut header)?;
    let n: usize = header
        .trim()
        .strip_prefix("LEN ")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n <= 64 << 20)
        .ok_or_else(|| std::io::Error::other("bad header"))?;
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    r.get_mut().write_all(&frame_answer(Framing::Length, &body))
}

/// Starts a minimal dispatcher: for every `…\n` line on a connection it answers the next
/// server port (round robin), `\n`-terminated. Returns its address.
pub fn start_dispatcher(servers: Vec<SocketAddr>) -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let next = Arc::new(AtomicUsize::new(0));
    let servers = Arc::new(servers);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (next, servers) = (Arc::clone(&next), Arc::clone(&servers));
            std::thread::spawn(move || {
                let _ = s.set_nodelay(true);
                let mut w = match s.try_clone() {
                    Ok(w) => w,
                    Err(_) => return,
                };
                let mut line = String::new();
                let mut r = BufReader::new(s);
                while matches!(r.read_line(&mut line), Ok(n) if n > 0) {
                    let k = next.fetch_add(1, Relaxed) % servers.len();
                    if w.write_all(format!("{}\n", servers[k].port()).as_bytes())
                        .is_err()
                    {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    Ok(addr)
}
