//! What kennelctl shows: a segment snapshot as a table for people or JSON for scripts, and the
//! result of the invariant check. Pure functions from a snapshot to text.

use std::fmt::Write as _;

use kennel_common::invariants::{self, Violation};
use kennel_common::layout::{ProcState, Role};
use kennel_common::segment::{RecordId, RecordView, Snapshot};

/// Whether the watchdog that created the segment is alive (it holds the segment's lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogLiveness {
    Alive,
    Gone,
}

/// Extra facts kennelctl gathers next to the snapshot.
#[derive(Debug, Clone)]
pub struct Context {
    pub runtime_dir: String,
    pub segment_name: String,
    pub watchdog: WatchdogLiveness,
}

/// A row's state for people: `stale` for every row when the watchdog is gone (the pids may
/// not exist any more), `frozen` for a live process whose heartbeat stopped, else the state.
pub fn state_word(s: &Snapshot, ctx: &Context, r: &RecordView) -> String {
    if ctx.watchdog == WatchdogLiveness::Gone {
        return "stale".into();
    }
    if invariants::is_frozen(s, r) {
        return "frozen".into();
    }
    match (r.id.role(), r.state()) {
        (Role::Dispatcher | Role::Gateway, Some(ProcState::Idle)) if !r.torn => "ready".into(),
        _ => r.display_state(),
    }
}

pub(crate) fn port(r: &RecordView) -> Option<u16> {
    r.endpoint.map(|e| e.port())
}

/// A record's heartbeat age; none for a slot with no process (stopped, vacant): a dead
/// process's last beat, ever older, says nothing.
pub fn heartbeat_age(s: &Snapshot, r: &RecordView) -> Option<u64> {
    r.pid().and_then(|_| age(s, r.heartbeat_ms))
}

pub(crate) fn age(s: &Snapshot, stamp: u64) -> Option<u64> {
    (stamp != 0).then(|| s.age_ms(stamp))
}

/// The human table.
pub fn table(s: &Snapshot, ctx: &Context) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Kennel instance {}  segment {}{}",
        ctx.runtime_dir,
        ctx.segment_name,
        if s.stopping { "  (stopping)" } else { "" }
    );
    rows(&mut out, s, ctx);
    footer(&mut out, s, ctx);
    out
}

/// One row of the table: eleven columns, then the last exit.
fn row(out: &mut String, cells: [&str; 11], last: &str) {
    let [role, slot, pid, state, port, tasks, served, failed, restarts, beat, pings] = cells;
    let line = format!(
        "{role:<10} {slot:>4} {pid:>8} {state:<9} {port:>6} {tasks:>5} {served:>8} {failed:>6} \
         {restarts:>8} {beat:>9} {pings:>11}  {last}"
    );
    let _ = writeln!(out, "{}", line.trim_end());
}

/// The header, the watchdog's row, and one row per child.
fn rows(out: &mut String, s: &Snapshot, ctx: &Context) {
    let header = [
        "ROLE",
        "SLOT",
        "PID",
        "STATE",
        "PORT",
        "TASKS",
        "SERVED",
        "FAILED",
        "RESTARTS",
        "HEARTBEAT",
        "PING/PONG",
    ];
    row(out, header, "LAST EXIT");
    let watchdog = match ctx.watchdog {
        WatchdogLiveness::Alive if invariants::watchdog_frozen(s) => "frozen",
        WatchdogLiveness::Alive => "running",
        WatchdogLiveness::Gone => "GONE",
    };
    let (pid, beat) = (
        s.watchdog_pid.to_string(),
        fmt_age(age(s, s.watchdog_heartbeat_ms)),
    );
    let dash = "-";
    let cells = [
        "watchdog", dash, &pid, watchdog, dash, dash, dash, dash, dash, &beat, dash,
    ];
    row(out, cells, "");
    for r in s.present() {
        let (role, slot) = match r.id {
            RecordId::Dispatcher => ("dispatcher", "-".to_string()),
            RecordId::Gateway => ("gateway", "-".to_string()),
            RecordId::Worker(k) => ("worker", k.to_string()),
        };
        let mut state = state_word(s, ctx, r);
        if let Some(reason) = r.fatal_reason().filter(|f| f.describe() != "") {
            state = format!("{state}: {}", reason.describe());
        }
        let pid = r.pid().map_or("-".into(), |p| p.to_string());
        let port = port(r).map_or("-".into(), |p| p.to_string());
        let (served, failed, restarts) = (
            r.served.to_string(),
            r.failed.to_string(),
            r.restarts.to_string(),
        );
        let (beat, pings) = (
            fmt_age(heartbeat_age(s, r)),
            format!("{}/{}", r.ping, r.pong),
        );
        let cells = [
            role,
            &slot,
            &pid,
            &state,
            &port,
            &tasks(r),
            &served,
            &failed,
            &restarts,
            &beat,
            &pings,
        ];
        row(
            out,
            cells,
            &r.last_exit_text().unwrap_or_else(|| "-".into()),
        );
    }
}

