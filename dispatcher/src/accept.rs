//! Accepting control connections: each gets a small thread of its own within the connection
//! caps, and running out of file descriptors (EMFILE/ENFILE) is neither a busy loop nor a log
//! flood: one descriptor is kept in reserve, given up to accept the next client just long
//! enough to tell it `ERR busy`, then taken back; the listener is left alone for a moment.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use kennel_common::logging::warn_limited;
use kennel_common::protocol::error_line;

use crate::control;
use crate::state::Dispatcher;

/// Stack of a connection thread. It holds a 1 KiB read buffer and calls shallow functions;
/// measured: 1,000 idle control connections cost the dispatcher 12.3 MiB RSS with 64 KiB
/// stacks and a 1 KiB buffer, 16.4 MiB with 128 KiB and 4 KiB.
const CONNECTION_STACK: usize = 64 * 1024;

/// How long the listener is left out of the poll after running out of descriptors.
pub const PAUSE: Duration = Duration::from_millis(100);

/// How an accept round ended.
pub enum Outcome {
    /// Nothing left to accept.
    Drained,
    /// Out of file descriptors: pause before accepting again.
    OutOfDescriptors,
}

/// Accepts every pending connection, each on a thread of its own, within the connection cap.
pub fn accept_all(listener: &TcpListener, dispatcher: &Arc<Dispatcher>) -> Outcome {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Outcome::Drained,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error().is_some_and(is_out_of_fds) => {
                shed_one(listener, dispatcher);
                return Outcome::OutOfDescriptors;
            }
            Err(e) => {
                warn_limited("accept", format_args!("accept failed: {e}"));
                return Outcome::Drained;
            }
        };
        if let Err(why) = dispatcher.admit(peer.ip()) {
            warn_limited("cap", format_args!("refusing {peer}: {why}"));
            say_busy(&stream, "busy: too many connections");
            continue;
        }
        let d = Arc::clone(dispatcher);
        let spawned = std::thread::Builder::new()
            .name(format!("control {peer}"))
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                control::serve(&d, stream, peer);
                d.release(peer.ip());
            });
        if let Err(e) = spawned {
            dispatcher.release(peer.ip());
            warn_limited(
                "thread",
                format_args!("cannot start a thread for {peer}: {e}"),
            );
        }
    }
}

fn is_out_of_fds(errno: i32) -> bool {
    errno == nix::errno::Errno::EMFILE as i32 || errno == nix::errno::Errno::ENFILE as i32
}

/// Out of descriptors: gives up the reserve one to accept the oldest waiting client, tells it
/// `ERR busy`, closes it, and takes the reserve back.
fn shed_one(listener: &TcpListener, dispatcher: &Dispatcher) {
    let mut reserve = dispatcher
        .reserve_fd
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    drop(reserve.take());
    let told = match listener.accept() {
        Ok((stream, peer)) => {
            say_busy(&stream, "busy: out of file descriptors");
            Some(peer)
        }
        Err(_) => None,
    };
    *reserve = File::open("/dev/null").ok();
    warn_limited(
        "emfile",
        format_args!(
            "out of file descriptors (--max-connections {}): {} told busy; accepting again in {} ms",
            dispatcher.settings.max_connections,
            told.map_or_else(|| "nobody".into(), |p| p.to_string()),
            PAUSE.as_millis()
        ),
    );
}

/// One non-blocking send of an error line, then the connection is dropped.
fn say_busy(stream: &TcpStream, why: &str) {
    use nix::sys::socket::{send, MsgFlags};
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    let _ = send(stream.as_raw_fd(), &error_line(why), flags);
}
