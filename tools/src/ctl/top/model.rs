//! What `kennelctl top` shows, refreshed from the segment: the snapshot, CPU % per process
//! (from `/proc` between two refreshes), and the events seen between them (deaths, restarts,
//! starts and stops, scaling), since kennelctl reads the segment, not the watchdog's log.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use kennel_common::layout::Supervision;
use kennel_common::procfs;
use kennel_common::segment::{RecordId, RecordView, Snapshot};

use kennel_client::inspect::Inspector;
use kennel_client::status::Context;

/// The status line's hint.
pub const HINT: &str = "↑↓ select · r restart · s stop/start · +/- scale · ? help · q quit";

/// Events kept for the bottom panel.
const EVENTS: usize = 50;

pub struct Model {
    pub snap: Snapshot,
    pub ctx: Context,
    /// The dispatcher's own time per request: requests per 1 µs bucket.
    pub hist: Vec<u64>,
    /// CPU % per record index (`None` until two readings of one pid exist).
    pub cpu: Vec<Option<f64>>,
    /// Last CPU reading per pid: ticks and when.
    ticks: HashMap<u32, (u64, Instant)>,
    pub events: VecDeque<String>,
    /// The selected row: a record index (0 = the dispatcher).
    pub selected: usize,
    /// The answer to the last action, shown on the status line.
    pub message: String,
    /// An action waiting for `y`.
    pub pending: Option<kennel_common::control::Verb>,
    /// The help overlay is shown.
    pub help: bool,
    tick_hz: f64,
}

impl Model {
    pub fn new(inspector: &Inspector) -> Model {
        let snap = inspector.segment.snapshot();
        let n = snap.records.len();
        let tick_hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .map_or(100.0, |v| v as f64);
        let mut m = Model {
            ctx: inspector.context(),
            hist: inspector.segment.dispatch_histogram().to_vec(),
            cpu: vec![None; n],
            ticks: HashMap::new(),
            events: VecDeque::new(),
            selected: 1.min(n - 1),
            message: HINT.into(),
            pending: None,
            help: false,
            tick_hz,
            snap,
        };
        m.measure_cpu();
        m
    }

    /// A new snapshot; the events between it and the last one.
    pub fn refresh(&mut self, inspector: &Inspector) {
        let next = inspector.segment.snapshot();
        let when = chrono_free_clock();
        let changes: Vec<String> = self
            .snap
            .records
            .iter()
            .zip(&next.records)
            .flat_map(|(old, new)| {
                let when = &when;
                differences(old, new)
                    .into_iter()
                    .map(move |e| format!("{when} {}: {e}", new.id))
            })
            .collect();
        for e in changes {
            self.push_event(e);
        }
        let (o, n) = (self.snap.pool, next.pool);
        if n.scale_ups > o.scale_ups {
            self.push_event(format!(
                "{when} pool grew ({} scale-ups in all)",
                n.scale_ups
            ));
        }
        if n.scale_downs > o.scale_downs {
            self.push_event(format!(
                "{when} pool shrank ({} scale-downs in all)",
                n.scale_downs
            ));
        }
        self.snap = next;
        self.ctx = inspector.context();
        self.hist = inspector.segment.dispatch_histogram().to_vec();
        self.measure_cpu();
    }

    fn push_event(&mut self, e: String) {
        if self.events.len() == EVENTS {
            self.events.pop_back();
        }
        self.events.push_front(e);
    }

    /// CPU % of each process with everything it started: a worker's counts its sandboxes
    /// (the programs it runs), live and finished.
    fn measure_cpu(&mut self) {
        let now = Instant::now();
        let mut seen = HashMap::new();
        let pids: Vec<u32> = self.snap.records.iter().filter_map(|r| r.pid()).collect();
        let tree = procfs::tree_cpu_ticks(&pids);
        for (k, r) in self.snap.records.iter().enumerate() {
            self.cpu[k] = None;
            let Some(pid) = r.pid().filter(|p| procfs::alive(*p)) else {
                continue;
            };
            let Some(&t) = tree.get(&pid) else {
                continue;
            };
            if let Some((before, at)) = self.ticks.get(&pid) {
                let secs = now.duration_since(*at).as_secs_f64();
                if secs > 0.0 {
                    self.cpu[k] =
                        Some(t.saturating_sub(*before) as f64 / self.tick_hz / secs * 100.0);
                }
            }
            seen.insert(pid, (t, now));
        }
        self.ticks = seen;
    }

    /// The record id of the selected row.
    pub fn selected_id(&self) -> RecordId {
        self.snap.records[self.selected].id
    }

    pub fn select(&mut self, delta: isize) {
        let n = self.snap.records.len() as isize;
        self.selected = (self.selected as isize + delta).clamp(0, n - 1) as usize;
    }

    /// Workers in the pool now (not vacant, not stopped, not draining).
    pub fn active_workers(&self) -> usize {
        self.snap.active_workers()
    }
}

/// What changed in one record between two snapshots, in words.
pub(crate) fn differences(old: &RecordView, new: &RecordView) -> Vec<String> {
    let mut out = Vec::new();
    if new.restarts > old.restarts {
        let exit = new.last_exit_text().unwrap_or_else(|| "?".into());
        out.push(format!(
            "restarted (pid {} → {}; last exit {exit})",
            old.pid, new.pid
        ));
    }
    let (a, b) = (old.supervision(), new.supervision());
    if a != b {
        if let Some(b) = b.filter(|b| !matches!(b, Supervision::Starting | Supervision::Running)) {
            out.push(format!("now {}", b.name()));
        } else if b == Some(Supervision::Running)
            && matches!(a, Some(Supervision::Vacant | Supervision::Stopped))
        {
            out.push("started".into());
        }
    }
    out
}

/// Wall-clock `HH:MM:SS` (UTC) without a date crate: the events' time stamps.
pub(crate) fn chrono_free_clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}
