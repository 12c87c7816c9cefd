//! What a sandbox kept for many runs needs to give each run fresh namespaces of its own
//! (`kennel-run`'s standby loop): a child born directly into new PID, mount and IPC
//! namespaces that shares our memory while we wait, and a way to give up every capability
//! before the program starts.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// A stack for a child that shares our memory (`run_in_namespaces`): mapped once, with a
/// guard page at its low end, and reused by one child after another — a child's pages stay
/// mapped for the next, so no child pays a fault for its stack.
pub struct ChildStack {
    base: std::ptr::NonNull<libc::c_void>,
    len: usize,
}

/// The guard page's size (the smallest page this kernel maps).
const GUARD: usize = 4096;

impl ChildStack {
    /// Maps a stack of `len` bytes (rounded up to whole pages) plus its guard page.
    pub fn new(len: usize) -> io::Result<ChildStack> {
        let len = len.div_ceil(GUARD) * GUARD + GUARD;
        // SAFETY: an anonymous private mapping at an address the kernel picks: no existing
        // memory is touched; the result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = std::ptr::NonNull::new(base).ok_or_else(|| io::Error::other("mmap gave 0"))?;
        let stack = ChildStack { base, len };
        // SAFETY: the first page of the mapping just made, which nothing uses yet.
        if unsafe { libc::mprotect(base.as_ptr(), GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The stack's top (stacks grow down on every architecture Kennel runs on), 16-aligned.
    fn top(&mut self) -> *mut libc::c_void {
        // The mapping is page-aligned and a whole number of pages long: its end is aligned.
        self.base
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(self.len)
            .cast()
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once; no child runs on it (`run_in_namespaces`
        // borrows it mutably and returns only after its child is done with it).
        unsafe { libc::munmap(self.base.as_ptr(), self.len) };
    }
}

/// What `run_in_namespaces`' child runs: the body, then `_exit` with its status.
extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&mut &mut dyn FnMut` that `run_in_namespaces` passed; the caller
    // is suspended (CLONE_VFORK) until this child exits, so the reference stays valid.
    let body = unsafe { &mut *arg.cast::<&mut dyn FnMut() -> i32>() };
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(127);
    // SAFETY: `_exit` ends this process at once: no atexit handler and no stdio flush runs,
    // whose state we share with the suspended parent.
    unsafe { libc::_exit(code) }
}

/// Runs `body` in a child born directly into new namespaces (`flags`: `CLONE_NEW*` bits) that
/// *shares this process's memory* on `stack`, as `vfork` does: this thread is suspended until
/// the child has exited, then gets its pid to reap. Sharing the memory is what makes it cheap:
/// no copy of the page tables, no copy-on-write fault for each page the child touches, no
/// address space to tear down at its exit — a fork costs all three on every run. The child
/// exits with `body`'s status (127 if it panics) without running exit handlers.
///
/// Refused unless this process has one thread: the child runs on this thread's thread-local
/// storage while this thread is suspended, which is only sound when no other thread can run
/// and hold a lock the child needs (the allocator's, the standard library's).
pub fn run_in_namespaces(
    flags: nix::sched::CloneFlags,
    stack: &mut ChildStack,
    body: &mut dyn FnMut() -> i32,
) -> io::Result<i32> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "{threads} threads: a child sharing our memory is only safe with one"
        )));
    }
    let flags = flags.bits() | libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    let mut body: &mut dyn FnMut() -> i32 = body;
    let arg: *mut &mut dyn FnMut() -> i32 = &mut body;
    // SAFETY: the child runs `child_entry` on `stack` (ours alone for the duration: mutably
    // borrowed) and shares our memory; CLONE_VFORK suspends this thread until the child has
    // exited (`_exit`, never a return into our frames), so `arg` outlives its use and no
    // two threads of control run on this memory at once. One thread only: checked above.
    let pid = unsafe { libc::clone(child_entry, stack.top(), flags, arg.cast()) };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

/// Gives up every capability of this process: the ambient set (kept across `exec`), then the
/// effective, permitted and inheritable sets. The bounding set stays (dropping from it needs
/// `CAP_SETPCAP`); with no-new-privileges set and a non-zero uid, nothing regains it.
pub fn drop_all_capabilities() -> io::Result<()> {
    // SAFETY: prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) takes integers only and touches
    // no memory of ours.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // The version-3 header (`_LINUX_CAPABILITY_VERSION_3`) and its two 32-bit data words.
    let mut header = [0x2008_0522u32, 0];
    let data = [[0u32; 3]; 2];
    // SAFETY: capset reads a header of two u32 (version, pid 0 = this thread) and, for
    // version 3, two {effective, permitted, inheritable} triples of u32: both arrays have
    // exactly that layout and live across the call.
    let rc = unsafe { libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The pid, in this process's PID namespace, of the process `pidfd` refers to (from its
/// `fdinfo`): a pidfd received from inside a sandbox names its process there as PID 1, and
/// the kernel translates it for whoever reads. `None` once the process is gone.
pub fn pidfd_pid(pidfd: &OwnedFd) -> io::Result<Option<u32>> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .ok_or_else(|| io::Error::other("not a pidfd"))?
        .trim()
        .parse::<i64>()
        .map_err(io::Error::other)?;
    Ok(u32::try_from(pid).ok().filter(|p| *p > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfd_tells_its_pid_in_our_namespace() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let fd = crate::sys::pidfd_open(child.id()).unwrap();
        assert_eq!(pidfd_pid(&fd).unwrap(), Some(child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(pidfd_pid(&fd).unwrap(), None, "-1 once reaped");
    }

    #[test]
    fn a_child_sharing_our_memory_is_refused_with_several_threads() {
        // The test harness runs tests on threads of their own: this process has several.
        let mut stack = ChildStack::new(64 * 1024).unwrap();
        let e =
            run_in_namespaces(nix::sched::CloneFlags::empty(), &mut stack, &mut || 0).unwrap_err();
        assert!(e.to_string().contains("threads"), "{e}");
    }
}
