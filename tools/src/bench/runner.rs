//! The program runner's benchmark: for a hello world and a CPU-bound program in each language,
//! at 1 and 8 clients, Kennel end to end (client → dispatcher → worker → sandbox → result)
//! against, in the same run and interleaved:
//! - (a) the bare run: the compiled binary, `python3` or `java` started directly;
//! - (b) the same steps by hand: `prlimit … bwrap …` to compile, then again to run, with the
//!   sandbox flags a person would type (namespaces, read-only `/usr`, tmpfs, rlimits);
//! - (b') as root, the same again in a memory and a pids cgroup and as uid 65534, as Kennel's
//!   sandboxes are as root (the same sandbox: the ratio Kennel is judged by);
//! - the runner in-process (`Runner::run`, no network): (b) plus what Kennel adds to the
//!   sandbox (`kennel-run` as PID 1, memfds, a cgroup per step as root).
//!
//! Every Kennel and (b) run compiles (each source carries a unique comment), so no cache
//! flatters Kennel; the cache is measured apart: the same C hello world, first run against
//! the next ones.

use std::time::{Duration, Instant};

use kennel_runner::language::Toolchains;
use kennel_runner::{Language, Runner, RunnerOptions, Submission, Verdict};
use serde::Serialize;

use super::baselines::{bare_prepare, by_hand, layers, Bare};
use super::floor::{Floor, FloorConfig};
use super::programs::{kennel_run, timed, unique, Program, PROGRAMS};
use crate::launch::{bin_dir, fresh_runtime_dir, launch_for_bench};

/// How long the benchmark runs.
#[derive(Debug, Clone, Copy)]
pub struct RunnerBenchConfig {
    /// Runs per (program, system, clients) cell and round (at least one per client).
    pub runs: usize,
    pub rounds: usize,
    /// Only the hello worlds at one client (the smoke run of the test suite).
    pub smoke: bool,
    /// The floor table's sample counts.
    pub floor: super::floor::FloorConfig,
}

impl RunnerBenchConfig {
    pub fn full() -> Self {
        RunnerBenchConfig {
            runs: 6,
            rounds: 2,
            smoke: false,
            floor: FloorConfig {
                fast: 200,
                slow: 6,
                throughput_runs: 100,
                restarts: 20,
            },
        }
    }
    pub fn quick() -> Self {
        RunnerBenchConfig {
            runs: 3,
            rounds: 1,
            smoke: false,
            floor: FloorConfig {
                fast: 40,
                slow: 3,
                throughput_runs: 25,
                restarts: 10,
            },
        }
    }
    pub fn tiny() -> Self {
        RunnerBenchConfig {
            runs: 1,
            rounds: 1,
            smoke: true,
            floor: FloorConfig {
                fast: 3,
                slow: 1,
                throughput_runs: 3,
                restarts: 3,
            },
        }
    }
}

/// One (program, clients) row: mean milliseconds per run for each system.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub program: String,
    pub clients: usize,
    pub bare_ms: f64,
    pub by_hand_ms: f64,
    /// (b') as root: by hand in the same cgroups and as the same uid as Kennel.
    pub by_hand_same_sandbox_ms: Option<f64>,
    pub in_process_ms: f64,
    pub kennel_ms: f64,
    pub kennel_over_by_hand: f64,
    pub kennel_over_bare: f64,
    pub errors: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub rows: Vec<Row>,
    pub c_hello_first_ms: f64,
    pub c_hello_cached_ms: f64,
    pub cache_speedup: f64,
    pub sandbox_layers_ms: Vec<(String, f64)>,
    /// A C program against 20 tests: one submission against 20 (compile once, run many).
    pub grading: Option<super::grading::Grading>,
    /// The runner against its floors, each a ratio measured in the same run.
    pub floor: Option<Floor>,
    pub runner: String,
    pub errors: u64,
}

