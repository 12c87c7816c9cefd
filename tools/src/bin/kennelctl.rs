//! `kennelctl`: thin; the logic is `kennel_tools::ctl`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    kennel_common::logging::quiet_on_closed_stdout();
    let args = kennel_tools::ctl::cli::Args::parse();
    std::process::exit(kennel_tools::ctl::main_with(args));
}
