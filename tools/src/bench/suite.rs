//! The whole load benchmark: start the floors, nginx (when installed) and a real Kennel
//! instance once, then for every (clients, payload) pair run each system in turn, several
//! rounds interleaved (A B C D A B C D) so that machine drift cancels in the ratios; then the
//! dispatcher's own timing, memory, 10,000 idle control connections, and restart latency.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use kennel_common::layout::DISPATCH_BUCKETS;
use kennel_common::procfs;
use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::RecordId;

use super::load::{self, Route};
use super::report::{human_bytes, write_json, Cell, Outcome};
use super::{idle, minimal, nginx, restart};
use crate::launch::{bin_dir, fresh_runtime_dir, launch};
use kennel_client::inspect::Inspector;

#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub clients: Vec<usize>,
    pub payloads: Vec<usize>,
    pub rounds: usize,
    pub duration: Duration,
    pub workers: usize,
    pub nginx: bool,
    pub restart_samples: usize,
    pub idle_connections: usize,
    pub out: Option<PathBuf>,
}

impl SuiteConfig {
    /// The full grid of the issue: C ∈ {1, 8, 64} × {32 B, 64 KiB, 1 MiB}, 2 s per run,
    /// 3 interleaved rounds.
    pub fn full() -> SuiteConfig {
        SuiteConfig {
            clients: vec![1, 8, 64],
            payloads: vec![32, 64 << 10, 1 << 20],
            rounds: 3,
            duration: Duration::from_secs(2),
            workers: 4,
            nginx: true,
            restart_samples: 20,
            idle_connections: 10_000,
            out: Some(PathBuf::from("target/bench/latest.json")),
        }
    }

    /// The same grid, short runs: about a minute.
    pub fn quick() -> SuiteConfig {
        SuiteConfig {
            rounds: 2,
            duration: Duration::from_millis(500),
            ..SuiteConfig::full()
        }
    }

    /// A smoke run for the test suite: proves the benchmark still works, measures nothing.
    pub fn tiny() -> SuiteConfig {
        SuiteConfig {
            clients: vec![1, 4],
            payloads: vec![32, 64 << 10],
            rounds: 1,
            duration: Duration::from_millis(150),
            workers: 2,
            nginx: true,
            restart_samples: 3,
            idle_connections: 50,
            out: None,
        }
    }
}

impl SuiteConfig {
    /// Narrows the grid to the given client counts and payload sizes (empty: keep) and sets
    /// the worker count, run length and rounds when given; rejects values it cannot run.
    pub fn select(
        &mut self,
        clients: &[usize],
        payloads: &[usize],
        workers: Option<usize>,
        seconds: Option<f64>,
        rounds: Option<usize>,
    ) -> Result<(), String> {
        if let Some(s) = seconds {
            if !(0.05..=600.0).contains(&s) {
                return Err("--seconds must be between 0.05 and 600".into());
            }
            self.duration = Duration::from_secs_f64(s);
        }
        if let Some(r) = rounds {
            if !(1..=100).contains(&r) {
                return Err("--rounds must be between 1 and 100".into());
            }
            self.rounds = r;
        }
        if clients.iter().any(|&c| c == 0 || c > 4096) {
            return Err("--clients must be between 1 and 4096".into());
        }
        if payloads.iter().any(|&p| p > MAX_BENCH_PAYLOAD) {
            return Err(format!(
                "--payloads must be at most {MAX_BENCH_PAYLOAD} bytes"
            ));
        }
        if !clients.is_empty() {
            self.clients = clients.to_vec();
        }
        if !payloads.is_empty() {
            self.payloads = payloads.to_vec();
        }
        if let Some(w) = workers {
            if !(1..=64).contains(&w) {
                return Err("--workers must be between 1 and 64".into());
            }
            self.workers = w;
        }
        Ok(())
    }
}

/// The largest payload a benchmark request may carry: the workers' default payload bound.
const MAX_BENCH_PAYLOAD: usize = 1 << 20;

fn processes(inspector: &Inspector, watchdog: u32) -> Vec<(String, u32)> {
    let snap = inspector.segment.snapshot();
    let mut out = vec![("watchdog".to_string(), watchdog)];
    for r in &snap.records {
        if let Some(pid) = r.pid() {
            out.push((r.id.to_string(), pid));
        }
    }
    out
}

