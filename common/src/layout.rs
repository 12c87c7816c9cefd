//! The byte layout of the shared-memory segment, and the codes stored in it.
//!
//! ```text
//! offset 0                 HEADER_SIZE          + RECORD_SIZE        + RECORD_SIZE ...           last
//! +------------------------+--------------------+--------------------+-----   +----------------+
//! | Header                 | Record 0           | Record 1           | ...    | Record 1 + N   |
//! | magic, version, sizes, | the dispatcher     | worker slot 0      |        | the HTTP       |
//! | semid, watchdog pid... |                    |                    |        | gateway        |
//! +------------------------+--------------------+--------------------+-----   +----------------+
//! ```
//!
//! The gateway's record is always there, after the N worker slots (so a worker's position
//! does not depend on whether HTTP is on); it shows `vacant` when `--http` is not given.
//!
//! Every field is an atomic, so any process may read any field at any time without undefined
//! behaviour, and `kennelctl` can read a live segment without taking part in the protocol.
//! Multi-field updates are bracketed by the record's `seq` word (odd while a write is under way,
//! a seqlock): a writer killed in the middle leaves `seq` odd, which readers detect and the
//! watchdog repairs. The layout is versioned; `segment::Segment::attach` refuses any other.

use std::sync::atomic::{AtomicU32, AtomicU64};

/// "KENNEL" + layout generation, little-endian, at offset 0.
pub const MAGIC: u64 = u64::from_le_bytes(*b"KENNEL\x00\x01");
/// Bumped whenever the meaning or position of a field changes.
pub const LAYOUT_VERSION: u32 = 6;
/// Upper bound on worker slots, so that a corrupted header cannot make us map gigabytes.
pub const MAX_WORKERS: usize = 64;
/// Size of the header in bytes.
pub const HEADER_SIZE: usize = std::mem::size_of::<Header>();
/// Size of one record in bytes.
pub const RECORD_SIZE: usize = std::mem::size_of::<Record>();

const _: () = assert!(HEADER_SIZE % 8 == 0 && RECORD_SIZE % 8 == 0);

/// Total segment size for `workers` worker slots (plus the dispatcher's and the gateway's
/// records).
pub const fn segment_size(workers: usize) -> usize {
    HEADER_SIZE + (workers + 2) * RECORD_SIZE
}

/// The segment header, written once by the watchdog at creation (plus its heartbeat).
#[repr(C)]
pub struct Header {
    pub magic: AtomicU64,
    pub layout_version: AtomicU32,
    pub header_size: AtomicU32,
    pub record_size: AtomicU32,
    pub worker_slots: AtomicU32,
    pub total_size: AtomicU64,
    /// Id of the System V semaphore set that guards the records.
    pub semid: AtomicU32,
    pub watchdog_pid: AtomicU32,
    /// Wall-clock creation time (ms since the Unix epoch): tells instances apart.
    pub created_unix_ms: AtomicU64,
    /// Monotonic ms of the watchdog's last loop turn.
    pub watchdog_heartbeat_ms: AtomicU64,
    /// Non-zero once the watchdog has begun stopping the instance.
    pub stopping: AtomicU32,
    /// Dispatcher port as configured (the live one is in the dispatcher's record).
    pub dispatcher_port: AtomicU32,
    /// Elastic pool: workers started because requests waited (or every worker was full).
    pub scale_ups: AtomicU64,
    /// Elastic pool: idle workers beyond the minimum drained and stopped.
    pub scale_downs: AtomicU64,
    /// Elastic pool: the pool's minimum and maximum (`min << 32 | max`), 0 before the start.
    pub pool_bounds: AtomicU64,
    /// Requests workers answered, by `RequestKind` code (index 0 unused).
    pub served_by_type: [AtomicU64; TYPE_SLOTS],
    /// Requests workers admitted but could not serve, by `RequestKind` code.
    pub failed_by_type: [AtomicU64; TYPE_SLOTS],
    pub reserved: [AtomicU64; 1],
    /// The dispatcher's own time per request, from the request line parsed to the port
    /// written, minus any wait for an idle worker: bucket k counts requests that took k µs
    /// (the last bucket, DISPATCH_BUCKETS - 1 µs or more).
    pub dispatch_hist: [AtomicU64; DISPATCH_BUCKETS],
}

/// Per-request-type counters in the header: one per `RequestKind` code (1 to 7) and 0.
pub const TYPE_SLOTS: usize = 8;

/// Buckets of the dispatch-time histogram (1 µs each).
pub const DISPATCH_BUCKETS: usize = 64;

