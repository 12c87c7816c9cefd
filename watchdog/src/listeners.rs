//! The watchdog owns every listening socket, as systemd's socket activation and s6-tcpserver
//! do: the dispatcher's port and each worker slot's port are bound once, at start, and each
//! child inherits its own across `exec` (`--listen-fd`). A restart therefore never closes a
//! port: connections made while a child is down wait in the kernel's backlog and are served
//! by its replacement, nobody else can take the port in the gap, and a client's retry can
//! never connect to itself on a port nobody listens on.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd};

use kennel_common::segment::RecordId;
use kennel_common::{Error, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

use crate::settings::Settings;

/// One listening socket per record: the dispatcher's, then each worker slot's.
pub struct Listeners {
    by_record: Vec<TcpListener>,
}

impl Listeners {
    /// Binds every port the settings name (0 = a port the kernel picks, kept for good). The
    /// error names the address that could not be bound and why.
    pub fn bind_all(s: &Settings) -> Result<Listeners> {
        let mut by_record = Vec::with_capacity(s.workers + 1);
        let ports = std::iter::once(s.port).chain((0..s.workers).map(|k| s.worker_port(k)));
        for port in ports {
            let addr = SocketAddr::new(s.shared.bind, port);
            let l = TcpListener::bind(addr)
                .map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
            by_record.push(l);
        }
        Ok(Listeners { by_record })
    }

    fn get(&self, id: RecordId) -> &TcpListener {
        &self.by_record[id.index()]
    }

    /// The address `id`'s socket is bound to.
    pub fn addr(&self, id: RecordId) -> SocketAddr {
        self.get(id)
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Runs `spawn` with `id`'s socket inheritable (close-on-exec cleared) and passes it the
    /// descriptor number; every other socket stays close-on-exec, so each child gets only its
    /// own. The watchdog is single-threaded, so no other spawn can see the gap.
    pub fn inheritable<R>(&self, id: RecordId, spawn: impl FnOnce(i32) -> R) -> Result<R> {
        let l = self.get(id);
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
