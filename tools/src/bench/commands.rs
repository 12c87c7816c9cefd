//! `kennel-bench`'s subcommands, one function each (the binary only parses and calls
//! `main_with`). Each returns the exit status: 0, 1 when the benchmark could not run or saw
//! errors, 2 for a bad selection.

use std::path::{Path, PathBuf};

use kennel_options::shared::Format;

use super::cli::{Args, Command};
use super::runner::RunnerBenchConfig;
use super::suite::SuiteConfig;
use super::{api, multihost, report, restart, runner, suite};

/// Runs the chosen benchmark; returns the exit status.
pub fn main_with(args: Args) -> i32 {
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
                return 2;
            }
            load(&cfg, json)
        }
        Command::Runner { quick, tiny, out } => {
            let cfg = if tiny {
                RunnerBenchConfig::tiny()
            } else if quick {
                RunnerBenchConfig::quick()
            } else {
                RunnerBenchConfig::full()
            };
            let out = out.or((!tiny).then(|| PathBuf::from("target/bench/runner.json")));
            finish(
                runner::run(cfg, say),
                out.as_deref(),
                json,
                runner::table,
                |r| r.errors,
            )
        }
        Command::Api {
            runs,
            rounds,
            tiny,
            out,
        } => {
            let (runs, rounds) = if tiny { (1, 1) } else { (runs, rounds) };
            let out = out.or((!tiny).then(|| PathBuf::from("target/bench/api.json")));
            finish(
                api::run(runs, rounds, say),
                out.as_deref(),
                json,
                api::table,
                |r| r.errors,
            )
        }
        Command::Multihost {
            cpu_percent,
            clients,
            seconds,
            rounds,
            out,
        } => {
            let out = out.unwrap_or_else(|| PathBuf::from("target/bench/multihost.json"));
            let (cpu, clients, rounds) = (cpu_percent.clamp(1, 100), clients.max(1), rounds.max(1));
            finish(
                multihost::run(cpu, clients, seconds, rounds, say),
                Some(&out),
                json,
                multihost::table,
                |r| r.errors,
            )
        }
        Command::Restart {
            samples,
            workers,
            watchdog_flags,
        } => restart_latency(samples, workers, &watchdog_flags, json),
    }
}

/// Progress lines, on stderr.
fn say(line: &str) {
    eprintln!("kennel-bench: {line}");
}

/// The load benchmark: the table (or JSON) on stdout, the report where the config says.
fn load(cfg: &SuiteConfig, json: bool) -> i32 {
    match suite::run(cfg, say) {
        Ok(outcome) => {
            if json {
                println!("{}", report::json(&outcome));
            } else {
                print!("{}", report::table(&outcome));
                if let Some(p) = &cfg.out {
                    println!("written to {}", p.display());
                }
            }
            0
        }
        Err(e) => {
            say(&e);
            1
        }
    }
}

fn restart_latency(samples: usize, workers: usize, flags: &[String], json: bool) -> i32 {
    let extra: Vec<&str> = flags.iter().map(String::as_str).collect();
    match restart::measure(samples.max(1), workers.max(1), &extra) {
        Ok(r) => {
            if json {
                println!("{}", serde_json::Value::Object(r.json_fields()));
            } else {
                print!("{}", r.text());
            }
            0
        }
        Err(e) => {
            say(&e);
            1
        }
    }
}

/// Writes a JSON report where asked (its directory made first); a failure is said, not fatal.
fn write_report(out: Option<&Path>, doc: &str) {
    if let Some(p) = out {
        let written = p
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(p, format!("{doc}\n")));
        if let Err(e) = written {
            say(&format!("writing {}: {e}", p.display()));
        }
    }
}

/// The end of a benchmark with a JSON report: written where asked, printed as JSON or as the
/// table; 1 if it had errors or could not run.
fn finish<R: serde::Serialize>(
    result: Result<R, String>,
    out: Option<&Path>,
    json: bool,
    table: impl Fn(&R) -> String,
    errors: impl Fn(&R) -> u64,
) -> i32 {
    match result {
        Ok(r) => {
            let doc = serde_json::to_string(&r).unwrap_or_default();
            write_report(out, &doc);
            if json {
                println!("{doc}");
            } else {
                print!("{}", table(&r));
            }
            i32::from(errors(&r) > 0)
        }
        Err(e) => {
            say(&e);
            1
        }
    }
}
