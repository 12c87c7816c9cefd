//! The control socket: `<runtime dir>/control.sock`, 0600 in the 0700 runtime directory,
//! where `kennelctl` sends one verb and reads one answer (docs/PROTOCOL.md §7).
//!
//! A thread of its own accepts and reads (bounded: 256 bytes, 2 s), checks the caller's uid
//! (`SO_PEERCRED`: ours, or root), parses the verb, and hands it to the main loop through a
//! channel, waking the loop's `poll` with a byte on a pipe; the main loop does the work (it
//! alone touches the supervisor, one verb after the other) and answers through a one-shot
//! channel. Each connection waits for its answer on a thread of its own (at most
//! `MAX_CALLERS` at once), so a verb that comes while a rolling restart is answered at once:
//! refused, rather than queued behind it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Duration;

use kennel_common::control::{answer_line, Answer, Verb, MAX_REQUEST};
use kennel_common::runtime::RuntimeDir;
use kennel_common::{Error, Result};

/// How long a caller has to send its verb.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Callers served at once; more are told to wait.
const MAX_CALLERS: usize = 8;

/// A verb for the main loop, and where its answer goes.
pub struct Request {
    pub verb: Verb,
    pub reply: SyncSender<Answer>,
}

/// The listening side, owned by the main loop.
pub struct ControlServer {
    requests: Receiver<Request>,
    wake: OwnedFd,
    path: PathBuf,
    /// What a new serving thread needs when the socket is bound again (`rebind`).
    tx: mpsc::Sender<Request>,
    wake_tx: std::sync::Arc<OwnedFd>,
    answer_timeout: Duration,
    /// The socket the serving thread accepts on (a copy, to shut it down on `rebind`).
    listening: std::cell::RefCell<UnixListener>,
}

impl ControlServer {
    /// Binds the socket (replacing a stale one: the instance lock says no live watchdog uses
    /// it) and starts the thread. `answer_timeout` bounds the wait for the main loop.
    pub fn start(rt: &RuntimeDir, answer_timeout: Duration) -> Result<ControlServer> {
        let path = rt.control_socket_path();
        remove_stale(&path)?;
        let (wake_rx, wake_tx) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(|e| Error::nix("pipe2", e))?;
        let (tx, requests) = mpsc::channel();
        let wake_tx = std::sync::Arc::new(wake_tx);
        let listening = spawn_server(&path, &tx, &wake_tx, answer_timeout)?;
        Ok(ControlServer {
            requests,
            wake: wake_rx,
            path,
            tx,
            wake_tx,
            answer_timeout,
            listening: std::cell::RefCell::new(listening),
        })
    }

    /// Where the socket lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Binds the socket again at its path (it was removed, or replaced by something that is
    /// not ours: the caller removed that first) and serves it from a new thread; the old
    /// thread's socket is shut down, which ends it.
    pub fn rebind(&self) -> Result<()> {
        let fresh = spawn_server(&self.path, &self.tx, &self.wake_tx, self.answer_timeout)?;
        let old = self.listening.replace(fresh);
        let _ =
            nix::sys::socket::shutdown(old.as_fd().as_raw_fd(), nix::sys::socket::Shutdown::Both);
        Ok(())
    }

    /// Readable when a verb is waiting.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// The verbs waiting, in order.
    pub fn drain(&self) -> Vec<Request> {
        let mut sink = [0u8; 64];
        while matches!(nix::unistd::read(&self.wake, &mut sink), Ok(n) if n > 0) {}
        self.requests.try_iter().collect()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = remove_stale(&self.path);
    }
}

