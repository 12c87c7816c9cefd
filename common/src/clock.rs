//! Time as Kennel's processes share it: a system-wide monotonic clock in milliseconds (so one
//! process can judge another's heartbeat), and wall-clock milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

use nix::time::{clock_gettime, ClockId};

/// Milliseconds of `CLOCK_MONOTONIC`: the same clock in every process of the machine, never
/// jumps with wall-clock changes.
pub fn monotonic_ms() -> u64 {
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(ts) => (ts.tv_sec() as u64) * 1000 + (ts.tv_nsec() as u64) / 1_000_000,
        Err(_) => 0,
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_does_not_go_back() {
        let a = monotonic_ms();
        let b = monotonic_ms();
        assert!(a > 0 && b >= a);
    }
}
