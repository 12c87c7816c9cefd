//! The Kennel dispatcher: listens on the control port; for each request type a client sends,
//! claims an idle worker slot in shared memory (ping), notices the worker through its FIFO and
//! answers the worker's port. The control connection stays open for the next request.
//!
//! Threads: the main thread polls the listener, the pong FIFO and the termination signals (and
//! stamps the heartbeat); each control connection gets a small thread of its own, so a slow or
//! silent client only ever occupies its own thread. Waiting for an idle worker is a condition
//! variable woken by pong notices, not a sleep.

#![forbid(unsafe_code)]

pub mod assign;
pub mod control;
pub mod settings;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kennel_common::notice::{Fifo, NoticeKind};
use kennel_common::process::{exit_status, start_child, ChildContext, EXIT_START};
use kennel_common::protocol::error_line;
use kennel_common::runtime::FifoName;
use kennel_common::segment::RecordId;
use kennel_common::{Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::assign::Queue;
use crate::settings::{Args, Settings};

/// Longest time between two heartbeats.
pub const TICK: Duration = Duration::from_millis(250);

/// Stack of a connection thread. It holds a 1 KiB read buffer and calls shallow functions;
/// measured: 1,000 idle control connections cost the dispatcher 12.3 MiB RSS with 64 KiB
/// stacks and a 1 KiB buffer, 16.4 MiB with 128 KiB and 4 KiB.
const CONNECTION_STACK: usize = 64 * 1024;

/// State shared by the main thread and the connection threads.
pub struct Dispatcher {
    pub ctx: ChildContext,
    pub settings: Settings,
    /// One FIFO per worker slot, for ping notices.
    pub worker_fifos: Vec<Fifo>,
    /// Pong notices from the workers.
    pub pongs: Fifo,
    /// Requests waiting for an idle worker.
    pub queue: Queue,
    /// Where the next round-robin search starts.
    pub cursor: AtomicUsize,
    /// Open control connections.
    pub connections: AtomicUsize,
    /// Open control connections per source address.
    pub per_source: Mutex<HashMap<IpAddr, usize>>,
    /// Source of one-time tokens (`--require-token`).
    random: File,
}

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel-dispatcher: {e}");
            return EXIT_START;
        }
    };
    let (ctx, listener) = match start_child(
        "dispatcher",
        settings.runtime.clone(),
        RecordId::Dispatcher,
        settings.bind,
        settings.port,
    ) {
        Ok(pair) => pair,
        Err(status) => return status,
    };
    match Dispatcher::open(ctx, settings) {
        Ok(d) => exit_status(run(listener, Arc::new(d))),
        Err(e) => {
            log::error!("cannot start: {e}");
            EXIT_START
        }
    }
}

impl Dispatcher {
    pub fn open(ctx: ChildContext, settings: Settings) -> Result<Dispatcher> {
        let worker_fifos = (0..ctx.segment.workers())
            .map(|k| Fifo::open(&ctx.runtime.fifo_path(FifoName::Worker(k))))
            .collect::<Result<Vec<_>>>()?;
        let pongs = Fifo::open(&ctx.runtime.fifo_path(FifoName::Dispatcher))?;
        Ok(Dispatcher {
            ctx,
            settings,
            worker_fifos,
            pongs,
            queue: Queue::default(),
            cursor: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            per_source: Mutex::new(HashMap::new()),
            random: File::open("/dev/urandom").map_err(|e| Error::io("opening /dev/urandom", e))?,
        })
    }

    /// A fresh unguessable non-zero token (64 random bits).
    pub fn new_token(&self) -> u64 {
        let mut b = [0u8; 8];
        match (&self.random).read_exact(&mut b) {
            Ok(()) => u64::from_le_bytes(b).max(1),
            Err(e) => {
                // Never fall back to a guessable token: a zero token matches nothing.
                log::error!("reading /dev/urandom: {e}");
                0
            }
        }
    }

