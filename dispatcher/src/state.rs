//! The dispatcher's state besides its event loop's own: the instance context, the workers'
//! FIFOs, the round-robin cursor, the connection caps, tokens.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use kennel_common::child::ChildContext;
use kennel_common::notice::Fifo;
use kennel_common::runtime::FifoName;
use kennel_common::segment::RecordId;
use kennel_common::Result;

use crate::settings::Settings;

/// What the event loop and its helpers share (the loop's own state — connections, queue — is
/// in `event_loop`).
pub struct Dispatcher {
    pub ctx: ChildContext,
    pub settings: Settings,
    /// One FIFO per worker slot, for ping notices.
    pub worker_fifos: Vec<Fifo>,
    /// Pong notices from the workers.
    pub pongs: Fifo,
    /// Where the next round-robin search starts.
    pub cursor: AtomicUsize,
    /// Open control connections.
    pub connections: AtomicUsize,
    /// Open control connections per source address.
    pub per_source: Mutex<HashMap<IpAddr, usize>>,
    /// A descriptor held in reserve, given up to tell a client `ERR busy` when the process
    /// runs out of them (see `accept`).
    pub reserve_fd: Mutex<Option<std::fs::File>>,
}

impl Dispatcher {
    pub fn open(ctx: ChildContext, mut settings: Settings) -> Result<Dispatcher> {
        // Every connection is a descriptor; besides them: the segment, the FIFOs, the
        // listener, epoll, the signalfd, the reserve descriptor.
        let reserved = 64 + ctx.segment.workers() as u64;
        settings.max_connections = kennel_common::resources::fit_connections(
            settings.max_connections,
            reserved,
            "--max-connections",
        );
        let worker_fifos = (0..ctx.segment.workers())
            .map(|k| Fifo::open(&ctx.runtime.fifo_path(FifoName::Worker(k))))
            .collect::<Result<Vec<_>>>()?;
        let pongs = Fifo::open(&ctx.runtime.fifo_path(FifoName::Dispatcher))?;
        Ok(Dispatcher {
            ctx,
            settings,
            worker_fifos,
            pongs,
            cursor: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            per_source: Mutex::new(HashMap::new()),
            reserve_fd: Mutex::new(std::fs::File::open("/dev/null").ok()),
        })
    }

    /// A fresh unguessable non-zero token: 64 bits from the kernel's CSPRNG (`getrandom`).
    pub fn new_token(&self) -> u64 {
        let mut b = [0u8; 8];
        match getrandom::fill(&mut b) {
            Ok(()) => u64::from_le_bytes(b).max(1),
            Err(e) => {
                // Never fall back to a guessable token: a zero token matches nothing.
                log::error!("getrandom: {e}");
                0
            }
        }
    }

    /// Counts a new connection from `ip` against both caps; the reason if either is full.
    pub fn admit(&self, ip: IpAddr) -> std::result::Result<(), String> {
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

    pub fn release(&self, ip: IpAddr) {
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
