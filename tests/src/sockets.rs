//! Sockets the tests need and std does not give: a connection from a chosen local address
//! (127.0.0.2, …), to play a second client host on loopback.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connects to `to` from the loopback address `from` (e.g. 127.0.0.2).
pub fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let fd: std::os::fd::OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    let [a, b, c, d] = from;
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::new(a, b, c, d, 0),
    )
    .unwrap();
    let SocketAddr::V4(v4) = to else {
        panic!("IPv4 expected")
    };
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(v4)).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Raises this process's descriptor limit to at least `n` (root may raise the hard limit),
/// for a test that holds that many sockets; panics naming the limit if it cannot.
pub fn allow_fds(n: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < n {
        setrlimit(Resource::RLIMIT_NOFILE, n, hard.max(n)).unwrap_or_else(|e| {
            panic!("this test holds {n} sockets: raise the descriptor limit (ulimit -n): {e}")
        });
    }
}
