//! `kennel-chaos`'s command line (here, in the library, so that `kennelctl man` and
//! `kennelctl completions` can render it too).

use clap::Parser;
use kennel_common::duration::parse_duration;
use kennel_options::shared::FormatOption;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennel-chaos",
    version,
    about = "Start an instance, run clients while killing random children, report failures and leaks"
)]
pub struct Args {
    /// Concurrent clients.
    #[arg(long, short = 'c', default_value_t = 8)]
    pub clients: usize,
    /// How long the clients and the killer run.
    #[arg(long, short = 't', default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Time between two SIGKILLs.
    #[arg(long, short = 'k', default_value = "500ms", value_parser = parse_duration)]
    pub kill_every: Duration,
    /// Workers in the instance.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Also freeze (SIGSTOP) one worker once, a third of the way in.
    #[arg(long)]
    pub freeze: bool,
    /// Seed of the victim choice (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the instance's log to this file.
    #[arg(long)]
    pub log: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatOption,
}
