//! `kennel-fuzz`: runs the in-tree fuzz targets for a given time each.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kennel_common::duration::parse_duration;
use kennel_fuzz::{fuzz, save_crash, targets, Config};

#[derive(Debug, Parser)]
#[command(
    name = "kennel-fuzz",
    version,
    about = "Fuzz Kennel's untrusted-input code"
)]
struct Args {
    /// Target: control, message, notice, segment, submission, or all.
    target: String,
    /// Time per target.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    time: Duration,
    /// Random seed (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Directory holding one seed-corpus directory per target.
    #[arg(long, default_value = "fuzz/corpus")]
    corpus: PathBuf,
    /// Write new interesting inputs back into the corpus directory.
    #[arg(long)]
    save_corpus: bool,
    /// Where crashing inputs are written.
    #[arg(long, default_value = "fuzz/crashes")]
    crashes: PathBuf,
    /// Longest input generated.
    #[arg(long, default_value_t = 8192)]
    max_len: usize,
}

fn main() {
    let a = Args::parse();
    let names = if a.target == "all" {
        targets::all()
    } else {
        vec![a.target.as_str()]
    };
    let seed = a.seed.unwrap_or_else(kennel_common::clock::unix_ms);
    let mut failed = false;
    for name in names {
        let mut target = match targets::by_name(name) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("kennel-fuzz: {e}");
                std::process::exit(2);
            }
        };
        let dir = a.corpus.join(name);
        let cfg = Config {
            duration: a.time,
            seed,
            max_len: a.max_len,
            save_corpus: a.save_corpus.then(|| dir.clone()),
        };
        match fuzz(target.as_mut(), Some(&dir), &cfg) {
            Ok(s) => println!(
                "{name:<8} ok: {} execs in {:.1} s ({:.0}/s), corpus {}, outcome classes {}, seed {seed}",
                s.execs,
                s.elapsed.as_secs_f64(),
                s.execs as f64 / s.elapsed.as_secs_f64().max(1e-9),
                s.corpus,
                s.features
            ),
            Err(crash) => {
                failed = true;
                let saved = save_crash(&a.crashes, name, &crash)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|e| format!("(not saved: {e})"));
                println!("{name:<8} CRASH: {} — input saved to {saved} (seed {seed})", crash.message);
            }
        }
    }
    std::process::exit(i32::from(failed));
}
