//! What a server needs from the kernel to hold many clients: descriptors for its connections
//! (the soft limit raised to fit, or the connection cap lowered to what fits, said in the
//! log) and a listen backlog that absorbs a burst of connects.

use std::net::TcpListener;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The connections a process can hold: `wanted`, after raising the soft descriptor limit to
/// fit them plus `reserved` other descriptors (up to the hard limit); fewer, with a warning
/// naming `flag`, if even the hard limit does not fit them.
pub fn fit_connections(wanted: usize, reserved: u64, flag: &str) -> usize {
    let need = wanted as u64 + reserved;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return wanted;
    };
    let mut have = soft;
    if soft < need {
        let target = need.min(hard);
        if setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_ok() {
            have = target;
        }
    }
    if have >= need {
        return wanted;
    }
    let fit = have.saturating_sub(reserved).max(16) as usize;
    log::warn!(
        "{flag} {wanted} does not fit the descriptor limit ({have}, hard {hard}): holding at most {fit} connections"
    );
    fit
}

/// Raises `listener`'s backlog to the system's maximum (`SOMAXCONN`). Rust's std listens with
/// a backlog of 128: a burst of a few thousand connects overflows it, and each dropped SYN
/// waits a second or more for its retransmission (measured: 10,000 connects took 37 s, then
/// 0.35 s). `listen(2)` on a listening socket only changes its backlog.
pub fn widen_backlog(listener: &TcpListener) {
    if let Err(e) = nix::sys::socket::listen(listener, nix::sys::socket::Backlog::MAXCONN) {
        log::warn!("cannot raise the listen backlog: {e}");
    }
}
