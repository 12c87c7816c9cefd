//! `kennelctl`: thin; the logic is `kennel_client::ctl`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    kennel_common::logging::quiet_on_closed_stdout();
    let args = kennel_client::ctl::cli::Args::parse();
    std::process::exit(kennel_client::ctl::main_with(args));
}
