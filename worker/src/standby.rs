//! A standby worker (`--standby-fd`, started in advance by the watchdog's `spare.rs`): it
//! does what does not depend on a slot — the process start, the log, the signals, its program
//! runner — says `S` on its socket, and waits there. The watchdog gives it a dead worker's
//! slot in one message: `"<slot> <port>"` with the slot's listening socket. From then on it
//! is that slot's worker, started the usual way (attached to the segment as its record,
//! its FIFOs, `run`). The end of the socket without a message means "not needed": it exits.

use std::os::fd::OwnedFd;

use kennel_common::child::{exit_status, ChildContext, EXIT_START};
use kennel_common::segment::RecordId;

use crate::settings::Settings;
use crate::state::Worker;

/// The byte that says "ready for a slot".
pub const READY: &[u8] = b"S";

/// The standby's body: the process exit status.
pub fn main(mut settings: Settings, fd: i32) -> i32 {
    // The socket is taken first; the preparation then marks everything else close-on-exec.
    let socket = match kennel_common::sys::inherited_fd(fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel-worker: the standby socket: {e}");
            return EXIT_START;
        }
    };
    let shutdown = match kennel_common::child::prepare_process("worker (standby)", &[]) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot start: {e}");
            return EXIT_START;
        }
    };
    let runner = Worker::runner_for(&settings);
    let (slot, port, listener) = match wait_for_slot(&socket) {
        Ok(Some(got)) => got,
        Ok(None) => return 0, // not needed
        Err(e) => {
            log::error!("waiting for a slot: {e}");
            return EXIT_START;
        }
    };
    settings.slot = slot;
    settings.port = port;
    kennel_common::logging::rename(&format!("worker {slot}"));
    let started = ChildContext::start(settings.runtime.clone(), RecordId::Worker(slot))
        .and_then(|ctx| Worker::open_with(ctx, settings, runner));
    match started {
        Ok(worker) => exit_status(crate::run(listener, &worker, &shutdown)),
        Err(e) => {
            log::error!("cannot start: {e}");
            EXIT_START
        }
    }
}

/// Says ready, then waits for the slot: its number, its port, its listening socket. `None`
/// when the watchdog lets this standby go.
fn wait_for_slot(socket: &OwnedFd) -> Result<Option<(usize, u16, std::net::TcpListener)>, String> {
    kennel_common::sys::send_with_fds(socket, READY, &[]).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    let (n, fds) =
        kennel_common::sys::recv_with_fds(socket, &mut buf).map_err(|e| e.to_string())?;
    if n == 0 && fds.is_empty() {
        return Ok(None);
    }
    let text = std::str::from_utf8(&buf[..n]).map_err(|_| "a message that is not text")?;
    let (slot, port) = text
        .split_once(' ')
        .and_then(|(s, p)| Some((s.parse().ok()?, p.parse().ok()?)))
        .ok_or_else(|| format!("not a slot and a port: {text:?}"))?;
    let listener = fds
        .into_iter()
        .next()
        .ok_or("a slot without its listening socket")?;
    Ok(Some((slot, port, std::net::TcpListener::from(listener))))
}