/// Runs the benchmark; `say` gets progress lines.
pub fn run(cfg: RunnerBenchConfig, say: impl Fn(&str)) -> Result<Report, String> {
    let tools = Toolchains::discover();
    let opts = RunnerOptions {
        time_limit: Duration::from_secs(10),
        wall_limit: Duration::from_secs(30),
        ..Default::default()
    };
    let scratch = fresh_runtime_dir("bench-runner-scratch");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let runner = Runner::new(
        opts.clone(),
        bin_dir().map_err(|e| e.to_string())?.join("kennel-run"),
        &scratch.join("cache"),
    );
    say(&runner.describe());
    let kennel = launch_for_bench("bench-runner", &super::floor::KENNEL_ARGS)?;
    let mut rows = Vec::new();
    let mut errors = 0;
    let clients_grid: &[usize] = if cfg.smoke { &[1] } else { &[1, 8] };
    let programs = PROGRAMS
        .iter()
        .filter(|p| runner.offers(p.lang) && (!cfg.smoke || p.name.ends_with("hello")));
    let setup = Setup {
        tools: &tools,
        opts: &opts,
        scratch: &scratch,
        runner: &runner,
        kennel: kennel.addr,
    };
    for p in programs {
        let bare = bare_prepare(&tools, p, &scratch.join(p.name.replace(' ', "-")))?;
        for &clients in clients_grid {
            let row = setup.row(p, &bare, clients, &cfg, &say);
            errors += row.errors;
            rows.push(row);
        }
    }
    let (first, cached) = cache_figures(kennel.addr, cfg.runs.max(3))?;
    let layers = layers(&tools, &scratch, cfg.runs.max(5) * 2)?;
    let grading = if runner.offers(Language::C) {
        let (tests, rounds) = if cfg.smoke { (4, 1) } else { (20, cfg.rounds) };
        Some(super::grading::measure(kennel.addr, tests, rounds)?)
    } else {
        None
    };
    drop(kennel);
    let floor = if runner.offers(Language::C) {
        let f = super::floor::measure(cfg.floor, &scratch, &say)?;
        errors += f.errors;
        Some(f)
    } else {
        None
    };
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Report {
        schema: "kennel-bench-runner/2",
        floor,
        rows,
        c_hello_first_ms: first,
        c_hello_cached_ms: cached,
        cache_speedup: first / cached,
        sandbox_layers_ms: layers,
        grading,
        runner: runner.describe(),
        errors,
    })
}

/// What every row of the table is measured with.
struct Setup<'a> {
    tools: &'a Toolchains,
    opts: &'a RunnerOptions,
    scratch: &'a std::path::Path,
    runner: &'a Runner,
    kennel: std::net::SocketAddr,
}

impl Setup<'_> {
    /// One (program, clients) row: the bare run, the sandbox by hand (and, as root, by hand as
    /// the same user Kennel runs it as), the runner in process and Kennel end to end, each
    /// round in turn; the means over rounds.
    fn row(
        &self,
        p: &Program,
        bare: &Bare,
        clients: usize,
        cfg: &RunnerBenchConfig,
        say: &impl Fn(&str),
    ) -> Row {
        let (tools, opts, scratch) = (self.tools, self.opts, self.scratch);
        let mut sums = [0.0f64; 5];
        let mut row_errors = 0;
        let root = nix::unistd::geteuid().is_root();
        for _ in 0..cfg.rounds {
            let n = cfg.runs.max(clients);
            sums[0] += timed(clients, n, || bare.run().then_some(()).ok_or(()));
            sums[1] += timed(clients, n, || by_hand(tools, p, opts, scratch, false));
            if root {
                sums[4] += timed(clients, n, || by_hand(tools, p, opts, scratch, true));
            }
            sums[2] += timed(clients, n, || {
                let sub = Submission {
                    source: unique(p).into_bytes(),
                    ..Default::default()
                };
                match self.runner.run(p.lang, &sub, 0) {
                    Ok(r) if r.verdict == Verdict::Accepted => Ok(()),
                    _ => Err(()),
                }
            });
            sums[3] += timed(clients, n, || {
                kennel_run(self.kennel, p.lang, unique(p)).map(|_| ())
            });
            for (k, s) in sums.iter().enumerate() {
                if s.is_nan() {
                    row_errors += 1;
                    say(&format!("{}: system {k} failed", p.name));
                }
            }
        }
        let r = cfg.rounds as f64;
        let [bare_ms, by_hand_ms, in_process_ms, kennel_ms, same_ms] = sums.map(|s| s / r);
        let same = root.then_some(same_ms);
        let row = Row {
            program: p.name.to_string(),
            clients,
            bare_ms,
            by_hand_ms,
            by_hand_same_sandbox_ms: same,
            in_process_ms,
            kennel_ms,
            kennel_over_by_hand: kennel_ms / same.unwrap_or(by_hand_ms),
            kennel_over_bare: kennel_ms / bare_ms,
            errors: row_errors,
        };
        say(&format!(
            "{:<11} C={:<2} bare {:>8.1} ms  by hand {:>8.1} ms  in-process {:>8.1} ms  kennel {:>8.1} ms  kennel/by-hand {:.2}",
            row.program, clients, bare_ms, by_hand_ms, in_process_ms, kennel_ms, row.kennel_over_by_hand
        ));
        row
    }
}

