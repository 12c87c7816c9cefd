//! `kennel-watchdog`: the parent of every Kennel process. Thin: parse flags, then
//! `kennel_watchdog::main_with`.

#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let argv = match kennel_watchdog::config::merged_args(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kennel-watchdog: {e}");
            std::process::exit(2);
        }
    };
    let args = kennel_options::watchdog::Args::parse_from(argv);
    std::process::exit(kennel_watchdog::main_with(args));
}
