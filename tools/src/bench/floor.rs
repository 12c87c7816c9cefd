//! The runner against its floors (`kennel-bench runner`, the "floor" table): each figure a
//! ratio against a floor measured in the same run, interleaved sample by sample.
//!
//! | row | Kennel | floor |
//! |---|---|---|
//! | cached C hello | end to end (client → dispatcher → worker → sandbox), compile cached | the binary by `fork`+`exec` |
//! | runs/s, 4 clients | cached C hello, sandboxes made in advance | the same instance kind with `--sandbox-pool 0` (each run makes its sandbox: the path before the pool) |
//! | Python hello | end to end | `python3 hello.py` (the `/usr/bin/python3` Kennel runs) |
//! | C++ hello | compile + run, a new source each time | `g++ -O2 -o prog hello.cpp && ./prog` |
//! | Java hello | compile + run, a new source each time | `javac Main.java && java Main` |
//! | worker restart | `kill -9` → the replacement accepting | spawning `kennel-worker --version` |

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kennel_runner::Language;
use serde::Serialize;

use super::programs::{kennel_run, unique, Program, PROGRAMS};
use super::restart::percentile;
use crate::launch::launch_for_bench;

/// One row: Kennel's p50/p99 against the floor's p50.
#[derive(Debug, Clone, Serialize)]
pub struct FloorRow {
    pub what: String,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub floor_p50_ms: f64,
    pub ratio: f64,
    pub target: f64,
    pub samples: usize,
    pub errors: u64,
}

/// The floor table.
#[derive(Debug, Clone, Serialize)]
pub struct Floor {
    pub rows: Vec<FloorRow>,
    pub runs_per_s: f64,
    pub runs_per_s_unpooled: f64,
    pub throughput_ratio: f64,
    pub errors: u64,
}

/// How many samples each row takes.
#[derive(Debug, Clone, Copy)]
pub struct FloorConfig {
    pub fast: usize,
    pub slow: usize,
    pub throughput_runs: usize,
    pub restarts: usize,
}

/// The instance every runner benchmark measures: two workers of four tasks, generous limits.
pub(super) const KENNEL_ARGS: [&str; 8] = [
    "--workers",
    "2",
    "--max-tasks",
    "4",
    "--time-limit",
    "10s",
    "--wall-limit",
    "30s",
];

/// Measures the table; `say` gets progress lines.
pub fn measure(cfg: FloorConfig, scratch: &Path, say: &impl Fn(&str)) -> Result<Floor, String> {
    let pooled = launch_for_bench("bench-floor", &KENNEL_ARGS)?;
    let mut args = KENNEL_ARGS.to_vec();
    args.extend(["--sandbox-pool", "0"]);
    let unpooled = launch_for_bench("bench-floor-unpooled", &args)?;
    let dir = scratch.join("floor");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let c = program("c hello");
    let cached = format!("// floor {}\n{}", std::process::id(), c.source);
    let c_bin = bare_compile(&dir, c, &cached)?;
    kennel_run(pooled.addr, Language::C, cached.clone()).map_err(|_| "the C hello world failed")?;
    rows.push(row(
        "cached C hello, end to end / fork+exec",
        2.5,
        cfg.fast,
        || run_ok(Command::new(&c_bin).current_dir(&dir)),
        || kennel_run(pooled.addr, Language::C, cached.clone()).is_ok(),
    ));
    // The interpreter Kennel runs (a `python3` earlier in PATH may be another, or a shim).
    let python = kennel_runner::language::Toolchains::discover()
        .python
        .unwrap_or_else(|| "/usr/bin/python3".into());
    let py = program("python hello");
    std::fs::write(dir.join("hello.py"), py.source).map_err(|e| e.to_string())?;
    rows.push(row(
        "Python hello, end to end / python3",
        1.3,
        cfg.fast,
        || run_ok(Command::new(&python).arg("hello.py").current_dir(&dir)),
        || kennel_run(pooled.addr, Language::Python, unique(py)).is_ok(),
    ));
    for (name, target) in [("cpp hello", 0.6), ("java hello", 0.7)] {
        let p = program(name);
        let what = if p.lang == Language::Java {
            "Java hello, compile + run / javac && java"
        } else {
            "C++ hello, compile + run / g++ && ./prog"
        };
        rows.push(row(
            what,
            target,
            cfg.slow,
            || bare_compile_and_run(&dir, p),
            || kennel_run(pooled.addr, p.lang, unique(p)).is_ok(),
        ));
    }
    for r in &rows {
        say(&line(r));
    }
    let (with_pool, without) = throughput(pooled.addr, unpooled.addr, &cached, cfg.throughput_runs);
    say(&format!(
        "runs/s, cached C hello, 4 clients: {with_pool:.0} with the pool, {without:.0} without: {:.2}x",
        with_pool / without.max(1e-9)
    ));
    drop((pooled, unpooled));
    let restart = super::restart::measure(cfg.restarts, 2, &[])?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut samples = restart.samples.clone();
    samples.sort();
    let r = FloorRow {
        what: "worker restart / spawn floor".into(),
        p50_ms: ms(restart.p(50.0)),
        p99_ms: ms(restart.p(99.0)),
        floor_p50_ms: ms(restart.floor_p50()),
        ratio: ms(restart.p(50.0)) / ms(restart.floor_p50()).max(1e-9),
        target: 1.5,
        samples: samples.len(),
        errors: 0,
    };
    say(&line(&r));
    rows.push(r);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Floor {
        errors: rows.iter().map(|r| r.errors).sum(),
        rows,
        runs_per_s: with_pool,
        runs_per_s_unpooled: without,
        throughput_ratio: with_pool / without.max(1e-9),
    })
}

