//! "Is this object ours?", asked the same way of every file, FIFO, shared-memory object and
//! semaphore Kennel touches: owned by our uid and, where it must be private, with no group or
//! other permission bits. Anything else is refused by name, never followed or removed.

/// Our real uid (no system call after the first: the kernel caches nothing for us, std does
/// not either, but the value cannot change in a process that never calls setuid).
pub fn our_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// True if `uid` is ours.
pub fn is_ours(uid: u32) -> bool {
    uid == our_uid()
}

/// True if `mode` gives nothing to group or others (0600, 0700, …).
pub fn is_private(mode: u32) -> bool {
    mode & 0o077 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_means_no_group_or_other_bits() {
        assert!(is_private(0o600) && is_private(0o700) && is_private(0o100600));
        assert!(!is_private(0o640) && !is_private(0o606) && !is_private(0o777));
        assert!(is_ours(our_uid()) && !is_ours(our_uid().wrapping_add(1)));
    }
}
