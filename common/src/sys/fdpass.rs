//! Descriptors across a Unix socket (`SCM_RIGHTS`): how a worker hands a run to a sandbox it
//! made in advance. The sandbox was started before the run existed, so the run's stdin, its
//! output pipes and its archives reach it as descriptors in one message on a socket the sandbox
//! was born with. Taking ownership of what the kernel installed is the only unsafe step.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// A connected pair of `SOCK_SEQPACKET` sockets, both close-on-exec: the channel to a process
/// started with one end (a sandbox, a standby worker), messages whole or not at all.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?)
}

/// At most this many descriptors travel in one message.
pub const MAX_FDS: usize = 8;

/// Sends `bytes` and `fds` as one message on `sock` (a `SOCK_SEQPACKET` socket: the message
/// arrives whole or not at all).
pub fn send_with_fds(sock: impl AsFd, bytes: &[u8], fds: &[&dyn AsFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::other(format!(
            "{} descriptors in one message (at most {MAX_FDS})",
            fds.len()
        )));
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_fd().as_raw_fd()).collect();
    let iov = [IoSlice::new(bytes)];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let sent = sendmsg::<()>(
        sock.as_fd().as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    if sent != bytes.len() {
        return Err(io::Error::other("the message was cut short"));
    }
    Ok(())
}

/// Receives one message into `buf`: its length (0 at end of stream) and the descriptors it
/// carried, owned and close-on-exec. A message cut short (`MSG_TRUNC`, `MSG_CTRUNC`) is an
/// error: its descriptors are closed, nothing half-received is acted on.
pub fn recv_with_fds(sock: impl AsFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: the kernel has just installed `fd` in this process's table for this
                // message (SCM_RIGHTS); nothing else knows the number, so it is ours to own and
                // close exactly once.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    if msg
        .flags
        .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC)
    {
        return Err(io::Error::other("a message larger than its buffer"));
    }
    Ok((msg.bytes, fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::io::{Read, Seek, Write};

    fn pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap()
    }

    #[test]
    fn a_descriptor_crosses_with_its_message() {
        let (a, b) = pair();
        let mut f = std::fs::File::from(
            nix::sys::memfd::memfd_create("t", nix::sys::memfd::MFdFlags::MFD_CLOEXEC).unwrap(),
        );
        f.write_all(b"through the socket").unwrap();
        send_with_fds(&a, b"job", &[&f]).unwrap();
        let mut buf = [0u8; 16];
        let (n, fds) = recv_with_fds(&b, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"job");
        assert_eq!(fds.len(), 1);
        let mut g = std::fs::File::from(fds.into_iter().next().unwrap());
        g.rewind().unwrap();
        let mut s = String::new();
        g.read_to_string(&mut s).unwrap();
        assert_eq!(s, "through the socket");
    }

    #[test]
    fn end_of_stream_and_oversized_messages() {
        let (a, b) = pair();
        send_with_fds(&a, &[7u8; 64], &[]).unwrap();
        let mut small = [0u8; 8];
        assert!(
            recv_with_fds(&b, &mut small).is_err(),
            "a cut message is refused"
        );
        drop(a);
        let (n, fds) = recv_with_fds(&b, &mut small).unwrap();
        assert_eq!((n, fds.len()), (0, 0));
        let too_many: Vec<&dyn AsFd> = (0..=MAX_FDS).map(|_| &b as &dyn AsFd).collect();
        assert!(send_with_fds(&b, b"x", &too_many).is_err());
    }
}