fn program(name: &str) -> &'static Program {
    PROGRAMS
        .iter()
        .find(|p| p.name == name)
        .expect("a program of the table")
}

/// One row: `n` samples of the floor and of Kennel, alternating.
fn row(
    what: &str,
    target: f64,
    n: usize,
    mut floor: impl FnMut() -> bool,
    mut kennel: impl FnMut() -> bool,
) -> FloorRow {
    let (mut f, mut k, mut errors) = (Vec::new(), Vec::new(), 0);
    for _ in 0..n.max(1) {
        for (run, into) in [
            (&mut floor as &mut dyn FnMut() -> bool, &mut f),
            (&mut kennel, &mut k),
        ] {
            let t = Instant::now();
            if run() {
                into.push(t.elapsed());
            } else {
                errors += 1;
            }
        }
    }
    f.sort();
    k.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p50 = ms(percentile(&k, 50.0));
    let floor_p50 = ms(percentile(&f, 50.0));
    FloorRow {
        what: what.into(),
        p50_ms: p50,
        p99_ms: ms(percentile(&k, 99.0)),
        floor_p50_ms: floor_p50,
        ratio: p50 / floor_p50.max(1e-9),
        target,
        samples: k.len(),
        errors,
    }
}

fn run_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The C hello compiled outside any sandbox: the binary's path.
fn bare_compile(dir: &Path, p: &Program, source: &str) -> Result<std::path::PathBuf, String> {
    std::fs::write(dir.join("hello.c"), source).map_err(|e| e.to_string())?;
    let ok = run_ok(
        Command::new("gcc")
            .args(["-O2", "-o", "hello", "hello.c"])
            .current_dir(dir),
    );
    ok.then(|| dir.join("hello"))
        .ok_or_else(|| format!("compiling {} outside the sandbox failed", p.name))
}

/// What a person types: a new source compiled, then run.
fn bare_compile_and_run(dir: &Path, p: &Program) -> bool {
    let source = unique(p);
    if p.lang == Language::Java {
        let d = dir.join("java");
        let _ = std::fs::create_dir_all(&d);
        return std::fs::write(d.join("Main.java"), source).is_ok()
            && run_ok(Command::new("javac").arg("Main.java").current_dir(&d))
            && run_ok(Command::new("java").arg("Main").current_dir(&d));
    }
    std::fs::write(dir.join("hello.cpp"), source).is_ok()
        && run_ok(
            Command::new("g++")
                .args(["-O2", "-o", "prog", "hello.cpp"])
                .current_dir(dir),
        )
        && run_ok(Command::new("./prog").current_dir(dir))
}

/// Runs per second of the cached C hello with 4 clients, `n` runs each, on each instance in
/// turn (two rounds, interleaved): (with the pool, without).
fn throughput(
    pooled: std::net::SocketAddr,
    unpooled: std::net::SocketAddr,
    source: &str,
    n: usize,
) -> (f64, f64) {
    // The unpooled instance's cache is filled first (its own compile cache).
    let _ = kennel_run(unpooled, Language::C, source.to_string());
    let rate = |addr: std::net::SocketAddr| {
        let t = Instant::now();
        let ok: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..n)
                            .filter(|_| kennel_run(addr, Language::C, source.to_string()).is_ok())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        ok as f64 / t.elapsed().as_secs_f64()
    };
    let (mut a, mut b) = (0.0, 0.0);
    for _ in 0..2 {
        a += rate(pooled) / 2.0;
        b += rate(unpooled) / 2.0;
    }
    (a, b)
}

/// A row for people.
pub fn line(r: &FloorRow) -> String {
    format!(
        "{:<44} p50 {:>8.2} ms  p99 {:>8.2} ms  floor p50 {:>8.2} ms  ratio {:>5.2} (target <= {:.1})  errors {}",
        r.what, r.p50_ms, r.p99_ms, r.floor_p50_ms, r.ratio, r.target, r.errors
    )
}

/// The table for people.
pub fn lines(f: &Floor) -> String {
    let mut t = String::from("the runner against its floors (same run, interleaved):\n");
    for r in &f.rows {
        t.push_str(&format!("  {}\n", line(r)));
    }
    t.push_str(&format!(
        "  runs/s, cached C hello, 4 clients: {:.0} with the pool, {:.0} each run making its sandbox: {:.2}x (target >= 4)\n",
        f.runs_per_s, f.runs_per_s_unpooled, f.throughput_ratio
    ));
    t
}
