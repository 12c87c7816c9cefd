//! The only module of Kennel that uses `unsafe`: the shared-memory mapping and the System V
//! semaphore calls, each wrapped in a small safe function; `process` holds the few process
//! calls of the program runner (pre-exec setup, pidfd, inherited descriptors), `fdpass`
//! descriptors handed to a sandbox made in advance, `namespaces` the fork into a run's fresh
//! namespaces and the dropping of capabilities.
//!
//! Everything above this module is safe Rust. The promises that make it so are written next to
//! each block as `// SAFETY:` comments; there are few of them, on purpose, so that a reader can
//! check every one in a minute.

#![allow(unsafe_code)]

use std::io;
use std::mem::{align_of, size_of, MaybeUninit};
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::time::Duration;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

use crate::layout::{Header, Record};

mod fdpass;
mod namespaces;
mod process;
pub use fdpass::{recv_with_fds, send_with_fds, seqpacket_pair, MAX_FDS as MAX_PASSED_FDS};
pub use namespaces::{drop_all_capabilities, pidfd_pid, run_in_namespaces, ChildStack};
pub use process::{
    cloexec_inherited, inherited_fd, install_seccomp_filter, pidfd_kill, pidfd_open, prepare_child,
    set_batch_scheduling, set_idle_scheduling, BpfInsn, ChildSetup,
};

/// Types whose every bit pattern is valid and whose fields are all atomics, so a reference to
/// one placed in shared memory may be read and written by several processes at once.
///
/// # Safety
/// Implement only for `#[repr(C)]` structs made exclusively of `Atomic*` fields (or arrays of
/// them) with no padding that matters: any bytes another process writes must form a valid value.
pub unsafe trait SharedPlain {}

// SAFETY: `Header` is `#[repr(C)]` and holds only `AtomicU32`/`AtomicU64` fields, for which every
// bit pattern is a valid value and concurrent access from several processes is defined.
unsafe impl SharedPlain for Header {}
// SAFETY: same reasoning as for `Header`: `Record` is `#[repr(C)]` and all its fields are atomics.
unsafe impl SharedPlain for Record {}

/// A `MAP_SHARED` mapping of a shared-memory object, unmapped on drop.
pub struct Mapping {
    ptr: NonNull<libc::c_void>,
    len: usize,
}

// SAFETY: the mapping is plain memory shared with other processes; it is only ever accessed
// through `SharedPlain` types (all atomics), so sharing the pointer between threads adds nothing
// that other processes do not already do.
unsafe impl Send for Mapping {}
// SAFETY: see `Send` above: all access goes through atomics.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, read-write or read-only.
    pub fn new(fd: impl AsFd, len: usize, writable: bool) -> io::Result<Mapping> {
        let length = NonZeroUsize::new(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"))?;
        let prot = if writable {
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE
        } else {
            ProtFlags::PROT_READ
        };
        // SAFETY: we ask the kernel for a fresh mapping (no fixed address), so no existing Rust
        // object is aliased or replaced; the returned pointer is only dereferenced through
        // `get`, which checks bounds and alignment.
        let ptr = unsafe { mmap(None, length, prot, MapFlags::MAP_SHARED, fd, 0) }?;
        Ok(Mapping { ptr, len })
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a mapping is never empty (`new` refuses a zero length).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A reference to the `T` stored at `offset`, or `None` if it does not fit or is misaligned.
    pub fn get<T: SharedPlain>(&self, offset: usize) -> Option<&T> {
        let end = offset.checked_add(size_of::<T>())?;
        let addr = (self.ptr.as_ptr() as usize).checked_add(offset)?;
        if end > self.len || addr % align_of::<T>() != 0 {
            return None;
        }
        // SAFETY: `offset..end` lies inside the mapping and the address is aligned for `T`
        // (both checked above); `T: SharedPlain` guarantees that any bytes are a valid `T` and
        // that concurrent access is through atomics. The reference borrows `self`, and the
        // mapping is only unmapped in `drop`, so it cannot outlive the memory. Atomic loads on
        // a read-only mapping are plain loads for these word-sized atomics on Linux targets.
        Some(unsafe { &*self.ptr.as_ptr().cast::<u8>().add(offset).cast::<T>() })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what `mmap` returned, and every reference handed out
        // by `get` borrows `self`, so none can be alive while `drop` runs.
        if let Err(e) = unsafe { munmap(self.ptr, self.len) } {
            log::warn!("munmap of the shared segment failed: {e}");
        }
    }
}

/// What `IPC_STAT` tells about a semaphore set: enough to decide whether it is ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemInfo {
    pub uid: u32,
    pub mode: u32,
    pub nsems: u64,
}

