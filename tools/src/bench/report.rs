//! The load benchmark's outcome for people (`table`) and for scripts (`json`, written to
//! target/bench/latest.json).

use std::path::Path;

use super::load::percentile_us;
use super::load::RunResult;
use super::restart;

pub fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// The dispatch-time percentile from the 1-µs histogram (upper edge of the bucket).
pub fn hist_percentile_us(hist: &[u64], p: f64) -> f64 {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((p / 100.0) * total as f64).ceil() as u64;
    let mut seen = 0;
    for (k, n) in hist.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return (k + 1) as f64;
        }
    }
    hist.len() as f64
}

fn sys_index(out: &Outcome, name: &str) -> Option<usize> {
    out.systems.iter().position(|s| *s == name)
}

/// The table for people.
pub fn table(out: &Outcome) -> String {
    let nginx = sys_index(out, "nginx");
    let mut t = String::new();
    t += &format!(
        "{:>3} {:>8} | {:>9} {:>9} {:>9} {:>9} | {:>6} {:>6} | {:>8} {:>8} {:>8} | {:>6}\n",
        "C",
        "payload",
        "kennel/s",
        "1hop/s",
        "2hop/s",
        "nginx/s",
        "/2hop",
        "/nginx",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "errors"
    );
    for c in &out.cells {
        let lat = c.latencies(0);
        let errors: u64 = (0..out.systems.len()).map(|s| c.errors(s)).sum();
        t += &format!(
            "{:>3} {:>8} | {:>9.0} {:>9.0} {:>9.0} {:>9} | {:>6.2} {:>6} | {:>8.0} {:>8.0} {:>8.0} | {:>6}\n",
            c.clients,
            human_bytes(c.payload),
            c.rps(0),
            c.rps(1),
            c.rps(2),
            nginx.map_or("-".into(), |n| format!("{:.0}", c.rps(n))),
            c.ratio(0, 2),
            nginx.map_or("-".into(), |n| format!("{:.2}", c.ratio(0, n))),
            percentile_us(&lat, 50.0),
            percentile_us(&lat, 99.0),
            percentile_us(&lat, 99.9),
            errors
        );
    }
    if let Some(note) = &out.nginx_note {
        t += &format!("({note})\n");
    }
    t += &format!(
        "dispatch overhead (dispatcher's own clock, waits for an idle worker excluded): p50 ≤ {:.0} µs, p99 ≤ {:.0} µs, mean {:.1} µs (claim under the guard only)\n",
        hist_percentile_us(&out.dispatch_hist, 50.0),
        hist_percentile_us(&out.dispatch_hist, 99.0),
        out.dispatch_mean_us
    );
    let list = |v: &[(String, u64)]| {
        v.iter()
            .map(|(n, k)| format!("{n} {k} KiB"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    t += &format!("RSS idle: {}\n", list(&out.rss_idle_kib));
    t += &format!("RSS peak under load: {}\n", list(&out.rss_peak_kib));
    t += &format!(
        "dispatcher RSS with {} idle control connections: {} KiB, {} errors; a real client meanwhile: p50 {:.0} µs, p99 {:.0} µs, {} errors\n",
        out.idle_conn_opened,
        out.idle_conn_rss_kib,
        out.idle_conn_errors,
        out.idle_real_p50_us,
        out.idle_real_p99_us,
        out.idle_real_errors
    );
    if let Some(r) = &out.restart {
        t += &r.text();
    }
    t
}

fn rss_of(v: &[(String, u64)], prefix: &str) -> u64 {
    v.iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, k)| *k)
        .max()
        .unwrap_or(0)
}

/// The JSON document (`target/bench/latest.json`), rounded as the table is.
pub fn json(out: &Outcome) -> String {
    let nginx = sys_index(out, "nginx");
    let round = |x: f64, places: i32| {
        let f = 10f64.powi(places);
        (x * f).round() / f
    };
    let runs: Vec<serde_json::Value> = out
        .cells
        .iter()
        .map(|c| {
            let lat = c.latencies(0);
            serde_json::json!({
                "clients": c.clients,
                "payload_bytes": c.payload,
                "kennel_rps": round(c.rps(0), 1),
                "floor1_rps": round(c.rps(1), 1),
                "floor2_rps": round(c.rps(2), 1),
                "nginx_rps": nginx.map(|n| round(c.rps(n), 1)),
                "ratio_floor2": round(c.ratio(0, 2), 3),
                "ratio_floor1": round(c.ratio(0, 1), 3),
                "ratio_nginx": nginx.map(|n| round(c.ratio(0, n), 3)),
                "p50_us": round(percentile_us(&lat, 50.0), 1),
                "p99_us": round(percentile_us(&lat, 99.0), 1),
                "p999_us": round(percentile_us(&lat, 99.9), 1),
                "errors": c.errors(0),
                "errors_all_systems": (0..out.systems.len()).map(|s| c.errors(s)).sum::<u64>(),
                "rounds": c.runs[0].len(),
            })
        })
        .collect();
    let mut doc = serde_json::json!({
        "schema": "kennel-bench-load/1",
        "runs": runs,
        "dispatch_p50_us": round(hist_percentile_us(&out.dispatch_hist, 50.0), 0),
        "dispatch_p99_us": round(hist_percentile_us(&out.dispatch_hist, 99.0), 0),
        "dispatch_claim_mean_us": round(out.dispatch_mean_us, 2),
        "rss_worker_kib": rss_of(&out.rss_idle_kib, "worker"),
        "rss_dispatcher_kib": rss_of(&out.rss_idle_kib, "dispatcher"),
        "rss_watchdog_kib": rss_of(&out.rss_idle_kib, "watchdog"),
        "rss_worker_peak_kib": rss_of(&out.rss_peak_kib, "worker"),
        "rss_dispatcher_peak_kib": rss_of(&out.rss_peak_kib, "dispatcher"),
        "dispatcher_rss_10k_kib": out.idle_conn_rss_kib,
        "p99_us_under_10k": round(out.idle_real_p99_us, 1),
        "p50_us_under_10k": round(out.idle_real_p50_us, 1),
        "idle_connections": out.idle_conn_opened,
        "idle_connection_errors": out.idle_conn_errors + out.idle_real_errors,
        "nginx_note": out.nginx_note,
    });
    if let (Some(r), Some(m)) = (&out.restart, doc.as_object_mut()) {
        m.extend(r.json_fields());
    }
    doc.to_string()
}

pub fn write_json(path: &Path, out: &Outcome) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, json(out) + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}

