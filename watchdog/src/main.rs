//! `kennel-watchdog`: the parent of every Kennel process. Thin: parse flags, then
//! `kennel_watchdog::main_with`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let args = kennel_watchdog::settings::Args::parse();
    std::process::exit(kennel_watchdog::main_with(args));
}