/// Raises this process's open-file limit to its hard limit (the idle-connection test opens
/// 10,000 sockets).
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Every (clients, payload) cell of the grid, each system in turn within each round
/// (interleaved, so a drift of the machine hits every system alike).
fn grid(
    cfg: &SuiteConfig,
    systems: &[(&'static str, Route)],
    progress: &mut impl FnMut(&str),
) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &c in &cfg.clients {
        for &p in &cfg.payloads {
            let mut cell = Cell {
                clients: c,
                payload: p,
                runs: vec![Vec::new(); systems.len()],
            };
            for _ in 0..cfg.rounds {
                for (i, (_, route)) in systems.iter().enumerate() {
                    cell.runs[i].push(load::run(route, c, p, cfg.duration));
                }
            }
            progress(&format!(
                "C={c:<3} {:>8}: kennel {:>8.0}/s  floor-2hop {:>8.0}/s  ratio {:.2}",
                human_bytes(p),
                cell.rps(0),
                cell.rps(2),
                cell.ratio(0, 2)
            ));
            cells.push(cell);
        }
    }
    cells
}

/// Runs everything; `progress` receives a line per step.
pub fn run(cfg: &SuiteConfig, mut progress: impl FnMut(&str)) -> Result<Outcome, String> {
    raise_nofile();
    let servers = minimal::start_servers(cfg.workers).map_err(|e| e.to_string())?;
    let min_dispatcher = minimal::start_dispatcher(servers.clone()).map_err(|e| e.to_string())?;
    let bins = bin_dir().map_err(|e| e.to_string())?;
    let dir = fresh_runtime_dir("bench");
    let args: Vec<String> = vec![
        "--port".into(),
        "0".into(),
        "--worker-port-base".into(),
        "0".into(),
        "--workers".into(),
        cfg.workers.to_string(),
        "--max-connections".into(),
        (cfg.idle_connections + 64).max(1024).to_string(),
        "--max-per-source".into(),
        (cfg.idle_connections + 64).max(1024).to_string(),
    ];
    let mut kennel = launch(&bins, &dir, &args, Stdio::null(), Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let inspector = Inspector::open(RuntimeDir::resolve(Some(&dir))).map_err(|e| e.to_string())?;
    let mut out = Outcome::default();
    for (name, pid) in processes(&inspector, kennel.pid()) {
        out.rss_idle_kib
            .push((name, procfs::rss_kib(pid).unwrap_or(0)));
    }

    let mut systems: Vec<(&'static str, Route)> = vec![
        ("kennel", Route::TwoHop(kennel.addr)),
        ("floor-1hop", Route::Direct(servers.clone())),
        ("floor-2hop", Route::TwoHop(min_dispatcher)),
    ];
    let _nginx = match (cfg.nginx, nginx::find()) {
        (false, _) => {
            out.nginx_note = Some("nginx skipped (--no-nginx)".into());
            None
        }
        (true, None) => {
            out.nginx_note = Some("nginx is not installed: its column is skipped".into());
            None
        }
        (true, Some(bin)) => match nginx::start(&bin, &servers, 2) {
            Ok(n) => {
                systems.push(("nginx", Route::Proxy(n.addr)));
                Some(n)
            }
            Err(e) => {
                out.nginx_note = Some(format!("nginx could not start: {e}"));
                None
            }
        },
    };
    if let Some(note) = &out.nginx_note {
        progress(note);
    }
    out.systems = systems.iter().map(|(n, _)| *n).collect();

    let hist_before = inspector.segment.dispatch_histogram();
    let dispatcher = inspector.segment.read(RecordId::Dispatcher);
    let (served0, ns0) = (dispatcher.served, dispatcher.dispatch_ns);
    out.cells = grid(cfg, &systems, &mut progress);
    let hist_after = inspector.segment.dispatch_histogram();
    out.dispatch_hist = (0..DISPATCH_BUCKETS)
        .map(|k| hist_after[k].saturating_sub(hist_before[k]))
        .collect();
    let dispatcher = inspector.segment.read(RecordId::Dispatcher);
    let served = dispatcher.served.saturating_sub(served0).max(1);
    out.dispatch_mean_us =
        dispatcher.dispatch_ns.saturating_sub(ns0) as f64 / 1000.0 / served as f64;
    for (name, pid) in processes(&inspector, kennel.pid()) {
        out.rss_peak_kib
            .push((name, procfs::status_kib(pid, "VmHWM").unwrap_or(0)));
    }

    progress(&format!(
        "{} idle control connections…",
        cfg.idle_connections
    ));
    idle::measure(cfg.idle_connections, kennel.addr, &inspector, &mut out)?;
    drop(inspector);
    kennel
        .stop(Duration::from_secs(20))
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir(&dir);

    progress(&format!(
        "restart latency, {} samples…",
        cfg.restart_samples
    ));
    out.restart = Some(restart::measure(
        cfg.restart_samples,
        cfg.workers.min(4),
        &[],
    )?);
    if let Some(path) = &cfg.out {
        write_json(path, &out)?;
    }
    Ok(out)
}
