//! `kennelctl check`: verifies every invariant of the segment; exit status 1 names the broken
//! ones (as text, or as a JSON document). `--ready` and `--live` are the probes an
//! orchestrator runs (Kubernetes exec probes, HAProxy agent checks): one question each.

use super::cli::Format;
use kennel_client::inspect::Inspector;
use kennel_client::status;

pub fn run(inspector: &Inspector, format: Format) -> i32 {
    let snap = inspector.segment.snapshot();
    let violations = inspector.check(&snap);
    match format {
        Format::Json => println!("{}", kennel_client::status_json::check(&violations)),
        Format::Text => print!("{}", status::check_text(&violations)),
    }
    if violations.is_empty() {
        0
    } else {
        1
    }
}

/// `check --ready`: the dispatcher is up and at least one worker can take a client now.
pub fn ready(inspector: &Inspector, format: Format) -> i32 {
    use kennel_common::layout::{ProcState, Supervision};
    use kennel_common::segment::STALE_HEARTBEAT_MS;
    let s = inspector.segment.snapshot();
    let alive = inspector.watchdog_liveness() == kennel_client::status::WatchdogLiveness::Alive;
    let d = s.dispatcher();
    let dispatcher_up = d.supervision() == Some(Supervision::Running)
        && d.endpoint.is_some()
        && s.age_ms(d.heartbeat_ms) <= STALE_HEARTBEAT_MS;
    let with_room = s
        .workers()
        .iter()
        .filter(|r| {
            r.supervision() == Some(Supervision::Running)
                && r.state() == Some(ProcState::Idle)
                && r.tasks < r.capacity.max(1)
                && s.age_ms(r.heartbeat_ms) <= STALE_HEARTBEAT_MS
        })
        .count();
    let why = if !alive {
        Some("no watchdog holds the instance".to_string())
    } else if s.stopping {
        Some("the instance is stopping".into())
    } else if !dispatcher_up {
        Some("the dispatcher is not ready".into())
    } else if with_room == 0 {
        Some("no worker can take a client now (all busy, starting or down)".into())
    } else {
        None
    };
    let ok_text = format!("ready: dispatcher up, {with_room} worker(s) with room");
    probe("ready", why, ok_text, format)
}

/// `check --live`: the watchdog holds the instance and its loop is turning.
pub fn live(inspector: &Inspector, format: Format) -> i32 {
    let s = inspector.segment.snapshot();
    let why = if inspector.watchdog_liveness() != kennel_client::status::WatchdogLiveness::Alive {
        Some("no watchdog holds the instance".to_string())
    } else if kennel_common::invariants::watchdog_frozen(&s) {
        Some(format!(
            "the watchdog's loop has not turned for {} ms",
            s.age_ms(s.watchdog_heartbeat_ms)
        ))
    } else {
        None
    };
    probe(
        "live",
        why,
        "live: the watchdog's loop is turning".into(),
        format,
    )
}

fn probe(name: &str, why: Option<String>, ok: String, format: Format) -> i32 {
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "probe": name,
                "ok": why.is_none(),
                "message": why.as_deref().unwrap_or(&ok),
            });
            println!("{doc}");
        }
        Format::Text => match &why {
            None => println!("{ok}"),
            Some(w) => println!("not {name}: {w}"),
        },
    }
    i32::from(why.is_some())
}
