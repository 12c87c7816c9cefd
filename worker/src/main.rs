//! `kennel-worker`: started by the watchdog, one per slot. Thin: parse flags, then
//! `kennel_worker::main_with`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let args = kennel_options::worker::Args::parse();
    std::process::exit(kennel_worker::main_with(args));
}
