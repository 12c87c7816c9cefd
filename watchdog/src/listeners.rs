//! The watchdog owns every listening socket, as systemd's socket activation and s6-tcpserver
//! do: the dispatcher's port and each worker slot's port are bound once, at start, and each
//! child inherits its own across `exec` (`--listen-fd`). A restart therefore never closes a
//! port: connections made while a child is down wait in the kernel's backlog and are served
//! by its replacement, nobody else can take the port in the gap, and a client's retry can
//! never connect to itself on a port nobody listens on. The gateway's HTTP port (`--http`)
//! is held the same way, when it is on.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd};

use kennel_common::segment::RecordId;
use kennel_common::{Error, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

use crate::settings::Settings;

/// One listening socket per record, in the segment's order: the dispatcher's, each worker
/// slot's, the gateway's (none when HTTP is off).
pub struct Listeners {
    by_record: Vec<Option<TcpListener>>,
    workers: usize,
}

impl Listeners {
    /// Binds every port the settings name (0 = a port the kernel picks, kept for good). The
    /// error names the address that could not be bound and why.
    pub fn bind_all(s: &Settings) -> Result<Listeners> {
        let bind = |addr: SocketAddr| {
            let l = TcpListener::bind(addr)
                .map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
            kennel_common::resources::widen_backlog(&l);
            Ok::<_, Error>(l)
        };
        let mut by_record = Vec::with_capacity(s.workers + 2);
        let ports = std::iter::once(s.port).chain((0..s.workers).map(|k| s.worker_port(k)));
        for port in ports {
            by_record.push(Some(bind(SocketAddr::new(s.shared.bind, port))?));
        }
        by_record.push(s.gateway.http.map(bind).transpose()?);
        Ok(Listeners {
            by_record,
            workers: s.workers,
        })
    }

    pub fn get(&self, id: RecordId) -> Result<&TcpListener> {
        self.by_record[id.index(self.workers)]
            .as_ref()
            .ok_or_else(|| Error::Invalid(format!("{id} has no listening socket (not enabled)")))
    }

    /// The address `id`'s socket is bound to.
    pub fn addr(&self, id: RecordId) -> SocketAddr {
        self.get(id)
            .ok()
            .and_then(|l| l.local_addr().ok())
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Runs `spawn` with `id`'s socket inheritable (close-on-exec cleared) and passes it the
    /// descriptor number; every other socket stays close-on-exec, so each child gets only its
    /// own. The watchdog is single-threaded, so no other spawn can see the gap.
    pub fn inheritable<R>(&self, id: RecordId, spawn: impl FnOnce(i32) -> R) -> Result<R> {
        let l = self.get(id)?;
        let set = |flags: FdFlag| {
            fcntl(l.as_fd(), FcntlArg::F_SETFD(flags))
                .map_err(|e| Error::nix(format!("setting the flags of {id}'s listener"), e))
        };
        set(FdFlag::empty())?;
        let out = spawn(l.as_raw_fd());
        set(FdFlag::FD_CLOEXEC)?;
        Ok(out)
    }
}
