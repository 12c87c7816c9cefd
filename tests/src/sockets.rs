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
