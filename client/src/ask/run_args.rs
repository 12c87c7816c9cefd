//! `kennel-client run`'s flags.

use std::path::PathBuf;
use std::time::Duration;

use kennel_common::duration::parse_duration;
use kennel_options::runner::parse_size;

/// `run`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The program: one file (.py, .c, .cpp/.cc, .java), several (a.c b.c util.h), or a
    /// directory holding them.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Language, instead of the one the extension names: python, c, cpp, java.
    #[arg(long)]
    pub lang: Option<String>,
    /// A file to feed the program on its standard input (`-`: this one's).
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// An argument for the program (repeatable).
    #[arg(long = "arg")]
    pub args: Vec<String>,
    /// CPU time limit (e.g. 2s; default: the server's).
    #[arg(long, value_parser = parse_duration)]
    pub time_limit: Option<Duration>,
    /// Wall-clock limit.
    #[arg(long, value_parser = parse_duration)]
    pub wall_limit: Option<Duration>,
    /// Memory limit: 128M, 1G (a bare number is bytes; at least 16M).
    #[arg(long, value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// The expected output: a different stdout is a wrong answer.
    #[arg(long)]
    pub expected: Option<PathBuf>,
    /// A directory of tests: NAME.in with NAME.out (or NAME.ans); compiled once, run per test.
    #[arg(long, value_name = "DIR")]
    pub tests: Option<PathBuf>,
    /// How stdout is compared: exact, lines (default), tokens, float:1e-6, case-insensitive,
    /// or a checker program's file (it gets input, output, expected; exit 0 accepts, 1 rejects).
    #[arg(long, value_name = "NAME|FILE")]
    pub checker: Option<String>,
    /// An interactor program's file: its stdout is the program's stdin and back; its exit
    /// code is the verdict (0 accepted, 1 wrong answer).
    #[arg(long, value_name = "FILE")]
    pub interactor: Option<PathBuf>,
    /// A compiler option from the language's allow-list (repeatable): -O0, -std=c11, -DN=5…
    #[arg(
        long = "compile-option",
        value_name = "OPT",
        allow_hyphen_values = true
    )]
    pub compile_options: Vec<String>,
    /// The file (Python) or class (Java) to start when there are several.
    #[arg(long)]
    pub entry: Option<String>,
    /// Stop at the first failing test (the rest are reported skipped).
    #[arg(long)]
    pub stop_on_first_failure: bool,
}
