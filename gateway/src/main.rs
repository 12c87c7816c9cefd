//! `kennel-gateway`: started by the watchdog when it runs with `--http`. Thin: parse flags,
//! then `kennel_gateway::main_with`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let args = kennel_options::gateway::Args::parse();
    std::process::exit(kennel_gateway::main_with(args));
}
