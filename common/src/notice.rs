//! Coordination notices carried by named FIFOs: fixed 16-byte records, each written with one
//! `write` (atomic, since 16 ≤ PIPE_BUF), decoded and validated by the reader.
//!
//! Notices are wake-ups, not truth: the truth is in shared memory. A notice that is lost (a
//! full pipe) only delays a wake-up until the reader's next periodic check; a stale one (for a
//! previous incarnation) is recognised against the segment and ignored. That is why writers
//! never block and readers never trust a notice beyond "look at slot k".
//!
//! ```text
//! byte  0..2   magic "KN"
//! byte  2      version (1)
//! byte  3      kind: 1 = Ready (child → watchdog), 2 = Ping (dispatcher → worker),
//!                    3 = Pong (worker → dispatcher)
//! byte  4..8   slot, u32 LE (u32::MAX = the dispatcher)
//! byte  8..12  pid of the sender, u32 LE
//! byte 12..16  low 32 bits of the ping marker concerned, u32 LE
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};

pub const NOTICE_SIZE: usize = 16;
const MAGIC: [u8; 2] = *b"KN";
const VERSION: u8 = 1;
/// The `slot` value that designates the dispatcher.
pub const DISPATCHER_SLOT: u32 = u32::MAX;
/// The `slot` of the gateway's notices.
pub const GATEWAY_SLOT: u32 = u32::MAX - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// "I am ready" (a child to the watchdog).
    Ready = 1,
    /// "slot k has work" (the dispatcher to worker k).
    Ping = 2,
    /// "slot k is done / ready again" (a worker to the dispatcher).
    Pong = 3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub slot: u32,
    pub pid: u32,
    pub marker: u32,
}

/// Why 16 bytes were not a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadNotice {
    Magic,
    Version(u8),
    Kind(u8),
}

impl std::fmt::Display for BadNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadNotice::Magic => write!(f, "bad magic"),
            BadNotice::Version(v) => write!(f, "unknown version {v}"),
            BadNotice::Kind(k) => write!(f, "unknown kind {k}"),
        }
    }
}

impl Notice {
    pub fn encode(&self) -> [u8; NOTICE_SIZE] {
        let mut b = [0u8; NOTICE_SIZE];
        b[0..2].copy_from_slice(&MAGIC);
        b[2] = VERSION;
        b[3] = self.kind as u8;
        b[4..8].copy_from_slice(&self.slot.to_le_bytes());
        b[8..12].copy_from_slice(&self.pid.to_le_bytes());
        b[12..16].copy_from_slice(&self.marker.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; NOTICE_SIZE]) -> std::result::Result<Notice, BadNotice> {
        if b[0..2] != MAGIC {
            return Err(BadNotice::Magic);
        }
        if b[2] != VERSION {
            return Err(BadNotice::Version(b[2]));
        }
        let kind = match b[3] {
            1 => NoticeKind::Ready,
            2 => NoticeKind::Ping,
            3 => NoticeKind::Pong,
            k => return Err(BadNotice::Kind(k)),
        };
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(Notice {
            kind,
            slot: word(4),
            pid: word(8),
            marker: word(12),
        })
    }
}

/// Splits what one `read` returned into notices. Legitimate writers only write whole records
/// atomically, so a read of a pipe holding only their data is a whole number of records; a bad
/// record or a ragged tail means a foreign writer: the rest of that read is discarded (which
/// also re-aligns the stream) and counted.
pub fn decode_batch(bytes: &[u8]) -> (Vec<Notice>, usize) {
    let mut notices = Vec::with_capacity(bytes.len() / NOTICE_SIZE);
    let mut chunks = bytes.chunks_exact(NOTICE_SIZE);
    for chunk in chunks.by_ref() {
        let arr: &[u8; NOTICE_SIZE] = chunk.try_into().expect("chunks_exact");
        match Notice::decode(arr) {
            Ok(n) => notices.push(n),
            Err(e) => {
                log::warn!("discarding a garbled FIFO notice ({e})");
                let consumed = notices.len() * NOTICE_SIZE;
                return (notices, bytes.len() - consumed);
            }
        }
    }
    let tail = chunks.remainder().len();
    if tail > 0 {
        log::warn!("discarding {tail} stray bytes on a FIFO");
    }
    (notices, tail)
}

/// An open FIFO end. Both readers and writers open it `O_RDWR | O_NONBLOCK`: the open never
/// blocks and never fails for want of a peer, a writer never gets `EPIPE` when the reader is
/// being restarted (the notice waits in the pipe), and a reader never sees end-of-file.
#[derive(Debug)]
pub struct Fifo {
    file: File,
}

impl Fifo {
    /// Creates the FIFO 0600, failing if anything already has that name.
    pub fn create(path: &Path) -> Result<()> {
        nix::unistd::mkfifo(
            path,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .map_err(|e| Error::nix(format!("creating FIFO {}", path.display()), e))
    }

    /// Opens an existing FIFO of ours without following symlinks, checking type, owner, mode.
    pub fn open(path: &Path) -> Result<Fifo> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| Error::io(format!("opening FIFO {}", path.display()), e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("inspecting FIFO {}", path.display()), e))?;
        if !meta.file_type().is_fifo()
            || !crate::owner::is_ours(meta.uid())
            || !crate::owner::is_private(meta.mode())
        {
            return Err(Error::Foreign(format!(
                "{} is not a private FIFO of ours",
                path.display()
            )));
        }
        Ok(Fifo { file })
    }

    /// Sends one notice without blocking. A full pipe drops the notice (see module docs).
    pub fn send(&self, notice: &Notice) -> io::Result<()> {
        let bytes = notice.encode();
        let n = (&self.file).write(&bytes)?;
        if n != NOTICE_SIZE {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short FIFO write"));
        }
        Ok(())
    }

    /// Reads every notice available now (never blocks).
    pub fn drain(&self) -> Vec<Notice> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match (&self.file).read(&mut buf) {
                Ok(0) => return out,
                Ok(n) => {
                    let (notices, _) = decode_batch(&buf[..n]);
                    out.extend(notices);
                    if n < buf.len() {
                        return out;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return out, // WouldBlock: empty
            }
        }
    }

    /// For `poll`.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        let n = Notice {
            kind: NoticeKind::Pong,
            slot: 7,
            pid: 12345,
            marker: 0xdead_beef,
        };
        assert_eq!(Notice::decode(&n.encode()), Ok(n));
    }

    #[test]
    fn garbage_is_rejected_and_the_rest_of_the_read_discarded() {
        let good = Notice {
            kind: NoticeKind::Ping,
            slot: 1,
            pid: 2,
            marker: 3,
        }
        .encode();
        let mut bytes = good.to_vec();
        bytes.extend_from_slice(b"garbage garbage!");
        bytes.extend_from_slice(&good);
        let (notices, discarded) = decode_batch(&bytes);
        assert_eq!(notices.len(), 1);
        assert_eq!(discarded, 32);
        let mut bad_kind = good;
        bad_kind[3] = 9;
        assert_eq!(Notice::decode(&bad_kind), Err(BadNotice::Kind(9)));
        let mut bad_version = good;
        bad_version[2] = 2;
        assert_eq!(Notice::decode(&bad_version), Err(BadNotice::Version(2)));
        let (n, tail) = decode_batch(&good[..10]);
        assert!(n.is_empty());
        assert_eq!(tail, 10);
    }
}
