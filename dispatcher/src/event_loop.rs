//! The dispatcher's one thread: an event loop (epoll, through `mio`) over the control
//! listener, every control connection, the pong FIFO and the shutdown descriptor. Each turn
//! it stamps the heartbeat (at least every `TICK`), accepts within the caps, reads and answers
//! the connections that have something to say, serves the queue when a worker may have become
//! free, answers `-1` to the waiters whose time is up and closes the connections that fell
//! silent.
//!
//! Why one loop rather than a thread per connection (the design before): ten thousand idle
//! clients cost a few hundred bytes each instead of a 64 KiB stack and a thread, and a request
//! costs no thread wake-up besides the loop's own (docs/PERFORMANCE.md).

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kennel_common::child::TICK;
use kennel_common::notice::NoticeKind;
use kennel_common::protocol::busy_answer;
use kennel_common::segment::RecordId;
use kennel_common::shutdown::Shutdown;
use kennel_common::{Error, Result};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::accept::{self, Accepted};
use crate::conn::{Conn, Fate};
use crate::queue::Queue;
use crate::state::Dispatcher;

const LISTENER: Token = Token(usize::MAX);
const PONGS: Token = Token(usize::MAX - 1);
const SHUTDOWN: Token = Token(usize::MAX - 2);

/// Deadlines of silent connections are looked for at most this often (a pass over every
/// connection), so ten thousand of them expiring one after another cost a hundred passes a
/// second, not ten thousand.
const SWEEP_GRAIN: Duration = Duration::from_millis(10);

/// Everything the loop owns.
struct Loop {
    d: Arc<Dispatcher>,
    poll: Poll,
    conns: Slab<Conn>,
    queue: Queue,
    generation: u64,
    /// No connection's deadline is earlier than this (deadlines only ever move later).
    next_sweep: Instant,
    /// Out of descriptors: accepting again after this.
    paused_until: Option<Instant>,
    buf: Vec<u8>,
}

/// Serves until `shutdown` fires. `listener` is already bound by the caller (the binary binds
/// the control port; an in-process test binds port 0).
pub fn run(listener: TcpListener, dispatcher: Arc<Dispatcher>, shutdown: &Shutdown) -> Result<()> {
    let local = dispatcher.ctx.go_live(&listener)?;
    log::info!(
        "ready on {local} ({}; {} worker slots, queue timeout {} ms, at most {} connections)",
        if local.ip().is_loopback() {
            "loopback only"
        } else {
            "reachable from other machines"
        },
        dispatcher.ctx.segment.workers(),
        dispatcher.settings.queue_timeout.as_millis(),
        dispatcher.settings.max_connections
    );
    if !local.ip().is_loopback() {
        log::warn!("listening on {local}, which is reachable from other machines");
    }
    let io = |what: &str, e: std::io::Error| Error::io(what.to_string(), e);
    let poll = Poll::new().map_err(|e| io("creating the event loop", e))?;
    let mut listener = mio::net::TcpListener::from_std(listener);
    let registry = poll.registry();
    registry
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| io("registering the listener", e))?;
    let pong_fd = dispatcher.pongs.as_fd().as_raw_fd();
    registry
        .register(&mut SourceFd(&pong_fd), PONGS, Interest::READABLE)
        .map_err(|e| io("registering the pong FIFO", e))?;
    let stop_fd = shutdown.as_fd().as_raw_fd();
    registry
        .register(&mut SourceFd(&stop_fd), SHUTDOWN, Interest::READABLE)
        .map_err(|e| io("registering the shutdown descriptor", e))?;
    let mut l = Loop {
        d: dispatcher,
        poll,
        conns: Slab::new(),
        queue: Queue::default(),
        generation: 0,
        next_sweep: Instant::now(),
        paused_until: None,
        buf: vec![0u8; 4096],
    };
    let mut events = Events::with_capacity(1024);
    loop {
        let now = Instant::now();
        let wake = [
            Some(now + TICK),
            l.queue.next_deadline(),
            Some(l.next_sweep),
            l.paused_until,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + TICK);
        let timeout = wake.saturating_duration_since(now);
        match l.poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io("waiting for events", e)),
        }
        l.d.ctx.segment.heartbeat(RecordId::Dispatcher);
        let mut accept_now = l.paused_until.is_some_and(|t| Instant::now() >= t);
        for ev in events.iter() {
            match ev.token() {
                LISTENER => accept_now = true,
                SHUTDOWN => {
                    if l.d.ctx.should_stop(shutdown) {
                        return Ok(());
                    }
                }
                PONGS => l.drain_pongs(),
                Token(key) => l.on_conn_event(
                    key,
                    ev.is_readable(),
                    ev.is_writable(),
                    ev.is_read_closed() || ev.is_error(),
                ),
            }
        }
        if accept_now && l.paused_until.is_none_or(|t| Instant::now() >= t) {
            l.paused_until = None;
            l.accept(&listener);
        }
        // A pong only wakes this loop; the queue is served whenever it is not empty, so a
        // pong lost to a full pipe delays a waiter by one tick at most.
        l.serve_queue();
        l.expire(Instant::now());
        let own = l.d.ctx.segment.read(RecordId::Dispatcher);
        l.d.ctx.verify_identity(local, &own);
    }
}

