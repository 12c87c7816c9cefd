//! `kennel-chaos`: kills Kennel's processes at random under load and reports what broke.

#![forbid(unsafe_code)]

use clap::Parser;
use kennel_options::shared::Format;
use kennel_tools::chaos::{run, ChaosSettings};

use kennel_tools::chaos_cli::Args;

fn main() {
    kennel_common::logging::quiet_on_closed_stdout();
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
