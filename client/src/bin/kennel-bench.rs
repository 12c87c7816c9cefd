//! `kennel-bench`: Kennel's benchmarks, each printing its figures next to a floor measured in
//! the same run.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use kennel_client::bench_restart;
use kennel_client::json::Obj;

#[derive(Debug, Parser)]
#[command(name = "kennel-bench", version, about = "Kennel benchmarks")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// kill -9 of a worker -> replacement accepting connections.
    Restart {
        #[arg(long, default_value_t = 20)]
        samples: usize,
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    match Args::parse().command {
        Command::Restart {
            samples,
            workers,
            json,
        } => match bench_restart::measure(samples.max(1), workers.max(1)) {
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
        },
    }
}