    /// Counts a new connection from `ip` against both caps; the reason if either is full.
    fn admit(&self, ip: IpAddr) -> std::result::Result<(), String> {
        let open = self.connections.fetch_add(1, SeqCst);
        if open >= self.settings.max_connections {
            self.connections.fetch_sub(1, SeqCst);
            return Err(format!("{open} control connections already open"));
        }
        let mut map = self.per_source.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.settings.max_per_source {
            let n = *n;
            drop(map);
            self.connections.fetch_sub(1, SeqCst);
            return Err(format!("{n} control connections already open from {ip}"));
        }
        *n += 1;
        self.ctx
            .segment
            .record(RecordId::Dispatcher)
            .connections
            .fetch_add(1, SeqCst);
        Ok(())
    }

    fn release(&self, ip: IpAddr) {
        self.connections.fetch_sub(1, SeqCst);
        self.ctx
            .segment
            .record(RecordId::Dispatcher)
            .connections
            .fetch_sub(1, SeqCst);
        let mut map = self.per_source.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

/// Serves until a termination signal. `listener` is already bound (tests bind port 0).
pub fn run(listener: TcpListener, dispatcher: Arc<Dispatcher>) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listening address", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("making the listener non-blocking", e))?;
    dispatcher.ctx.announce_ready(local)?;
    log::info!(
        "ready on {local} ({}; {} worker slots, queue timeout {} ms)",
        if local.ip().is_loopback() {
            "loopback only"
        } else {
            "reachable from other machines"
        },
        dispatcher.ctx.segment.workers(),
        dispatcher.settings.queue_timeout.as_millis()
    );
    if !local.ip().is_loopback() {
        log::warn!("listening on {local}, which is reachable from other machines");
    }
    let timeout = PollTimeout::try_from(TICK.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(dispatcher.pongs.as_fd(), PollFlags::POLLIN),
            PollFd::new(dispatcher.ctx.signals.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::nix("poll", e)),
        }
        let readable = |fd: &PollFd<'_>| {
            fd.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLERR | PollFlags::POLLHUP)
            })
        };
        let (connecting, pongs, signalled) =
            (readable(&fds[0]), readable(&fds[1]), readable(&fds[2]));
        dispatcher.ctx.segment.heartbeat(RecordId::Dispatcher);
        if signalled && dispatcher.ctx.termination_requested() {
            dispatcher.ctx.mark_stopping();
            return Ok(());
        }
        if pongs {
            for n in dispatcher.pongs.drain() {
                let slot_ok = dispatcher
                    .ctx
                    .segment
                    .worker_id(u64::from(n.slot))
                    .is_some();
                if n.kind != NoticeKind::Pong || !slot_ok {
                    log::warn!("ignoring an unexpected notice on the pong FIFO: {n:?}");
                }
            }
        }
        if connecting {
            accept_all(&listener, &dispatcher);
        }
        // A pong only wakes this loop; the queue is served whenever it is not empty, so a
        // pong lost to a full pipe delays a waiter by one tick at most.
        if dispatcher
            .ctx
            .segment
            .record(RecordId::Dispatcher)
            .waiting
            .load(SeqCst)
            > 0
        {
            assign::serve_queue(&dispatcher);
        }
        let own = dispatcher.ctx.segment.read(RecordId::Dispatcher);
        dispatcher.ctx.verify_identity(local, &own);
    }
}

/// Accepts every pending connection, each on a thread of its own, within the connection cap.
fn accept_all(listener: &TcpListener, dispatcher: &Arc<Dispatcher>) {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("accept failed: {e}");
                return;
            }
        };
        if let Err(why) = dispatcher.admit(peer.ip()) {
            log::warn!("refusing {peer}: {why}");
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(TICK));
            let _ = stream.write_all(&error_line("busy: too many connections"));
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
            log::error!("cannot start a thread for {peer}: {e}");
        }
    }
}