/// An IP endpoint: an IPv4 address is stored as an IPv4-mapped IPv6 address.
#[repr(C)]
pub struct EndpointCell {
    /// The 16 address bytes as four big-endian words.
    pub ip: [AtomicU32; 4],
    /// 0 = none, otherwise the port.
    pub port: AtomicU32,
    pub reserved: AtomicU32,
}

/// One process's record: the dispatcher's (index 0), a worker slot's (index 1 + slot) or the
/// gateway's (the last).
#[repr(C)]
pub struct Record {
    /// Seqlock word: odd while a multi-field write is in progress.
    pub seq: AtomicU32,
    /// `Role` code, fixed at creation.
    pub role: AtomicU32,
    /// `ProcState` code: what the process is doing (written by the process and the dispatcher).
    pub state: AtomicU32,
    /// `Supervision` code: what the watchdog thinks of the process.
    pub supervision: AtomicU32,
    pub pid: AtomicU32,
    /// Times the watchdog has started this record's process after the first start.
    pub restarts: AtomicU32,
    /// `ExitCode::encode` of the last death, 0 if none.
    pub last_exit: AtomicU32,
    /// `FatalReason` code while `supervision` is FATAL.
    pub fatal_reason: AtomicU32,
    /// Where the process listens (published when it is ready).
    pub endpoint: EndpointCell,
    /// Worker slots: the client the dispatcher sent here (the ping's payload).
    pub client: EndpointCell,
    /// Worker slots: `RequestKind` code of the current assignment.
    pub request_type: AtomicU32,
    /// `KillReason` code of the last death: why the watchdog killed it, if it did.
    pub kill_reason: AtomicU32,
    /// Ping marker: assignments given to this slot. `ping == pong` means no assignment pending.
    pub ping: AtomicU64,
    /// Pong marker: assignments this slot has finished (served, refused or expired).
    pub pong: AtomicU64,
    /// Monotonic ms at which the current assignment was made.
    pub assigned_ms: AtomicU64,
    /// Monotonic ms of the process's last sign of life.
    pub heartbeat_ms: AtomicU64,
    /// Monotonic ms at which the watchdog started the process.
    pub started_ms: AtomicU64,
    /// Requests answered (workers) or dispatched (dispatcher).
    pub served: AtomicU64,
    /// Requests that failed: refused connections, expired assignments, protocol errors.
    pub failed: AtomicU64,
    /// Dispatcher: `-1` (busy) answers given.
    pub busy: AtomicU64,
    /// Dispatcher: total nanoseconds spent choosing and claiming slots.
    pub dispatch_ns: AtomicU64,
    /// Dispatcher: requests waiting for an idle worker right now (queue depth).
    pub waiting: AtomicU64,
    /// Worker slots: the one-time token of the current assignment (0 = none), checked by the
    /// worker in `--require-token` mode.
    pub token: AtomicU64,
    /// Dispatcher: control connections open right now.
    pub connections: AtomicU64,
    /// Worker slots: clients being served right now (written by the worker).
    pub tasks: AtomicU32,
    /// Worker slots: most clients served at once (`--max-tasks`), published before ready.
    pub capacity: AtomicU32,
    /// Worker slots: the program-runner languages offered, one bit per language (bit 0
    /// python, 1 c, 2 cpp, 3 java), published before ready.
    pub languages: AtomicU32,
    /// Worker slots: how runs are held to their limits (`limits_mode::LimitsMode::encode`),
    /// published before ready.
    pub limits: AtomicU32,
}

/// Declares a code stored in the segment as one `u32`: the enum, `from_code` (any other
/// value is `None`, so a corrupted word is reported rather than trusted) and one text per
/// variant, generated once for every such code.
macro_rules! segment_code {
    (
        $(#[$meta:meta])*
        pub enum $name:ident, text $text_fn:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $code, )+
        }

        impl $name {
            /// Decodes a word read from the segment.
            pub fn from_code(code: u32) -> Option<$name> {
                match code {
                    $( $code => Some($name::$variant), )+
                    _ => None,
                }
            }

            pub fn $text_fn(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }
    };
}

segment_code! {
    /// Which process a record belongs to.
    pub enum Role, text name {
        Dispatcher = 1 => "dispatcher",
        Worker = 2 => "worker",
        Gateway = 3 => "gateway",
    }
}

segment_code! {
    /// What a process is doing, as it (or the dispatcher, for ASSIGNED) wrote it.
    pub enum ProcState, text name {
        /// No process has published itself in this record yet.
        Empty = 0 => "empty",
        /// Spawned, not ready yet.
        Starting = 1 => "starting",
        /// Ready, with room for another client (serving fewer than its capacity).
        Idle = 2 => "idle",
        /// The dispatcher gave this slot a client (ping written); the client has not arrived yet.
        Assigned = 3 => "assigned",
        /// Serving as many clients as its capacity allows: no room for another.
        Busy = 4 => "busy",
        /// Shutting down on request.
        Stopping = 5 => "stopping",
        /// The process is gone (written by the watchdog when it reaps it).
        Dead = 6 => "dead",
    }
}

