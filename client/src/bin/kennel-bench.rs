//! `kennel-bench`: Kennel's benchmarks, each printing its figures next to a floor measured in
//! the same run.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kennel_client::bench::report;
use kennel_client::bench::restart as bench_restart;
use kennel_client::bench::suite::{self, SuiteConfig};
use kennel_client::json::Obj;
use kennel_common::options::{Format, FormatOption};

#[derive(Debug, Parser)]
#[command(name = "kennel-bench", version, about = "Kennel benchmarks")]
struct Args {
    #[command(flatten)]
    format: FormatOption,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The load benchmark: Kennel against one hop, two hops with no IPC, and nginx; then
    /// dispatch overhead, memory, 1,000 idle connections and restart latency.
    Load {
        /// The same grid with short runs (about a minute).
        #[arg(long)]
        quick: bool,
        /// A smoke run that only proves the benchmark works (used by the test suite).
        #[arg(long, conflicts_with = "quick")]
        tiny: bool,
        /// Leave nginx out even if installed.
        #[arg(long)]
        no_nginx: bool,
        /// Where to write the JSON report (default target/bench/latest.json; none for --tiny).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only these client counts (comma-separated), e.g. `--clients 64` to study one cell.
        #[arg(long, value_delimiter = ',')]
        clients: Vec<usize>,
        /// Only these payload sizes in bytes (comma-separated).
        #[arg(long, value_delimiter = ',')]
        payloads: Vec<usize>,
        /// Seconds per system per round (overrides the mode's; fractions allowed).
        #[arg(long)]
        seconds: Option<f64>,
        /// Interleaved rounds (overrides the mode's).
        #[arg(long)]
        rounds: Option<usize>,
        /// Kennel's worker count (and the number of minimal servers behind the floors and nginx).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// The program runner: each language's hello world and a CPU-bound program at 1 and 8
    /// clients, Kennel against the bare run and the same sandbox by hand; the compile cache;
    /// the sandbox's cost layer by layer. Writes target/bench/runner.json.
    Runner {
        #[arg(long)]
        quick: bool,
        /// The hello worlds once each (used by the test suite).
        #[arg(long, conflicts_with = "quick")]
        tiny: bool,
        /// Where to write the JSON report (default target/bench/runner.json; none for --tiny).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// kill -9 of a worker -> replacement accepting connections.
    Restart {
        #[arg(long, default_value_t = 20)]
        samples: usize,
        #[arg(long, default_value_t = 4)]
        workers: usize,
    },
}

fn main() {
    let args = Args::parse();
    let json = args.format.resolve() == Format::Json;
    match args.command {
        Command::Load {
            quick,
            tiny,
            no_nginx,
            out,
            clients,
            payloads,
            workers,
            seconds,
            rounds,
        } => {
            let mut cfg = if tiny {
                SuiteConfig::tiny()
            } else if quick {
                SuiteConfig::quick()
            } else {
                SuiteConfig::full()
            };
            cfg.nginx = !no_nginx;
            if out.is_some() {
                cfg.out = out;
            }
            if let Err(e) = cfg.select(&clients, &payloads, workers, seconds, rounds) {
                eprintln!("kennel-bench: {e}");
                std::process::exit(2);
            }
            match suite::run(&cfg, |line| eprintln!("kennel-bench: {line}")) {
                Ok(outcome) => {
                    if json {
                        println!("{}", report::json(&outcome));
                    } else {
                        print!("{}", report::table(&outcome));
                        if let Some(p) = &cfg.out {
                            println!("written to {}", p.display());
                        }
                    }
                }
                Err(e) => {
                    eprintln!("kennel-bench: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Runner { quick, tiny, out } => {
            use kennel_client::bench::runner::{self as bench_runner, RunnerBenchConfig};
            let cfg = if tiny {
                RunnerBenchConfig::tiny()
            } else if quick {
                RunnerBenchConfig::quick()
            } else {
                RunnerBenchConfig::full()
            };
            let out = out.or((!tiny).then(|| PathBuf::from("target/bench/runner.json")));
            match bench_runner::run(cfg, |line| eprintln!("kennel-bench: {line}")) {
                Ok(r) => {
                    let doc = serde_json::to_string(&r).unwrap_or_default();
                    if let Some(p) = &out {
                        let written = p
                            .parent()
                            .map_or(Ok(()), std::fs::create_dir_all)
                            .and_then(|()| std::fs::write(p, format!("{doc}\n")));
                        if let Err(e) = written {
                            eprintln!("kennel-bench: writing {}: {e}", p.display());
                        }
                    }
                    if json {
                        println!("{doc}");
                    } else {
                        print!("{}", bench_runner::table(&r));
                    }
                    if r.errors > 0 {
                        std::process::exit(1);
                    }
                }
                Err(e) => {
                    eprintln!("kennel-bench: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Restart { samples, workers } => {
            match bench_restart::measure(samples.max(1), workers.max(1)) {
                Ok(r) => {
                    if json {
                        let mut o = Obj::new();
                        r.json_fields(&mut o);
                        println!("{}", o.finish());
                    } else {
                        print!("{}", r.text());
                    }
                }
                Err(e) => {
                    eprintln!("kennel-bench: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
}
