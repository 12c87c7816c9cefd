//! The load benchmark's outcome for people (`table`) and for scripts (`json`, written to
//! target/bench/latest.json).

use std::path::Path;

use super::load::percentile_us;
use super::suite::Outcome;
use crate::json::Obj;

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
        "dispatcher RSS with {} idle control connections: {} KiB, {} errors\n",
        out.idle_conn_opened, out.idle_conn_rss_kib, out.idle_conn_errors
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

/// The JSON document (`target/bench/latest.json`).
pub fn json(out: &Outcome) -> String {
    let nginx = sys_index(out, "nginx");
    let runs: Vec<String> = out
        .cells
        .iter()
        .map(|c| {
            let lat = c.latencies(0);
            let mut o = Obj::new();
            o.num("clients", c.clients as u64);
            o.num("payload_bytes", c.payload as u64);
            o.raw("kennel_rps", &format!("{:.1}", c.rps(0)));
            o.raw("floor1_rps", &format!("{:.1}", c.rps(1)));
            o.raw("floor2_rps", &format!("{:.1}", c.rps(2)));
            o.raw(
                "nginx_rps",
                &nginx.map_or("null".into(), |n| format!("{:.1}", c.rps(n))),
            );
            o.raw("ratio_floor2", &format!("{:.3}", c.ratio(0, 2)));
            o.raw("ratio_floor1", &format!("{:.3}", c.ratio(0, 1)));
            o.raw(
                "ratio_nginx",
                &nginx.map_or("null".into(), |n| format!("{:.3}", c.ratio(0, n))),
            );
            o.raw("p50_us", &format!("{:.1}", percentile_us(&lat, 50.0)));
            o.raw("p99_us", &format!("{:.1}", percentile_us(&lat, 99.0)));
            o.raw("p999_us", &format!("{:.1}", percentile_us(&lat, 99.9)));
            o.num("errors", c.errors(0));
            o.num(
                "errors_all_systems",
                (0..out.systems.len()).map(|s| c.errors(s)).sum(),
            );
            o.num("rounds", c.runs[0].len() as u64);
            o.finish()
        })
        .collect();
    let mut o = Obj::new();
    o.raw("runs", &format!("[{}]", runs.join(",")));
    o.raw(
        "dispatch_p50_us",
        &format!("{:.0}", hist_percentile_us(&out.dispatch_hist, 50.0)),
    );
    o.raw(
        "dispatch_p99_us",
        &format!("{:.0}", hist_percentile_us(&out.dispatch_hist, 99.0)),
    );
    o.raw(
        "dispatch_claim_mean_us",
        &format!("{:.2}", out.dispatch_mean_us),
    );
    if let Some(r) = &out.restart {
        r.json_fields(&mut o);
    }
    o.num("rss_worker_kib", rss_of(&out.rss_idle_kib, "worker"));
    o.num(
        "rss_dispatcher_kib",
        rss_of(&out.rss_idle_kib, "dispatcher"),
    );
    o.num("rss_watchdog_kib", rss_of(&out.rss_idle_kib, "watchdog"));
    o.num("rss_worker_peak_kib", rss_of(&out.rss_peak_kib, "worker"));
    o.num(
        "rss_dispatcher_peak_kib",
        rss_of(&out.rss_peak_kib, "dispatcher"),
    );
    o.num("rss_dispatcher_1000_idle_kib", out.idle_conn_rss_kib);
    o.num("idle_connections", out.idle_conn_opened as u64);
    o.num("idle_connection_errors", out.idle_conn_errors);
    o.opt_str("nginx_note", out.nginx_note.clone());
    o.finish()
}

pub fn write_json(path: &Path, out: &Outcome) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, json(out) + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}
