//! `kennel-client`: thin; the logic is `kennel_client::ask`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    kennel_common::logging::quiet_on_closed_stdout();
    let args = kennel_client::ask::cli::Args::parse();
    std::process::exit(kennel_client::ask::main_with(args));
}