impl Loop {
    fn drain_pongs(&self) {
        for n in self.d.pongs.drain() {
            let slot_ok = self.d.ctx.segment.worker_id(u64::from(n.slot)).is_some();
            if n.kind != NoticeKind::Pong || !slot_ok {
                kennel_common::logging::warn_limited(
                    "pong-fifo",
                    format_args!("ignoring an unexpected notice on the pong FIFO: {n:?}"),
                );
            }
        }
    }

    fn accept(&mut self, listener: &mio::net::TcpListener) {
        loop {
            match accept::one(listener, &self.d) {
                Accepted::Conn(mut stream, peer) => {
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    self.generation += 1;
                    let registered =
                        self.poll
                            .registry()
                            .register(&mut stream, Token(key), Interest::READABLE);
                    if let Err(e) = registered {
                        kennel_common::logging::warn_limited(
                            "register",
                            format_args!("cannot watch {peer}: {e}"),
                        );
                        self.d.release(peer.ip());
                        continue;
                    }
                    let conn = Conn::new(&self.d, stream, peer, (key, self.generation));
                    entry.insert(conn);
                    // Data may have arrived with the connection (edge-triggered: read now).
                    self.on_conn_event(key, true, false, true);
                }
                Accepted::Refused => {}
                Accepted::Drained => return,
                Accepted::OutOfDescriptors => {
                    self.paused_until = Some(Instant::now() + accept::PAUSE);
                    return;
                }
            }
        }
    }

    fn on_conn_event(&mut self, key: usize, readable: bool, writable: bool, closed: bool) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        let mut fate = Fate::Open;
        if writable {
            fate = c.flush();
        }
        if readable && fate == Fate::Open {
            fate = c.read(&self.d, &mut self.queue, &mut self.buf, closed);
        }
        self.settle(key, fate);
    }

    /// After something happened to a connection: close it, or watch for writability while
    /// it owes output.
    fn settle(&mut self, key: usize, fate: Fate) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        if let Fate::Close(why) = fate {
            log::trace!("closing {}: {why}", c.peer);
            self.close(key);
            return;
        }
        if c.owes() != c.want_write {
            c.want_write = c.owes();
            let interest = if c.want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut c.stream, Token(key), interest)
                .is_err()
            {
                self.close(key);
            }
        }
    }

    fn close(&mut self, key: usize) {
        if let Some(mut c) = self.conns.try_remove(key) {
            if c.queued && self.queue.cancel(&self.d, c.id) {
                log::debug!("{}: connection closed while queued", c.peer);
            }
            let _ = self.poll.registry().deregister(&mut c.stream);
            self.d.release(c.peer.ip());
        }
    }

    /// Gives idle workers to the oldest waiters; each answered connection goes on with the
    /// requests it sent meanwhile.
    fn serve_queue(&mut self) {
        while let Some(s) = self.queue.serve_one(&self.d) {
            let (key, gen) = s.waiter.conn;
            match self.conns.get_mut(key).filter(|c| c.id.1 == gen) {
                Some(c) => {
                    c.deliver(&self.d, &s.answer, s.claim, s.started);
                    self.resume(key);
                }
                // Gone (closed without its waiter: cannot happen, `close` cancels): the
                // reservation expires at the worker, as for any client that leaves.
                None => log::debug!("a queued connection vanished before its answer"),
            }
        }
    }

    /// A connection whose queued request was just answered goes on with what it sent
    /// meanwhile (not drained since it was queued: read until the socket would block).
    fn resume(&mut self, key: usize) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        c.dequeued(&self.d);
        let fate = c.read(&self.d, &mut self.queue, &mut self.buf, true);
        self.next_sweep = self.next_sweep.min(c.deadline.max(Instant::now()));
        self.settle(key, fate);
    }

    /// The queue's `-1`s, and the silent connections' end.
    fn expire(&mut self, now: Instant) {
        for w in self.queue.expire(&self.d, now) {
            let (key, gen) = w.conn;
            let Some(c) = self.conns.get_mut(key).filter(|c| c.id.1 == gen) else {
                continue;
            };
            self.d
                .ctx
                .segment
                .record(RecordId::Dispatcher)
                .busy
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            log::warn!(
                "no idle worker for {} within the queue timeout: -1",
                w.client
            );
            c.say(&busy_answer(w.style.framing));
            self.resume(key);
        }
        if now < self.next_sweep {
            return;
        }
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.queued && c.deadline <= now)
            .map(|(k, _)| k)
            .collect();
        for key in expired {
            if let Some(c) = self.conns.get_mut(key) {
                let fate = c.time_out(&self.d);
                self.settle(key, fate);
            }
        }
        let earliest = self
            .conns
            .iter()
            .filter(|(_, c)| !c.queued)
            .map(|(_, c)| c.deadline)
            .min()
            .unwrap_or(now + self.d.settings.idle_timeout);
        self.next_sweep = earliest.max(now + SWEEP_GRAIN);
    }
}
