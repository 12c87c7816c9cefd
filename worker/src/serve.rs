//! One client connection to a worker: admission (was this client sent here?), reading the
//! message in whichever framing it uses, answering, and giving the slot back.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering::SeqCst;

use kennel_common::layout::ProcState;
use kennel_common::protocol::RequestKind;
use kennel_common::segment::{Admission, GUARD_TIMEOUT};

use crate::state::Worker;
use crate::wire::Conn;

/// Handles one accepted connection from start to end. Never panics on client input.
pub fn connection(worker: &Worker, stream: TcpStream, peer: SocketAddr) {
    let seg = &worker.ctx.segment;
    let id = worker.id();
    let record = seg.record(id);
    let mut conn = Conn::new(worker, stream, peer);
    let mut token = None;
    if worker.settings.require_token {
        // Refuse at once anyone this slot is not waiting for, before reading a byte, so an
        // idle connection cannot hold the worker; then read the token line.
        let view = seg.read(id);
        let waiting_for_peer = view.state() == Some(ProcState::Assigned)
            && view.client.map(|c| c.ip()) == Some(peer.ip());
        if !waiting_for_peer {
            refuse(worker, &conn, Admission::NotAssigned);
            return;
        }
        match conn.read_token() {
            Ok(t) => token = Some(t),
            Err(why) => {
                record.failed.fetch_add(1, SeqCst);
                log::warn!("refused a connection from {peer}: {why}");
                conn.say_error(&why);
                return;
            }
        }
    }
    let admission = match seg.lock(GUARD_TIMEOUT) {
        Ok(guard) => guard.begin_service(id, peer, token),
        Err(e) => {
            log::error!("refusing {peer}: {e}");
            conn.say_error("temporarily unavailable");
            return;
        }
    };
    let (request, ping) = match admission {
        Admission::Admitted { request, ping } => (request, ping),
        refusal => {
            refuse(worker, &conn, refusal);
            return;
        }
    };
    if worker.settings.max_tasks > 1 {
        // The assignment is closed and the slot may have room left: a queued request may
        // take it now rather than when this one ends.
        worker.send_pong_if_awaited(ping);
    }
    let served = match request {
        RequestKind::Run(lang) => crate::programs::serve(worker, &mut conn, lang),
        RequestKind::Service(service) => crate::session::serve(worker, &mut conn, service),
    };
    let by_type = {
        let h = seg.header();
        if served {
            &h.served_by_type
        } else {
            &h.failed_by_type
        }
    };
    if let Some(c) = by_type.get(request.code() as usize) {
        c.fetch_add(1, SeqCst);
    }
    if served {
        record.served.fetch_add(1, SeqCst);
    } else {
        record.failed.fetch_add(1, SeqCst);
    }
    match seg.lock(GUARD_TIMEOUT) {
        Ok(guard) => {
            guard.finish_task(id);
        }
        Err(e) => log::error!("could not count the end of a task after {peer}: {e}"),
    }
    worker.send_pong_if_awaited(ping);
}

/// Answers a connection this slot will not serve, and counts it. The pending assignment, if
/// any, is left alone: its real client may still come.
fn refuse(worker: &Worker, conn: &Conn, refusal: Admission) {
    let peer = conn.peer;
    let record = worker.ctx.segment.record(worker.id());
    record.failed.fetch_add(1, SeqCst);
    let why = match refusal {
        Admission::WrongPeer => "this worker is reserved for another client",
        Admission::Invalid => "the assignment was unreadable and has been cancelled",
        Admission::BadToken => "wrong or used token",
        _ => "not assigned: ask the dispatcher for a worker first",
    };
    log::warn!("refused a connection from {peer}: {why}");
    conn.say_error(why);
    if refusal == Admission::Invalid {
        worker.send_pong_if_awaited(record.ping.load(SeqCst));
    }
}