/// Creates a new private System V semaphore set of one semaphore, 0600, with value 1.
///
/// `IPC_PRIVATE` always makes a new set, so nobody can pre-create (squat) it; its id is
/// published in the segment header.
pub fn sem_create() -> io::Result<i32> {
    // SAFETY: plain FFI call with integer arguments.
    let id = unsafe {
        libc::semget(
            libc::IPC_PRIVATE,
            1,
            libc::IPC_CREAT | libc::IPC_EXCL | 0o600,
        )
    };
    if id < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `SETVAL` takes an `int` as its variadic argument; `id` is the set just created.
    let rc = unsafe { libc::semctl(id, 0, libc::SETVAL, 1 as libc::c_int) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        let _ = sem_remove(id);
        return Err(err);
    }
    Ok(id)
}

/// Takes the semaphore (value 1 → 0) with `SEM_UNDO`, waiting at most `timeout`.
///
/// Returns `Ok(false)` on timeout. With `SEM_UNDO` the kernel gives the unit back if this
/// process dies while holding it, so a SIGKILLed holder never wedges the others.
pub fn sem_lock(id: i32, timeout: Duration) -> io::Result<bool> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        let mut op = libc::sembuf {
            sem_num: 0,
            sem_op: -1,
            sem_flg: libc::SEM_UNDO as libc::c_short,
        };
        // SAFETY: `op` and `ts` are valid for the duration of the call; one operation is
        // passed and `nsops` says so. `semtimedop` has no libc wrapper, hence `syscall`.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_semtimedop,
                id,
                &mut op as *mut libc::sembuf,
                1usize,
                &ts as *const libc::timespec,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) => return Ok(false),
            Some(libc::EINTR) if !left.is_zero() => continue,
            _ => return Err(err),
        }
    }
}

