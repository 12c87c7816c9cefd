//! `kennelctl status --json` and `check --json`, as serde structs: the documented schema
//! (`schema: "kennel-status/1"`; docs/OPERATIONS.md). A field is added, never renamed or
//! removed, within one schema version.

use kennel_common::invariants::{self, Violation};
use kennel_common::layout::KillReason;
use kennel_common::protocol::RequestKind;
use kennel_common::segment::{RecordId, RecordView, Snapshot};
use serde::Serialize;

use crate::status::{age, port, state_word, Context, WatchdogLiveness};

/// The schema of `status --json`.
pub const STATUS_SCHEMA: &str = "kennel-status/1";

#[derive(Serialize)]
pub struct StatusDoc {
    pub schema: &'static str,
    pub runtime_dir: String,
    pub segment: String,
    pub stopping: bool,
    /// No watchdog holds the instance: the rows are a dead instance's last words.
    pub stale: bool,
    pub watchdog: WatchdogDoc,
    pub dispatcher: RecordDoc,
    pub workers: Vec<RecordDoc>,
    /// The HTTP gateway; absent when the instance runs none (no `--http`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<RecordDoc>,
    pub pool: PoolDoc,
}

#[derive(Serialize)]
pub struct WatchdogDoc {
    pub pid: u32,
    pub alive: bool,
    pub frozen: bool,
    pub heartbeat_age_ms: Option<u64>,
}

#[derive(Serialize)]
pub struct PoolDoc {
    pub min: u32,
    pub max: u32,
    pub scale_ups: u64,
    pub scale_downs: u64,
}

/// One record. Worker-only and dispatcher-only fields are absent on the other role.
#[derive(Serialize)]
pub struct RecordDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<usize>,
    pub pid: Option<u32>,
    pub state: String,
    pub frozen: bool,
    pub supervision: &'static str,
    pub port: Option<u16>,
    pub served: u64,
    pub failed: u64,
    pub restarts: u32,
    pub heartbeat_age_ms: Option<u64>,
    pub ping: u64,
    pub pong: u64,
    pub last_exit: Option<String>,
    pub killed_for: Option<&'static str>,
    pub fatal_reason: Option<&'static str>,
    #[serde(flatten)]
    pub role: RoleDoc,
    pub torn: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum RoleDoc {
    Worker {
        tasks: u32,
        capacity: u32,
        languages: Vec<&'static str>,
        /// How its runs are held to their limits.
        limits: kennel_common::limits_mode::Summary,
        client: Option<String>,
        request_type: Option<&'static str>,
    },
    Dispatcher {
        busy: u64,
        waiting: u64,
        dispatch_ns_total: u64,
    },
    Gateway {
        /// Where the HTTP API listens.
        address: Option<String>,
    },
}

fn record(s: &Snapshot, ctx: &Context, r: &RecordView) -> RecordDoc {
    RecordDoc {
        slot: match r.id {
            RecordId::Worker(k) => Some(k),
            RecordId::Dispatcher | RecordId::Gateway => None,
        },
        pid: r.pid(),
        state: state_word(s, ctx, r),
        frozen: invariants::is_frozen(s, r),
        supervision: r.supervision().map_or("invalid", |x| x.name()),
        port: port(r),
        served: r.served,
        failed: r.failed,
        restarts: r.restarts,
        heartbeat_age_ms: crate::status::heartbeat_age(s, r),
        ping: r.ping,
        pong: r.pong,
        last_exit: r.last_exit().map(|e| e.to_string()),
        killed_for: r
            .killed_for()
            .filter(|k| *k != KillReason::None)
            .map(|k| k.describe()),
        fatal_reason: r
            .fatal_reason()
            .map(|f| f.describe())
            .filter(|d| !d.is_empty()),
        role: match r.id {
            RecordId::Worker(_) => RoleDoc::Worker {
                tasks: r.tasks,
                capacity: r.capacity,
                languages: r.language_names(),
                limits: kennel_common::limits_mode::LimitsMode::decode(r.limits).summary(),
                client: r.client.map(|c| c.to_string()),
                request_type: RequestKind::from_code(r.request_type).map(|t| t.name()),
            },
            RecordId::Gateway => RoleDoc::Gateway {
                address: r.endpoint.map(|e| e.to_string()),
            },
            RecordId::Dispatcher => RoleDoc::Dispatcher {
                busy: r.busy,
                waiting: r.waiting,
                dispatch_ns_total: r.dispatch_ns,
            },
        },
        torn: r.torn,
    }
}

/// The status document (one object, one line).
pub fn status(s: &Snapshot, ctx: &Context) -> String {
    let doc = StatusDoc {
        schema: STATUS_SCHEMA,
        runtime_dir: ctx.runtime_dir.clone(),
        segment: ctx.segment_name.clone(),
        stopping: s.stopping,
        stale: ctx.watchdog == WatchdogLiveness::Gone,
        watchdog: WatchdogDoc {
            pid: s.watchdog_pid,
            alive: ctx.watchdog == WatchdogLiveness::Alive,
            frozen: invariants::watchdog_frozen(s),
            heartbeat_age_ms: age(s, s.watchdog_heartbeat_ms),
        },
        dispatcher: record(s, ctx, s.dispatcher()),
        workers: s.workers().iter().map(|r| record(s, ctx, r)).collect(),
        gateway: s
            .present()
            .find(|r| r.id == RecordId::Gateway)
            .map(|r| record(s, ctx, r)),
        pool: PoolDoc {
            min: s.pool.min,
            max: s.pool.max,
            scale_ups: s.pool.scale_ups,
            scale_downs: s.pool.scale_downs,
        },
    };
    serde_json::to_string(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[derive(Serialize)]
struct CheckDoc<'a> {
    schema: &'static str,
    ok: bool,
    violations: Vec<ViolationDoc<'a>>,
}

#[derive(Serialize)]
struct ViolationDoc<'a> {
    invariant: &'static str,
    record: Option<String>,
    detail: &'a str,
}

/// The check report, for scripts.
pub fn check(violations: &[Violation]) -> String {
    let doc = CheckDoc {
        schema: "kennel-check/1",
        ok: violations.is_empty(),
        violations: violations
            .iter()
            .map(|v| ViolationDoc {
                invariant: v.invariant,
                record: v.record.map(|r| r.to_string()),
                detail: &v.detail,
            })
            .collect(),
    };
    serde_json::to_string(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
