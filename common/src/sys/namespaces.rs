//! What a sandbox kept for many runs needs to give each run fresh namespaces of its own
//! (`kennel-run`'s standby loop): a child born directly into new PID, mount and IPC
//! namespaces, and a way to give up every capability before the program starts.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// Which side of `fork_into_namespaces` this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The new process: PID 1 of its new PID namespace.
    Child,
    /// The caller, with the child's pid (in the caller's namespace).
    Parent(i32),
}

/// Forks a child directly into new namespaces (`flags`: `CLONE_NEW*` bits), as `fork` does:
/// the child returns `Forked::Child` on a copy of this process. Refused unless this process
/// has one thread (after a `fork` only the forking thread exists, and a lock another thread
/// held would stay held forever in the child).
pub fn fork_into_namespaces(flags: nix::sched::CloneFlags) -> io::Result<Forked> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "{threads} threads: forking is only safe with one"
        )));
    }
    let flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: clone with a null stack and no CLONE_VM/CLONE_SETTLS behaves as fork: the child
    // gets a copy of our address space and continues here on its own copy of the stack. With
    // a single thread (checked above) no lock is held by a thread that would not exist in
    // the child, so the allocator and the standard library stay usable there. The pointer
    // arguments (parent/child tid, tls) are null and unused without their flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null::<libc::c_void>(),
            std::ptr::null::<libc::c_int>(),
            std::ptr::null::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match rc {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
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
    fn forking_is_refused_with_several_threads() {
        // The test harness runs tests on threads of their own: this process has several.
        let e = fork_into_namespaces(nix::sched::CloneFlags::empty()).unwrap_err();
        assert!(e.to_string().contains("threads"), "{e}");
    }
}