/// Binds `path` (0600) and starts a thread serving it; returns a copy of the listener.
fn spawn_server(
    path: &Path,
    tx: &mpsc::Sender<Request>,
    wake: &std::sync::Arc<OwnedFd>,
    answer_timeout: Duration,
) -> Result<UnixListener> {
    let listener = UnixListener::bind(path)
        .map_err(|e| Error::io(format!("binding {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
    let copy = listener
        .try_clone()
        .map_err(|e| Error::io("copying the control listener", e))?;
    let (tx, wake) = (tx.clone(), std::sync::Arc::clone(wake));
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || serve(listener, tx, wake, answer_timeout))
        .map_err(|e| Error::io("starting the control thread", e))?;
    Ok(copy)
}

/// Removes a socket of ours at `path`; refuses anything else there.
fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("inspecting {}", path.display()), e)),
        Ok(m) if m.file_type().is_socket() && kennel_common::owner::is_ours(m.uid()) => {
            std::fs::remove_file(path)
                .map_err(|e| Error::io(format!("removing {}", path.display()), e))
        }
        Ok(_) => Err(Error::Foreign(format!(
            "{} is not a socket of ours; refusing to touch it",
            path.display()
        ))),
    }
}

fn serve(
    listener: UnixListener,
    tx: mpsc::Sender<Request>,
    wake: std::sync::Arc<OwnedFd>,
    answer_timeout: Duration,
) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    let callers = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(s) => s,
            // Shut down by `rebind`: a newer thread serves the socket now.
            Err(e) if e.raw_os_error() == Some(libc_einval()) => return,
            Err(_) => continue,
        };
        if callers.fetch_add(1, SeqCst) >= MAX_CALLERS {
            callers.fetch_sub(1, SeqCst);
            let busy: Answer = Err(format!(
                "{MAX_CALLERS} verbs are already waiting: try again"
            ));
            let _ = stream.write_all(answer_line(&busy).as_bytes());
            continue;
        }
        let (tx, wake, callers) = (tx.clone(), Arc::clone(&wake), Arc::clone(&callers));
        let spawned = std::thread::Builder::new()
            .name("control-caller".into())
            .spawn(move || {
                let answer = one(&mut stream, &tx, &wake, answer_timeout);
                let _ = stream.write_all(answer_line(&answer).as_bytes());
                callers.fetch_sub(1, SeqCst);
            });
        if spawned.is_err() {
            log::warn!("control: no thread for a caller");
        }
    }
}

fn libc_einval() -> i32 {
    nix::errno::Errno::EINVAL as i32
}

/// One connection: who, what, and the main loop's answer.
fn one(
    stream: &mut UnixStream,
    tx: &mpsc::Sender<Request>,
    wake: &OwnedFd,
    answer_timeout: Duration,
) -> Answer {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let cred = nix::sys::socket::getsockopt(&*stream, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(|e| format!("cannot tell who is calling: {e}"))?;
    let me = nix::unistd::geteuid().as_raw();
    if cred.uid() != me && cred.uid() != 0 {
        log::warn!(
            "control: refused a verb from uid {} (pid {})",
            cred.uid(),
            cred.pid()
        );
        return Err(format!(
            "uid {} may not control this instance (its owner is uid {me})",
            cred.uid()
        ));
    }
    let mut line = Vec::new();
    BufReader::new(&mut *stream)
        .take(MAX_REQUEST as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("reading the verb: {e}"))?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_REQUEST {
            format!("a request over {MAX_REQUEST} bytes")
        } else {
            "an incomplete request (end it with a newline)".into()
        });
    }
    let text = std::str::from_utf8(&line[..line.len() - 1])
        .map_err(|_| "a request that is not text".to_string())?;
    let verb = Verb::parse(text)?;
    log::info!("control: {} (from pid {})", verb.line(), cred.pid());
    let (reply, answer) = mpsc::sync_channel(1);
    tx.send(Request { verb, reply })
        .map_err(|_| "the watchdog is stopping".to_string())?;
    let _ = nix::unistd::write(wake, b"!");
    answer
        .recv_timeout(answer_timeout)
        .unwrap_or_else(|_| Err(format!("no answer within {} s", answer_timeout.as_secs())))
}
