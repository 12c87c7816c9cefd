//! Plain copies of the segment for readers: one record (`RecordView`, its codes kept raw and
//! decoded by accessors, so a corrupted value is reported rather than trusted) or the whole
//! segment (`Snapshot`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use super::endpoint::load_endpoint;
use super::RecordId;
use crate::layout::*;

/// A plain copy of a record. Codes are kept raw and decoded by the accessors, so that a
/// corrupted value is reported rather than trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub id: RecordId,
    pub seq: u32,
    pub role: u32,
    pub state: u32,
    pub supervision: u32,
    pub pid: u32,
    pub restarts: u32,
    pub last_exit: u32,
    pub fatal_reason: u32,
    pub kill_reason: u32,
    pub endpoint: Option<SocketAddr>,
    pub client: Option<SocketAddr>,
    pub request_type: u32,
    pub ping: u64,
    pub pong: u64,
    pub assigned_ms: u64,
    pub heartbeat_ms: u64,
    pub started_ms: u64,
    pub served: u64,
    pub failed: u64,
    pub busy: u64,
    pub dispatch_ns: u64,
    pub waiting: u64,
    pub token: u64,
    pub connections: u64,
    pub tasks: u32,
    pub capacity: u32,
    pub languages: u32,
    /// `LimitsMode::encode` of a worker's runs.
    pub limits: u32,
    /// The record was left half-written (odd `seq`).
    pub torn: bool,
}

fn load(a: &AtomicU32) -> u32 {
    a.load(SeqCst)
}

impl RecordView {
    pub(super) fn load(id: RecordId, r: &Record) -> RecordView {
        RecordView {
            id,
            seq: load(&r.seq),
            role: load(&r.role),
            state: load(&r.state),
            supervision: load(&r.supervision),
            pid: load(&r.pid),
            restarts: load(&r.restarts),
            last_exit: load(&r.last_exit),
            fatal_reason: load(&r.fatal_reason),
            kill_reason: load(&r.kill_reason),
            endpoint: load_endpoint(&r.endpoint),
            client: load_endpoint(&r.client),
            request_type: load(&r.request_type),
            ping: r.ping.load(SeqCst),
            pong: r.pong.load(SeqCst),
            assigned_ms: r.assigned_ms.load(SeqCst),
            heartbeat_ms: r.heartbeat_ms.load(SeqCst),
            started_ms: r.started_ms.load(SeqCst),
            served: r.served.load(SeqCst),
            failed: r.failed.load(SeqCst),
            busy: r.busy.load(SeqCst),
            dispatch_ns: r.dispatch_ns.load(SeqCst),
            waiting: r.waiting.load(SeqCst),
            token: r.token.load(SeqCst),
            connections: r.connections.load(SeqCst),
            tasks: load(&r.tasks),
            capacity: load(&r.capacity),
            languages: load(&r.languages),
            limits: load(&r.limits),
            torn: false,
        }
    }

    /// The program-runner languages this worker offers, by request type name.
    pub fn language_names(&self) -> Vec<&'static str> {
        crate::protocol::Language::ALL
            .into_iter()
            .filter(|lang| self.languages & lang.bit() != 0)
            .map(|lang| lang.name())
            .collect()
    }

    pub fn state(&self) -> Option<ProcState> {
        ProcState::from_code(self.state)
    }

    pub fn supervision(&self) -> Option<Supervision> {
        Supervision::from_code(self.supervision)
    }

    pub fn last_exit(&self) -> Option<ExitCode> {
        ExitCode::decode(self.last_exit)
    }

    /// Why the watchdog killed the last process of this record, if it did.
    pub fn killed_for(&self) -> Option<KillReason> {
        KillReason::from_code(self.kill_reason)
    }

    /// The last exit for people: `signal 9 (SIGKILL), killed by the watchdog: hang`.
    pub fn last_exit_text(&self) -> Option<String> {
        let exit = self.last_exit()?;
        Some(match self.killed_for() {
            Some(KillReason::None) | None => exit.to_string(),
            Some(k) => format!("{exit}, killed by the watchdog: {}", k.describe()),
        })
    }

    pub fn fatal_reason(&self) -> Option<FatalReason> {
        FatalReason::from_code(self.fatal_reason)
    }

    /// The pid if it is plausible (1 < pid ≤ the kernel's maximum), else `None`.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid).filter(|p| *p > 1 && *p <= 4_194_304)
    }

    /// One word for people: the process state, or the supervision state when it says more.
    pub fn display_state(&self) -> String {
        if self.torn {
            return "torn".into();
        }
        match (self.supervision(), self.state()) {
            (Some(Supervision::Fatal), _) => "fatal".into(),
            (Some(Supervision::Backoff), _) => "backoff".into(),
            (Some(Supervision::Stopped), _) => "stopped".into(),
            (Some(Supervision::Vacant), _) => "vacant".into(),
            (Some(Supervision::Draining), _) => "draining".into(),
            (_, Some(s)) => s.name().into(),
            (_, None) => format!("invalid({})", self.state),
        }
    }
}

/// A copy of the whole segment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub watchdog_pid: u32,
    pub watchdog_heartbeat_ms: u64,
    pub created_unix_ms: u64,
    pub stopping: bool,
    /// Monotonic ms when the snapshot was taken (to compute heartbeat ages).
    pub now_ms: u64,
    /// The dispatcher's record first, then each worker slot, then the gateway's.
    pub records: Vec<RecordView>,
    /// The elastic pool: (min, max) workers, and its scaling decisions so far.
    pub pool: PoolView,
}

/// What the header says of the elastic pool (and of the requests by type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolView {
    pub min: u32,
    pub max: u32,
    pub scale_ups: u64,
    pub scale_downs: u64,
    /// Requests served and failed, by `RequestKind` code.
    pub served_by_type: [u64; crate::layout::TYPE_SLOTS],
    pub failed_by_type: [u64; crate::layout::TYPE_SLOTS],
}

impl Snapshot {
    pub fn dispatcher(&self) -> &RecordView {
        &self.records[0]
    }

    pub fn workers(&self) -> &[RecordView] {
        &self.records[1..self.records.len().saturating_sub(1).max(1)]
    }

    /// The HTTP gateway's record.
    pub fn gateway(&self) -> &RecordView {
        &self.records[self.records.len() - 1]
    }

    /// The records of the processes that exist in this instance: every one but the gateway's
    /// when HTTP is off (vacant).
    pub fn present(&self) -> impl Iterator<Item = &RecordView> {
        self.records.iter().filter(|r| {
            r.id != crate::segment::RecordId::Gateway
                || r.supervision() != Some(crate::layout::Supervision::Vacant)
        })
    }

    /// Workers in the pool now: every slot but the vacant, stopped and draining ones.
    pub fn active_workers(&self) -> usize {
        use crate::layout::Supervision;
        self.workers()
            .iter()
            .filter(|r| {
                !matches!(
                    r.supervision(),
                    Some(Supervision::Vacant | Supervision::Stopped | Supervision::Draining)
                )
            })
            .count()
    }

    /// Milliseconds since `stamp`, saturating (a corrupted future stamp reads as 0).
    pub fn age_ms(&self, stamp: u64) -> u64 {
        self.now_ms.saturating_sub(stamp)
    }
}
