//! Accepting control connections within the caps (`--max-connections`, `--max-per-source`);
//! running out of file descriptors (EMFILE/ENFILE) is neither a busy loop nor a log flood:
//! one descriptor is kept in reserve, given up to accept the next client just long enough to
//! tell it `ERR busy`, then taken back; the listener is left alone for a moment.

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use kennel_common::logging::warn_limited;
use kennel_common::protocol::error_line;
use mio::net::{TcpListener, TcpStream};

use crate::state::Dispatcher;

/// How long the listener is left alone after running out of descriptors.
pub const PAUSE: Duration = Duration::from_millis(100);

/// What one accept gave.
pub enum Accepted {
    /// A connection admitted (counted against the caps; `Dispatcher::release` when it ends).
    Conn(TcpStream, SocketAddr),
    /// A connection over a cap, told `ERR busy` and closed.
    Refused,
    /// Nothing left to accept.
    Drained,
    /// Out of file descriptors: pause before accepting again.
    OutOfDescriptors,
}

/// Accepts one pending connection, if any.
pub fn one(listener: &TcpListener, d: &Dispatcher) -> Accepted {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Accepted::Drained,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error().is_some_and(is_out_of_fds) => {
                shed_one(listener, d);
                return Accepted::OutOfDescriptors;
            }
            Err(e) => {
                warn_limited("accept", format_args!("accept failed: {e}"));
                return Accepted::Drained;
            }
        };
        if let Err(why) = d.admit(peer.ip()) {
            warn_limited("cap", format_args!("refusing {peer}: {why}"));
            say_busy(stream, "busy: too many connections");
            return Accepted::Refused;
        }
        return Accepted::Conn(stream, peer);
    }
}

fn is_out_of_fds(errno: i32) -> bool {
    errno == nix::errno::Errno::EMFILE as i32 || errno == nix::errno::Errno::ENFILE as i32
}

/// Out of descriptors: gives up the reserve one to accept the oldest waiting client, tells it
/// `ERR busy`, closes it, and takes the reserve back.
fn shed_one(listener: &TcpListener, d: &Dispatcher) {
    let mut reserve = d.reserve_fd.lock().unwrap_or_else(|p| p.into_inner());
    drop(reserve.take());
    let told = match listener.accept() {
        Ok((stream, peer)) => {
            say_busy(stream, "busy: out of file descriptors");
            Some(peer)
        }
        Err(_) => None,
    };
    *reserve = File::open("/dev/null").ok();
    warn_limited(
        "emfile",
        format_args!(
            "out of file descriptors (--max-connections {}): {} told busy; accepting again in {} ms",
            d.settings.max_connections,
            told.map_or_else(|| "nobody".into(), |p| p.to_string()),
            PAUSE.as_millis()
        ),
    );
}

/// One non-blocking write of an error line, then the connection is dropped.
fn say_busy(mut stream: TcpStream, why: &str) {
    let _ = stream.write(&error_line(why));
}