segment_code! {
    /// The watchdog's view of a record's process (its supervision state).
    pub enum Supervision, text name {
        /// Not started yet.
        Down = 0 => "down",
        /// Spawned; waiting for its ready notice.
        Starting = 1 => "starting",
        /// Ready and supervised.
        Running = 2 => "running",
        /// Died soon after starting; waiting before the next start.
        Backoff = 3 => "backoff",
        /// Restarted too often; left down until a cool-down passes.
        Fatal = 4 => "fatal",
        /// Being stopped (SIGTERM or a hang kill sent).
        Stopping = 5 => "stopping",
        /// Down and wanted down (`kennelctl stop`): supervision leaves it down until started.
        Stopped = 6 => "stopped",
        /// An elastic pool's slot not in use: started when the pool grows.
        Vacant = 7 => "vacant",
        /// Being stopped because the pool shrinks: it finishes what it holds, takes nothing new.
        Draining = 8 => "draining",
    }
}

segment_code! {
    /// Why a record was put in the FATAL state.
    pub enum FatalReason, text describe {
        None = 0 => "",
        /// More than `--max-restarts` deaths within `--restart-window`.
        TooManyRestarts = 1 => "restarted too often (crash loop)",
        /// The binary could not be spawned at all.
        SpawnFailed = 2 => "could not be spawned",
    }
}

segment_code! {
    /// Why the watchdog killed a child, when it did (kept with `last_exit`).
    pub enum KillReason, text describe {
        /// It died without the watchdog's doing (or was never killed by it).
        None = 0 => "",
        /// Its heartbeat went silent past the hang timeout.
        Hang = 1 => "hang",
        /// It did not become ready within the start timeout.
        StartTimeout = 2 => "start timeout",
        /// Stopped on request (instance stop, control verb).
        Stopped = 3 => "stop",
    }
}

/// How a process ended, packed in one word for the `last_exit` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Exited(u8),
    Signaled(u8),
}

impl ExitCode {
    pub fn encode(self) -> u32 {
        match self {
            ExitCode::Exited(c) => 0x100 | u32::from(c),
            ExitCode::Signaled(s) => 0x200 | u32::from(s),
        }
    }

    pub fn decode(word: u32) -> Option<ExitCode> {
        let low = (word & 0xff) as u8;
        match word & !0xff {
            0x100 => Some(ExitCode::Exited(low)),
            0x200 => Some(ExitCode::Signaled(low)),
            _ => None,
        }
    }
}

impl std::fmt::Display for ExitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitCode::Exited(c) => write!(f, "exit {c}"),
            ExitCode::Signaled(s) => {
                let name = nix::sys::signal::Signal::try_from(i32::from(*s))
                    .map(|s| s.as_str())
                    .unwrap_or("?");
                write!(f, "signal {s} ({name})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_reject_unknown_values() {
        for code in 0..7 {
            assert_eq!(ProcState::from_code(code).unwrap() as u32, code);
        }
        assert_eq!(ProcState::from_code(7), None);
        for code in 0..9 {
            assert_eq!(Supervision::from_code(code).unwrap() as u32, code);
        }
        assert_eq!(Supervision::from_code(99), None);
        assert_eq!(Role::from_code(0), None);
        assert_eq!(
            ExitCode::decode(ExitCode::Signaled(9).encode()),
            Some(ExitCode::Signaled(9))
        );
        assert_eq!(
            ExitCode::decode(ExitCode::Exited(3).encode()),
            Some(ExitCode::Exited(3))
        );
        assert_eq!(ExitCode::decode(0), None);
        assert_eq!(ExitCode::decode(0x3ff), None);
    }

    #[test]
    fn sizes_match_the_documented_layout() {
        // docs/ARCHITECTURE.md draws these sizes; change both together.
        assert_eq!(HEADER_SIZE, 96 + 16 * TYPE_SLOTS + 8 * DISPATCH_BUCKETS);
        assert_eq!(RECORD_SIZE, 200);
    }

    #[test]
    fn segment_size_grows_by_one_record_per_worker() {
        assert_eq!(segment_size(2) - segment_size(1), RECORD_SIZE);
        assert_eq!(
            segment_size(0),
            HEADER_SIZE + 2 * RECORD_SIZE,
            "dispatcher and gateway"
        );
    }
}
