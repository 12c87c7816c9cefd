//! `kennel-dispatcher`: started by the watchdog. Thin: parse flags, then
//! `kennel_dispatcher::main_with`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let args = kennel_options::dispatcher::Args::parse();
    std::process::exit(kennel_dispatcher::main_with(args));
}
