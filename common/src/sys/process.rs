//! The process-side system calls the program runner needs and the standard library does not
//! offer safely: setting up a sandboxed child between `fork` and `exec` (descriptors at fixed
//! numbers, cgroup membership, an unprivileged identity), a pidfd to wait for a child with a
//! deadline, and taking ownership of a descriptor a parent handed down by number.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// What a sandboxed child does between `fork` and `exec`, in this order: join the cgroups
/// (so everything it forks later is accounted there), put descriptors at the numbers the
/// sandbox expects, then give up root.
pub struct ChildSetup {
    /// Descriptors to place at fixed numbers: `(source, target)`. Every target must be below
    /// 10: sources are first duplicated to 10 or above, so no placement overwrites another's
    /// source.
    pub fds: Vec<(OwnedFd, RawFd)>,
    /// `cgroup.procs` files opened for writing: the child writes `0` (itself) to each.
    pub cgroup_procs: Vec<OwnedFd>,
    /// `(uid, gid)` to switch to, with no supplementary groups, when running as root.
    pub drop_to: Option<(u32, u32)>,
    /// Signal the child gets when the thread that started it dies (`PR_SET_PDEATHSIG`), set
    /// after the change of identity (which clears it) and checked against a parent that died
    /// before it was set: a sandbox never outlives its worker, even one killed mid-start.
    pub parent_death: Option<nix::sys::signal::Signal>,
}