/// One (clients, payload) cell: every system's rounds.
#[derive(Debug, Clone)]
pub struct Cell {
    pub clients: usize,
    pub payload: usize,
    /// Per system (same order as `Suite::systems`), per round.
    pub runs: Vec<Vec<RunResult>>,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub systems: Vec<&'static str>,
    pub cells: Vec<Cell>,
    pub nginx_note: Option<String>,
    pub dispatch_hist: Vec<u64>,
    pub dispatch_mean_us: f64,
    pub rss_idle_kib: Vec<(String, u64)>,
    pub rss_peak_kib: Vec<(String, u64)>,
    pub idle_conn_rss_kib: u64,
    pub idle_conn_errors: u64,
    pub idle_conn_opened: usize,
    /// A real client's echo exchanges while the idle connections are open (and a few busy
    /// clients run): p50 and p99 in µs, and its failures.
    pub idle_real_p50_us: f64,
    pub idle_real_p99_us: f64,
    pub idle_real_errors: u64,
    pub restart: Option<restart::RestartReport>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

impl Cell {
    pub fn rps(&self, sys: usize) -> f64 {
        median(self.runs[sys].iter().map(RunResult::rps).collect())
    }

    /// Median over rounds of system `a`'s throughput divided by `b`'s in the same round.
    pub fn ratio(&self, a: usize, b: usize) -> f64 {
        median(
            self.runs[a]
                .iter()
                .zip(&self.runs[b])
                .map(|(x, y)| x.rps() / y.rps().max(1e-9))
                .collect(),
        )
    }

    pub fn latencies(&self, sys: usize) -> Vec<u64> {
        let mut v: Vec<u64> = self.runs[sys]
            .iter()
            .flat_map(|r| r.latencies_ns.iter().copied())
            .collect();
        v.sort_unstable();
        v
    }

    pub fn errors(&self, sys: usize) -> u64 {
        self.runs[sys].iter().map(|r| r.errors).sum()
    }
}
