//! `kennel-bench`: thin; the logic is `kennel_tools::bench` (its subcommands in
//! `bench::commands`), each benchmark printing its figures next to a floor measured in the
//! same run.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    kennel_common::logging::quiet_on_closed_stdout();
    let args = kennel_tools::bench::cli::Args::parse();
    std::process::exit(kennel_tools::bench::commands::main_with(args));
}
