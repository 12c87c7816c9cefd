//! `kennelctl events [--follow]`: state changes as they happen — a child started, stopped,
//! restarted (with how its last process ended), FATAL, in backoff, draining, vacant; the pool
//! growing or shrinking — as text or JSON lines. kennelctl reads the segment, not the
//! watchdog's log, so the events are what two successive snapshots (every 100 ms) differ by.

use std::time::Duration;

use kennel_options::shared::Format;

use super::top::model::{chrono_free_clock, differences};
use kennel_client::inspect::Inspector;

/// Prints the events seen from now on; without `follow`, what the segment remembers of the
/// past (each child's restarts and last exit, the pool's scalings), then stops.
pub fn run(inspector: &Inspector, follow: bool, format: Format) -> i32 {
    let mut last = inspector.segment.snapshot();
    if !follow {
        for (who, what) in remembered(&last) {
            print_event(format, &who, &what);
        }
        if format == Format::Text {
            println!("(kennelctl events --follow: the changes as they happen)");
        }
        return 0;
    }
    // Said once the first snapshot is taken: what follows is relative to it.
    print_event(format, "events", "following");
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if inspector.watchdog_liveness() == kennel_client::status::WatchdogLiveness::Gone {
            print_event(
                format,
                "instance",
                "the watchdog is gone: the instance stopped",
            );
            return 0;
        }
        let next = inspector.segment.snapshot();
        for (old, new) in last.records.iter().zip(&next.records) {
            for e in differences(old, new) {
                print_event(format, &new.id.to_string(), &e);
            }
        }
        if next.pool.scale_ups > last.pool.scale_ups {
            print_event(
                format,
                "pool",
                &format!("grew ({} scale-ups in all)", next.pool.scale_ups),
            );
        }
        if next.pool.scale_downs > last.pool.scale_downs {
            print_event(
                format,
                "pool",
                &format!("shrank ({} scale-downs in all)", next.pool.scale_downs),
            );
        }
        last = next;
    }
}

/// The past as the segment keeps it: the segment holds states, not a history, so each child
/// says how often it was restarted and how its last process ended.
fn remembered(s: &kennel_common::segment::Snapshot) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for r in s
        .records
        .iter()
        .filter(|r| r.restarts > 0 || r.last_exit().is_some())
    {
        let mut what = format!("{} now", r.display_state());
        match r.restarts {
            0 => {}
            1 => what.push_str(", restarted once"),
            n => what.push_str(&format!(", restarted {n} times")),
        }
        if let Some(exit) = r.last_exit_text() {
            what.push_str(&format!(", its last process ended: {exit}"));
        }
        v.push((r.id.to_string(), what));
    }
    if s.pool.scale_ups + s.pool.scale_downs > 0 {
        v.push((
            "pool".into(),
            format!(
                "{} scale-ups and {} scale-downs so far",
                s.pool.scale_ups, s.pool.scale_downs
            ),
        ));
    }
    if v.is_empty() {
        v.push((
            "instance".into(),
            "no restart, no exit, no scaling so far".into(),
        ));
    }
    v
}

fn print_event(format: Format, who: &str, what: &str) {
    use std::io::Write;
    let line = match format {
        Format::Json => {
            serde_json::json!({"time": chrono_free_clock(), "who": who, "event": what}).to_string()
        }
        Format::Text => format!("{} {who}: {what}", chrono_free_clock()),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
