//! `kennel-run`: PID 1 of every sandbox (see `kennel_runner::helper`).
#![forbid(unsafe_code)]

fn main() {
    use clap::Parser;
    std::process::exit(kennel_runner::helper::main_with(
        kennel_runner::helper::Args::parse(),
    ));
}