/// The C hello world through Kennel: its first run (a compile) and the mean of the next ones
/// (the compile cache).
fn cache_figures(addr: std::net::SocketAddr, n: usize) -> Result<(f64, f64), String> {
    let src = format!("// cache {}\n{}", std::process::id(), PROGRAMS[2].source);
    let t = Instant::now();
    let first =
        kennel_run(addr, Language::C, src.clone()).map_err(|_| "the C hello world failed")?;
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    if first.cached_compile {
        return Err("the first run claims a cached compile".into());
    }
    let t = Instant::now();
    for _ in 0..n {
        let r =
            kennel_run(addr, Language::C, src.clone()).map_err(|_| "the C hello world failed")?;
        if !r.cached_compile {
            return Err("a repeated run was not served from the cache".into());
        }
    }
    Ok((first_ms, t.elapsed().as_secs_f64() * 1000.0 / n as f64))
}

/// The report for people.
pub fn table(r: &Report) -> String {
    let mut t = String::new();
    t.push_str(
        "program runner: mean ms per run (compile included for C, C++, Java); kennel/by-hand is\n",
    );
    t.push_str(
        "against the same sandbox by hand (same sbx: cgroups and uid as Kennel's) where measured\n",
    );
    t.push_str(&format!(
        "{:<11} {:>2} {:>9} {:>9} {:>9} {:>11} {:>9} {:>15} {:>12}\n",
        "program",
        "C",
        "bare",
        "by hand",
        "same sbx",
        "in-process",
        "kennel",
        "kennel/by-hand",
        "kennel/bare"
    ));
    for row in &r.rows {
        t.push_str(&format!(
            "{:<11} {:>2} {:>9.1} {:>9.1} {:>9} {:>11.1} {:>9.1} {:>15.2} {:>12.2}\n",
            row.program,
            row.clients,
            row.bare_ms,
            row.by_hand_ms,
            row.by_hand_same_sandbox_ms
                .map_or("-".into(), |v| format!("{v:.1}")),
            row.in_process_ms,
            row.kennel_ms,
            row.kennel_over_by_hand,
            row.kennel_over_bare
        ));
    }
    t.push_str(&format!(
        "C hello through Kennel: first run {:.1} ms, cached compile {:.1} ms: {:.1}x faster\n",
        r.c_hello_first_ms, r.c_hello_cached_ms, r.cache_speedup
    ));
    t.push_str("the sandbox's cost, layer by layer (C hello, compiled):\n");
    for (name, ms) in &r.sandbox_layers_ms {
        t.push_str(&format!("  {name:<46} {ms:>7.2} ms\n"));
    }
    if let Some(g) = &r.grading {
        t.push_str(&super::grading::lines(g));
    }
    if let Some(f) = &r.floor {
        t.push_str(&super::floor::lines(f));
    }
    t.push_str(&format!("{}\nerrors: {}\n", r.runner, r.errors));
    t
}
