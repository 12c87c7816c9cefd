//! `kennel-bench`: Kennel's benchmarks, each printing its figures next to a floor measured in
//! the same run.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::Parser;
use kennel_options::shared::Format;
use kennel_tools::bench::report;
use kennel_tools::bench::restart as bench_restart;
use kennel_tools::bench::suite::{self, SuiteConfig};

use kennel_tools::bench::cli::{Args, Command};

fn main() {
    kennel_common::logging::quiet_on_closed_stdout();
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
            use kennel_tools::bench::runner::{self as bench_runner, RunnerBenchConfig};
            let cfg = if tiny {
                RunnerBenchConfig::tiny()
            } else if quick {
                RunnerBenchConfig::quick()
            } else {
                RunnerBenchConfig::full()
            };
            let out = out.or((!tiny).then(|| PathBuf::from("target/bench/runner.json")));
            finish(
                bench_runner::run(cfg, |line| eprintln!("kennel-bench: {line}")),
                out.as_deref(),
                json,
                bench_runner::table,
                |r| r.errors,
            );
        }
        Command::Api {
            runs,
            rounds,
            tiny,
            out,
        } => {
            use kennel_tools::bench::api;
            let (runs, rounds) = if tiny { (1, 1) } else { (runs, rounds) };
            let out = out.or((!tiny).then(|| PathBuf::from("target/bench/api.json")));
            finish(
                api::run(runs, rounds, |line| eprintln!("kennel-bench: {line}")),
                out.as_deref(),
                json,
                api::table,
                |r| r.errors,
            );
        }
        Command::Multihost {
            cpu_percent,
            clients,
            seconds,
            rounds,
            out,
        } => {
            use kennel_tools::bench::multihost;
            let out = Some(out.unwrap_or_else(|| PathBuf::from("target/bench/multihost.json")));
            let said = |line: &str| eprintln!("kennel-bench: {line}");
            finish(
                multihost::run(
                    cpu_percent.clamp(1, 100),
                    clients.max(1),
                    seconds,
                    rounds.max(1),
                    said,
                ),
                out.as_deref(),
                json,
                multihost::table,
                |r| r.errors,
            );
        }
        Command::Restart { samples, workers } => {
            match bench_restart::measure(samples.max(1), workers.max(1)) {
                Ok(r) => {
                    if json {
                        println!("{}", serde_json::Value::Object(r.json_fields()));
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

/// Writes a JSON report where asked (its directory made first); a failure is said, not fatal.
fn write_report(out: Option<&std::path::Path>, doc: &str) {
    if let Some(p) = out {
        let written = p
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(p, format!("{doc}\n")));
        if let Err(e) = written {
            eprintln!("kennel-bench: writing {}: {e}", p.display());
        }
    }
}

/// The end of a benchmark with a JSON report: written where asked, printed as JSON or as the
/// table; exit 1 if it had errors or could not run.
fn finish<R: serde::Serialize>(
    result: Result<R, String>,
    out: Option<&std::path::Path>,
    json: bool,
    table: impl Fn(&R) -> String,
    errors: impl Fn(&R) -> u64,
) {
    match result {
        Ok(r) => {
            let doc = serde_json::to_string(&r).unwrap_or_default();
            write_report(out, &doc);
            if json {
                println!("{doc}");
            } else {
                print!("{}", table(&r));
            }
            if errors(&r) > 0 {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("kennel-bench: {e}");
            std::process::exit(1);
        }
    }
}
