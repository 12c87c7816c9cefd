//! A built-in service's connection is a session: message after message on one connection,
//! each answered in its own framing, as the assignment's step 5 has it ("exchange some
//! information and cut the connection") and as published student clients talk (`Hello`,
//! `encore`, a goodbye). docs/PROTOCOL.md §5.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;

use kennel_common::layout::ProcState;
use kennel_common::protocol::{RequestKind, Service};

use crate::services;
use crate::state::Worker;
use crate::wire::{Conn, ReadFailure};

/// A built-in service (time, date, echo): a session of messages, each answered in its own
/// framing, until the client closes, says goodbye (`bye`, `goodbye`, `quit`, `exit`: answered,
/// then closed) or stays silent for the client timeout — the assignment's "exchange some
/// information and cut the connection". The slot stays assigned to the client for the whole
/// session. True if at least one message was answered.
pub(crate) fn serve(worker: &Worker, conn: &mut Conn, service: Service) -> bool {
    let request = RequestKind::Service(service);
    let mut answered = 0u64;
    loop {
        match conn.read_message() {
            Ok((framing, payload)) => {
                let body = services::answer(service, &payload);
                if let Err(e) = conn.write_answer(framing, &body) {
                    if answered == 0 {
                        log::warn!(
                            "{} left before its {} answer: {e}",
                            conn.peer,
                            request.name()
                        );
                    }
                    return answered > 0;
                }
                answered += 1;
                if is_goodbye(&payload) || stopping(worker) {
                    return true;
                }
                conn.renew_deadline();
            }
            // The end of a session: the client closed (a reset too: it closed with our last
            // answer unread, as clients that send a goodbye and leave do), or went quiet.
            Err(ReadFailure::Closed | ReadFailure::TimedOut | ReadFailure::Io(_))
                if answered > 0 =>
            {
                return true
            }
            Err(failure) => return first_message_failed(conn, failure),
        }
    }
}

/// The worker or the whole instance is stopping: a session ends after the answer in hand.
fn stopping(worker: &Worker) -> bool {
    let seg = &worker.ctx.segment;
    seg.header().stopping.load(SeqCst) != 0
        || seg.read(worker.id()).state() == Some(ProcState::Stopping)
}

/// A message that ends a session after its answer.
fn is_goodbye(payload: &[u8]) -> bool {
    // Looked at only when short: a 1 MiB echo must not be copied twice to learn it is not one
    // (that cost 30 % of the large-payload throughput).
    if payload.len() > 16 {
        return false;
    }
    let word = String::from_utf8_lossy(payload).trim().to_ascii_lowercase();
    matches!(word.as_str(), "bye" | "goodbye" | "quit" | "exit")
}

/// Why a session's first message could not be read, said to the client and logged.
fn first_message_failed(conn: &Conn, failure: ReadFailure) -> bool {
    let peer: SocketAddr = conn.peer;
    match failure {
        ReadFailure::Invalid(why) => {
            log::warn!("rejected a message from {peer}: {why}");
            conn.say_error(&why);
            false
        }
        ReadFailure::TimedOut => {
            log::warn!("{peer} sent no complete message within the client timeout");
            conn.say_error("timed out waiting for the message");
            false
        }
        ReadFailure::Closed => {
            log::warn!("{peer} closed without sending a message");
            false
        }
        ReadFailure::Truncated => {
            log::warn!("{peer} closed before the announced payload arrived");
            false
        }
        ReadFailure::Io(e) => {
            log::warn!("reading from {peer}: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_goodbye;

    #[test]
    fn goodbyes_are_short_words_in_any_case() {
        for g in [&b"bye"[..], b"Bye\n", b" QUIT ", b"exit\r\n", b"goodbye"] {
            assert!(is_goodbye(g), "{g:?}");
        }
        for not in [&b"byebye"[..], b"", b"see you", &[b'x'; 1 << 20][..]] {
            assert!(!is_goodbye(not));
        }
    }
}