/// Arranges for `cmd`'s child to run `setup` before it executes. The descriptors stay owned
/// by `cmd`'s closure until the command is dropped.
pub fn prepare_child(cmd: &mut Command, setup: ChildSetup) -> io::Result<()> {
    let mut fds = Vec::with_capacity(setup.fds.len());
    for (fd, target) in setup.fds {
        if !(0..10).contains(&target) {
            return Err(io::Error::other(format!(
                "descriptor target {target} is not below 10"
            )));
        }
        let high = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))?;
        // SAFETY: F_DUPFD_CLOEXEC just returned a new descriptor that nothing else owns.
        fds.push((unsafe { OwnedFd::from_raw_fd(high) }, target));
    }
    let procs = setup.cgroup_procs;
    let drop_to = setup.drop_to;
    let death = setup.parent_death.map(|s| s as libc::c_ulong);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // functions may be called: it calls write, close_range, dup2, setgroups, setresgid,
    // setresuid, prctl and getppid (all plain system calls), reads only memory captured before
    // the fork, and allocates nothing (io::Error::last_os_error builds an errno-only error
    // without allocating).
    unsafe {
        cmd.pre_exec(move || {
            for cg in &procs {
                if libc::write(cg.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
            }
            // Nothing reaches the child but what is placed below: every descriptor this
            // process had, ours or inherited from whoever started Kennel, closes at exec.
            // (Marked, not closed: std's own exec-error pipe must stay open until exec.)
            if libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) != 0 {
                return Err(io::Error::last_os_error());
            }
            for (fd, target) in &fds {
                if libc::dup2(fd.as_raw_fd(), *target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some((uid, gid)) = drop_to {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresgid(gid, gid, gid) != 0
                    || libc::setresuid(uid, uid, uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some(sig) = death {
                if libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent died before the signal was armed: nobody will ever send it.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            Ok(())
        });
    }
    Ok(())
}

/// Marks every descriptor from 3 up close-on-exec, except those in `keep`: what a shell, a
/// launcher or a service manager left open when it started this process never reaches a child.
/// Called first thing by every Kennel binary (the descriptors it was handed on purpose, such
/// as an inherited listener, are in `keep`).
pub fn cloexec_inherited(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= 3).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from: libc::c_uint = 3;
    for k in keep
        .iter()
        .map(|&k| k as libc::c_uint)
        .chain([libc::c_uint::MAX])
    {
        if k > from {
            let last = if k == libc::c_uint::MAX { k } else { k - 1 };
            // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors in
            // the range (absent ones are skipped); it closes nothing and touches no memory.
            if unsafe { libc::close_range(from, last, libc::CLOSE_RANGE_CLOEXEC as i32) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        from = k.saturating_add(1);
    }
    Ok(())
}

/// One classic-BPF instruction: `(code, jump if true, jump if false, k)`.
pub type BpfInsn = (u16, u8, u8, u32);

/// Installs `program` as this thread's seccomp filter (inherited by every thread and process
/// it starts afterwards; call it before starting threads), after `PR_SET_NO_NEW_PRIVS`, which
/// an unprivileged process needs for a filter and which keeps setuid binaries from regaining
/// what the filter denies.
pub fn install_seccomp_filter(program: &[BpfInsn]) -> io::Result<()> {
    let mut filter: Vec<libc::sock_filter> = program
        .iter()
        .map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
        .collect();
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(io::Error::other)?,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `prog` points at `filter`, which lives until after the call; the kernel copies the
    // program and keeps no pointer into our memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A pidfd for `pid` (Linux 5.3+): readable once the process has exited, so a parent can wait
/// for a child in `poll` next to its pipes, with a deadline.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new descriptor or -1; it
    // reads and writes no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// SIGKILL through a pidfd: it names one process for its whole life, so unlike `kill(pid)` it
/// can never reach another process that reused the number.
pub fn pidfd_kill(pidfd: &OwnedFd) -> io::Result<()> {
    // SAFETY: pidfd_send_signal takes a descriptor we own, a signal number, a null siginfo
    // (allowed: the kernel fills one in) and zero flags; it writes no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Puts this thread (and what it forks later) under `SCHED_BATCH` (`batch`) or back under
/// `SCHED_OTHER`, at the same nice value: a batch task never preempts another when it wakes.
/// Both ways need no privilege.
pub fn set_batch_scheduling(batch: bool) -> io::Result<()> {
    let policy = if batch {
        libc::SCHED_BATCH
    } else {
        libc::SCHED_OTHER
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler reads one sched_param, which lives across the call; pid 0 is
    // the calling thread.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Puts this thread under `SCHED_IDLE` for the rest of its life: for a process on its way out,
/// so that its teardown (namespaces, mounts, memory) takes only CPU time nobody else wants.
/// Needs no privilege (coming back would: a task leaves `SCHED_IDLE` only within its
/// `RLIMIT_NICE`, 0 for ordinary users).
pub fn set_idle_scheduling() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as in `set_batch_scheduling`: one sched_param read during the call, pid 0.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes ownership of descriptor `fd`, which this process's parent placed there for it
/// (for `kennel-run`: the facts and archive descriptors). Fails if it is not open.
pub fn inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::other(format!(
            "descriptor {fd} is a standard stream"
        )));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; on a number that is not an open
    // descriptor it fails with EBADF and touches nothing.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::other(format!(
            "descriptor {fd} is not open: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: `fd` is open and, by the contract with our parent, ours alone: nothing else in
    // this process wraps it (the caller takes each number once, at start).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The scheduling policy of the calling thread, from its `stat` (field 41).
    fn own_policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(38).unwrap().parse().unwrap()
    }

    #[test]
    fn a_thread_put_under_sched_idle_is_there_and_the_others_are_not() {
        let before = own_policy();
        assert_ne!(before, libc::SCHED_IDLE as u32);
        let policy = std::thread::spawn(|| {
            set_idle_scheduling().unwrap();
            own_policy()
        })
        .join()
        .unwrap();
        assert_eq!(policy, libc::SCHED_IDLE as u32);
        assert_eq!(own_policy(), before);
    }

    #[test]
    fn a_child_gets_its_descriptor_at_the_number_asked() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo placed >&7"]);
        prepare_child(
            &mut cmd,
            ChildSetup {
                fds: vec![(w, 7)],
                cgroup_procs: vec![],
                drop_to: None,
                parent_death: Some(nix::sys::signal::Signal::SIGKILL),
            },
        )
        .unwrap();
        let status = cmd.status().unwrap();
        drop(cmd);
        assert!(status.success());
        let mut out = String::new();
        std::fs::File::from(r).read_to_string(&mut out).unwrap();
        assert_eq!(out, "placed\n");
    }

    #[test]
    fn a_pidfd_becomes_readable_when_the_child_exits() {
        let mut child = Command::new("/bin/true").spawn().unwrap();
        let fd = pidfd_open(child.id()).unwrap();
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&fd),
            nix::poll::PollFlags::POLLIN,
        )];
        let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
        assert_eq!(n, 1);
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn only_open_descriptors_are_inherited() {
        assert!(inherited_fd(1).is_err());
        assert!(inherited_fd(999)
            .unwrap_err()
            .to_string()
            .contains("not open"));
    }
}
