//! `kennel-run`: PID 1 of every sandbox (see `kennel_runner::helper` and `kennel_runner::standby`).
#![forbid(unsafe_code)]

fn main() {
    use clap::Parser;
    std::process::exit(kennel_runner::standby::main_with(
        kennel_runner::standby::Args::parse(),
    ));
}
