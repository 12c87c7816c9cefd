//! The instance's numbers in Prometheus's text exposition format (version 0.0.4), from one
//! snapshot of the segment: what `kennelctl metrics` prints and `--metrics-addr` serves.
//! Every family has its `# HELP` and `# TYPE`; label values are escaped as the format says.

use std::fmt::Write as _;

use crate::layout::{ExitCode, Supervision, DISPATCH_BUCKETS};
use crate::segment::{RecordId, RecordView, Snapshot};

/// The content type of the format, for HTTP.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}");
        if !labels.is_empty() {
            let body: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", body.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }
}

impl Out {
    /// A family with one unlabelled sample: the name written once.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// One family with one sample per record of `records`, labelled by child.
    fn per_child<T: std::fmt::Display>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        records: &[RecordView],
        value: impl Fn(&RecordView) -> T,
    ) {
        self.family(name, kind, help);
        for r in records {
            self.sample(name, &child(r), value(r));
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn child(r: &RecordView) -> Vec<(&'static str, String)> {
    match r.id {
        RecordId::Dispatcher => vec![("child", "dispatcher".into())],
        RecordId::Worker(k) => vec![("child", format!("worker-{k}"))],
        RecordId::Gateway => vec![("child", "gateway".into())],
    }
}

/// The exposition of `s`, with the dispatch-time histogram `hist` (1 µs buckets).
pub fn render(s: &Snapshot, hist: &[u64]) -> String {
    let mut o = Out(String::new());
    workers(&mut o, s.workers());
    dispatcher(&mut o, s.dispatcher());
    children(&mut o, s);
    pool(&mut o, s);
    dispatch_histogram(&mut o, hist);
    o.0
}

fn workers(o: &mut Out, workers: &[RecordView]) {
    o.per_child(
        "kennel_worker_served_total",
        "counter",
        "Requests a worker answered.",
        workers,
        |r| r.served,
    );
    o.per_child(
        "kennel_worker_failed_total",
        "counter",
        "Requests a worker could not serve (refused, expired, protocol errors).",
        workers,
        |r| r.failed,
    );
    o.per_child(
        "kennel_worker_tasks",
        "gauge",
        "Clients a worker serves now.",
        workers,
        |r| r.tasks,
    );
    o.per_child(
        "kennel_worker_capacity",
        "gauge",
        "Clients a worker serves at once at most (--max-tasks).",
        workers,
        |r| r.capacity,
    );
}

fn dispatcher(o: &mut Out, d: &RecordView) {
    o.single(
        "kennel_dispatcher_dispatched_total",
        "counter",
        "Requests the dispatcher gave a worker.",
        d.served,
    );
    o.single(
        "kennel_dispatcher_busy_answers_total",
        "counter",
        "Requests answered -1 (no worker in time).",
        d.busy,
    );
    o.single(
        "kennel_dispatcher_failed_total",
        "counter",
        "Control requests refused (unknown type, limits).",
        d.failed,
    );
    o.single(
        "kennel_dispatcher_queue_length",
        "gauge",
        "Requests waiting for a worker now.",
        d.waiting,
    );
    o.single(
        "kennel_dispatcher_connections",
        "gauge",
        "Control connections open now.",
        d.connections,
    );
}

/// Every child that exists (the gateway only when HTTP is on), and the watchdog's heartbeat.
fn children(o: &mut Out, s: &Snapshot) {
    let children: Vec<RecordView> = s.present().cloned().collect();
    o.per_child(
        "kennel_child_up",
        "gauge",
        "1 if the child's process is ready and supervised.",
        &children,
        |r| u8::from(r.supervision() == Some(Supervision::Running)),
    );
    o.per_child(
        "kennel_child_restarts_total",
        "counter",
        "Starts of the child after its first.",
        &children,
        |r| r.restarts,
    );
    let name = "kennel_child_last_exit";
    o.family(
        name,
        "gauge",
        "How the child's last process ended: its exit code, or its signal (label how).",
    );
    for r in &children {
        if let Some(e) = r.last_exit() {
            let (how, v) = match e {
                ExitCode::Exited(c) => ("exit", c),
                ExitCode::Signaled(sig) => ("signal", sig),
            };
            let mut l = child(r);
            l.push(("how", how.into()));
            o.sample(name, &l, v);
        }
    }
    let name = "kennel_child_heartbeat_age_seconds";
    o.family(
        name,
        "gauge",
        "Seconds since the child's last sign of life.",
    );
    for r in &children {
        if r.pid().is_some() && r.supervision() == Some(Supervision::Running) {
            o.sample(name, &child(r), s.age_ms(r.heartbeat_ms) as f64 / 1000.0);
        }
    }
    o.single(
        "kennel_watchdog_heartbeat_age_seconds",
        "gauge",
        "Seconds since the watchdog's loop last turned.",
        s.age_ms(s.watchdog_heartbeat_ms) as f64 / 1000.0,
    );
}

fn pool(o: &mut Out, s: &Snapshot) {
    let active = s
        .workers()
        .iter()
        .filter(|r| {
            matches!(
                r.supervision(),
                Some(Supervision::Running | Supervision::Starting)
            )
        })
        .count();
    o.single(
        "kennel_pool_workers",
        "gauge",
        "Workers in the pool now (running or starting).",
        active,
    );
    let name = "kennel_pool_bounds";
    o.family(
        name,
        "gauge",
        "The pool's minimum and maximum (label bound).",
    );
    o.sample(name, &[("bound", "min".into())], s.pool.min);
    o.sample(name, &[("bound", "max".into())], s.pool.max);
    o.single(
        "kennel_pool_scale_ups_total",
        "counter",
        "Workers started because requests waited.",
        s.pool.scale_ups,
    );
    o.single(
        "kennel_pool_scale_downs_total",
        "counter",
        "Idle workers drained beyond the minimum.",
        s.pool.scale_downs,
    );
}

fn dispatch_histogram(o: &mut Out, hist: &[u64]) {
    let name = "kennel_dispatch_seconds";
    o.family(
        name,
        "histogram",
        "The dispatcher's own time per request (waits for a worker excluded).",
    );
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0u64;
    let mut sum_us = 0.0;
    for (us, count) in hist.iter().enumerate().take(DISPATCH_BUCKETS) {
        cumulative += count;
        sum_us += *count as f64 * (us as f64 + 0.5);
        if us + 1 < DISPATCH_BUCKETS {
            let le = format!("{:e}", (us + 1) as f64 * 1e-6);
            o.sample(&bucket, &[("le", le)], cumulative);
        }
    }
    o.sample(&bucket, &[("le", "+Inf".into())], cumulative);
    o.sample(&format!("{name}_sum"), &[], sum_us * 1e-6);
    o.sample(&format!("{name}_count"), &[], cumulative);
}
