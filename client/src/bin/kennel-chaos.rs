//! `kennel-chaos`: kills Kennel's processes at random under load and reports what broke.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kennel_client::chaos::{run, ChaosSettings};
use kennel_common::duration::parse_duration;
use kennel_common::options::{Format, FormatOption};

#[derive(Debug, Parser)]
#[command(
    name = "kennel-chaos",
    version,
    about = "Start an instance, run clients while killing random children, report failures and leaks"
)]
struct Args {
    /// Concurrent clients.
    #[arg(long, short = 'c', default_value_t = 8)]
    clients: usize,
    /// How long the clients and the killer run.
    #[arg(long, short = 't', default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Time between two SIGKILLs.
    #[arg(long, short = 'k', default_value = "500ms", value_parser = parse_duration)]
    kill_every: Duration,
    /// Workers in the instance.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Also freeze (SIGSTOP) one worker once, a third of the way in.
    #[arg(long)]
    freeze: bool,
    /// Seed of the victim choice (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Write the instance's log to this file.
    #[arg(long)]
    log: Option<PathBuf>,
    #[command(flatten)]
    format: FormatOption,
}

fn main() {
    let a = Args::parse();
    if a.clients == 0 || a.kill_every.is_zero() {
        eprintln!("kennel-chaos: --clients and --kill-every must be positive");
        std::process::exit(2);
    }
    let settings = ChaosSettings {
        clients: a.clients,
        duration: a.duration,
        kill_every: a.kill_every,
        workers: a.workers,
        freeze: a.freeze,
        seed: a.seed.unwrap_or_else(kennel_common::clock::unix_ms),
        log: a.log.clone(),
    };
    match run(&settings) {
        Ok(report) => {
            if a.format.resolve() == Format::Json {
                println!("{}", report.json());
            } else {
                print!("{}", report.text(&settings));
            }
            std::process::exit(if report.passed() { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("kennel-chaos: {e}");
            std::process::exit(2);
        }
    }
}
