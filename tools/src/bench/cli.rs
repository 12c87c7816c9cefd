//! `kennel-bench`'s command line (here, in the library, so that `kennelctl man` and
//! `kennelctl completions` can render it too).

use clap::{Parser, Subcommand};
use kennel_options::shared::FormatOption;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "kennel-bench",
    version,
    about = "Kennel benchmarks",
    next_line_help = true
)]
pub struct Args {
    #[command(flatten)]
    pub format: FormatOption,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// The HTTP API's cost: a Python and a C hello world through the gateway (/api/v1,
    /// Judge0's and Piston's routes) against the same runs through kennel-client, at 1 and 8
    /// clients. Writes target/bench/api.json.
    Api {
        /// Runs per (program, clients) cell and round (at least one per client).
        #[arg(long, default_value_t = 24)]
        runs: usize,
        /// Interleaved rounds.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// One run per cell (used by the test suite).
        #[arg(long)]
        tiny: bool,
        /// Where to write the JSON report (default target/bench/api.json; none for --tiny).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Kennel across hosts (root: network namespaces, HAProxy): requests per second through
    /// HAProxy with 1, 2 and 3 nodes, each held to the same CPU quota, and the time from a
    /// node's death to HAProxy routing around it. Writes target/bench/multihost.json.
    Multihost {
        /// Each node's CPU quota, in percent of one CPU.
        #[arg(long, default_value_t = 25)]
        cpu_percent: u32,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// kill -9 of a worker -> replacement accepting connections.
    Restart {
        #[arg(long, default_value_t = 20)]
        samples: usize,
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// More watchdog flags for the measured instance (e.g. `--sandbox-pool=0`).
        #[arg(
            long = "watchdog-flag",
            value_name = "FLAG",
            allow_hyphen_values = true
        )]
        watchdog_flags: Vec<String>,
    },
}