/// What the rows do not say: languages by worker, limits, the pool, the dispatcher's figures,
/// and whether the instance is stale.
fn footer(out: &mut String, s: &Snapshot, ctx: &Context) {
    let offers: Vec<String> = s
        .workers()
        .iter()
        .filter(|r| r.capacity > 0)
        .filter_map(|r| match r.id {
            RecordId::Worker(k) => Some(format!("{k}: {}", languages(r))),
            _ => None,
        })
        .collect();
    if !offers.is_empty() {
        let _ = writeln!(out, "languages by worker: {}", offers.join(" · "));
    }
    let _ = write!(out, "{}", limits_line(s));
    if s.pool.max > s.pool.min {
        let active = s.active_workers();
        let _ = writeln!(
            out,
            "pool: {active} workers (min {}, max {}); scaled up {} times, down {}",
            s.pool.min, s.pool.max, s.pool.scale_ups, s.pool.scale_downs
        );
    }
    let d = s.dispatcher();
    if d.served > 0 {
        let _ = writeln!(
            out,
            "dispatcher: {} dispatched, {} busy answers (-1), mean dispatch {:.1} µs",
            d.served,
            d.busy,
            d.dispatch_ns as f64 / 1000.0 / d.served as f64
        );
    }
    if ctx.watchdog == WatchdogLiveness::Gone {
        let _ = writeln!(
            out,
            "STALE: no watchdog holds this instance (it was killed); these rows are its last \
             words, not live processes. The next start cleans up."
        );
    }
}

/// `tasks/capacity` of a worker (`-` before it published its capacity).
pub fn tasks(r: &RecordView) -> String {
    if r.id == RecordId::Dispatcher || r.capacity == 0 {
        "-".into()
    } else {
        format!("{}/{}", r.tasks, r.capacity)
    }
}

/// How the workers' runs are held to their limits (one line when every worker says the same).
fn limits_line(s: &Snapshot) -> String {
    use kennel_common::limits_mode::LimitsMode;
    let modes: Vec<(usize, LimitsMode)> = s
        .workers()
        .iter()
        .filter(|r| r.capacity > 0)
        .filter_map(|r| match r.id {
            RecordId::Worker(k) => Some((k, LimitsMode::decode(r.limits))),
            _ => None,
        })
        .collect();
    let Some((_, first)) = modes.first() else {
        return String::new();
    };
    if modes.iter().all(|(_, m)| m == first) {
        format!("limits: {} ({})\n", first.describe(), first.exactness())
    } else {
        let each: Vec<String> = modes
            .iter()
            .map(|(k, m)| format!("{k}: {}", m.describe()))
            .collect();
        format!("limits by worker: {}\n", each.join(" · "))
    }
}

/// The program runner's languages a worker offers, for people.
fn languages(r: &RecordView) -> String {
    let names = r.language_names();
    if names.is_empty() {
        "none (no bubblewrap or toolchain)".into()
    } else {
        names.join(" ")
    }
}

pub fn fmt_age(ms: Option<u64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) if ms < 10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{} s", ms / 1000),
    }
}

/// The check report, for people.
pub fn check_text(violations: &[Violation]) -> String {
    if violations.is_empty() {
        return "ok: every invariant holds\n".into();
    }
    let mut out = String::new();
    for v in violations {
        let who = v.record.map(|r| format!("{r}: ")).unwrap_or_default();
        let _ = writeln!(out, "FAIL {}: {who}{}", v.invariant, v.detail);
    }
    out
}
