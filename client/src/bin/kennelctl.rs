//! `kennelctl`: reads a Kennel instance's shared segment (read-only) and shows it as a table,
//! as JSON, live, or checks its invariants.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use kennel_client::inspect::Inspector;
use kennel_client::status;
use kennel_common::duration::parse_duration;
use kennel_common::runtime::{RuntimeDir, ENV_RUNTIME_DIR};

#[derive(Debug, Parser)]
#[command(
    name = "kennelctl",
    version,
    about = "Inspect a Kennel instance's shared memory"
)]
struct Args {
    /// Runtime directory of the instance.
    #[arg(long, env = ENV_RUNTIME_DIR, global = true)]
    runtime_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show every process: slot, pid, state, port, counters, heartbeat age.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Same as --format json.
        #[arg(long)]
        json: bool,
    },
    /// Refresh the status table until Ctrl-C.
    Watch {
        /// Time between refreshes.
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        interval: Duration,
    },
    /// Verify every invariant of the segment; exit status 1 naming the broken ones.
    Check {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let args = Args::parse();
    let runtime = RuntimeDir::resolve(args.runtime_dir.as_deref());
    let inspector = match Inspector::open(runtime.clone()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!(
                "kennelctl: cannot read the instance in {}: {e}\n(is kennel-watchdog running with this --runtime-dir?)",
                runtime.path().display()
            );
            std::process::exit(2);
        }
    };
    match args.command {
        Command::Status { format, json } => {
            let snap = inspector.segment.snapshot();
            let ctx = inspector.context();
            if json || format == Format::Json {
                println!("{}", status::json(&snap, &ctx));
            } else {
                print!("{}", status::table(&snap, &ctx));
            }
        }
        Command::Watch { interval } => loop {
            let snap = inspector.segment.snapshot();
            // Clear the screen and home the cursor, then draw.
            print!(
                "\x1b[2J\x1b[H{}",
                status::table(&snap, &inspector.context())
            );
            println!(
                "\n(refreshing every {} ms; Ctrl-C to quit)",
                interval.as_millis()
            );
            std::thread::sleep(interval);
        },
        Command::Check { format, json } => {
            let snap = inspector.segment.snapshot();
            let violations = inspector.check(&snap);
            if json || format == Format::Json {
                println!("{}", status::check_json(&violations));
            } else {
                print!("{}", status::check_text(&violations));
            }
            std::process::exit(if violations.is_empty() { 0 } else { 1 });
        }
    }
}