/// Gives the semaphore back (value 0 → 1), cancelling the `SEM_UNDO` adjustment of `sem_lock`.
pub fn sem_unlock(id: i32) -> io::Result<()> {
    let mut op = libc::sembuf {
        sem_num: 0,
        sem_op: 1,
        sem_flg: libc::SEM_UNDO as libc::c_short,
    };
    // SAFETY: `op` is valid for the call and `nsops` is 1.
    let rc = unsafe { libc::semop(id, &mut op, 1) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The semaphore's current value (1 = free, 0 = taken), for `kennelctl check`.
pub fn sem_value(id: i32) -> io::Result<i32> {
    // SAFETY: `GETVAL` takes no variadic argument.
    let rc = unsafe { libc::semctl(id, 0, libc::GETVAL) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// Owner, permissions and size of a semaphore set.
pub fn sem_stat(id: i32) -> io::Result<SemInfo> {
    let mut ds = MaybeUninit::<libc::semid_ds>::zeroed();
    // SAFETY: `IPC_STAT` writes a `semid_ds` through the pointer passed as the variadic
    // argument; `ds` is large enough and lives for the call. It is only read after success.
    let rc = unsafe { libc::semctl(id, 0, libc::IPC_STAT, ds.as_mut_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled `ds` (rc >= 0), and a zeroed `semid_ds` is valid anyway.
    let ds = unsafe { ds.assume_init() };
    Ok(SemInfo {
        uid: ds.sem_perm.uid,
        mode: u32::from(ds.sem_perm.mode) & 0o777,
        #[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit targets
        nsems: ds.sem_nsems as u64,
    })
}

/// Removes a semaphore set; processes blocked on it wake with `EIDRM`.
pub fn sem_remove(id: i32) -> io::Result<()> {
    // SAFETY: `IPC_RMID` takes no variadic argument.
    let rc = unsafe { libc::semctl(id, 0, libc::IPC_RMID) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// True if a semaphore call failed because the set no longer exists (removed: EIDRM, or an id
/// that names nothing: EINVAL).
pub fn sem_is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EIDRM | libc::EINVAL))
}

/// Takes ownership of listening TCP socket `fd`, inherited from the watchdog across `exec`
/// (`--listen-fd`), after checking that it is an open socket that is listening, and marks it
/// close-on-exec so it goes no further. Refuses anything else with the reason.
pub fn adopt_listener(fd: i32) -> io::Result<std::net::TcpListener> {
    use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
    if fd < 3 {
        return Err(io::Error::other(format!(
            "descriptor {fd} is a standard stream, not a listener"
        )));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; on a number that is not an open
    // descriptor it fails with EBADF and touches nothing.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::other(format!(
            "descriptor {fd} is not open: {e}"
        )));
    }
    // SAFETY: `fd` was just checked to be open, and this process has not wrapped it in any
    // owner yet; the borrow lives only for the checks below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let listening = nix::sys::socket::getsockopt(&borrowed, nix::sys::socket::sockopt::AcceptConn)
        .map_err(|e| io::Error::other(format!("descriptor {fd} is not a socket: {e}")))?;
    if !listening {
        return Err(io::Error::other(format!(
            "descriptor {fd} is a socket that is not listening"
        )));
    }
    nix::fcntl::fcntl(
        borrowed,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| io::Error::other(format!("descriptor {fd}: {e}")))?;
    // SAFETY: `fd` is open, a listening socket, and owned by nobody else in this process (the
    // watchdog passed it for this purpose and it is adopted once, at start): `OwnedFd` may
    // close it on drop.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(std::net::TcpListener::from(owned))
}

/// Exit status of a process killed by a mapping fault (the segment shrank under it).
pub const EXIT_MAPPING_FAULT: i32 = 4;

/// The line the SIGBUS handler writes, prepared at install time (a handler may not format).
static FAULT_LINE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

extern "C" fn on_mapping_fault(_: libc::c_int) {
    if let Some(line) = FAULT_LINE.get() {
        // SAFETY: write(2) and _exit(2) are async-signal-safe; `line` is an initialised,
        // immutable buffer that lives for the whole process (a `static`).
        unsafe {
            libc::write(2, line.as_ptr().cast(), line.len());
        }
    }
    // SAFETY: see above; _exit ends the process without running anything else.
    unsafe { libc::_exit(EXIT_MAPPING_FAULT) }
}

/// Makes a SIGBUS (a touch of the shared segment after someone truncated it) end this
/// process with one line on stderr naming `who` and the cause, and exit status 4 — never a
/// silent death. The watchdog sees the exit like any other and restarts the child once it has
/// sized the segment back.
pub fn exit_on_mapping_fault(who: &str) -> io::Result<()> {
    let _ = FAULT_LINE.set(
        format!(
            "{who}[{}]: SIGBUS: the shared segment shrank under this process (truncated by \
             hand?); exiting with status {EXIT_MAPPING_FAULT}\n",
            std::process::id()
        )
        .into_bytes(),
    );
    // SAFETY: an all-zero `sigaction` is a valid starting value (no flags, empty mask).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_mapping_fault as *const () as usize;
    // SAFETY: `action` is initialised and names a handler that only calls async-signal-safe
    // functions; the old action is not asked for.
    let rc = unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod adopt_tests {
    use super::adopt_listener;
    use std::os::fd::IntoRawFd;

    #[test]
    fn only_an_open_listening_socket_is_adopted() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let adopted = adopt_listener(l.into_raw_fd()).unwrap();
        assert_eq!(adopted.local_addr().unwrap(), addr);

        let err = |fd| adopt_listener(fd).unwrap_err().to_string();
        assert!(err(0).contains("standard stream"));
        let file = std::fs::File::open("/dev/null").unwrap().into_raw_fd();
        assert!(err(file).contains("not a socket"), "{}", err(file));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .into_raw_fd();
        assert!(err(udp).contains("not listening"), "{}", err(udp));
        // A number no descriptor of this process has (far above any the tests open).
        assert!(err(1_000_000).contains("not open"), "{}", err(1_000_000));
    }
}
