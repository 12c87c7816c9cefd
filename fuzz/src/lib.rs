//! A small in-tree mutation fuzzer for the code that reads untrusted bytes: the control-line
//! parser, the worker message framing, the FIFO notice decoder and the segment validator.
//!
//! Beside it, `fuzz/libfuzzer/` runs the same targets under libFuzzer (coverage-guided, through
//! cargo-fuzz on stable with `--sanitizer none`): measured in docs/SECURITY.md, it reaches more
//! code in the same time and is the engine for long runs. This one stays because it needs no
//! tool, is reproducible from a seed and gives the test suite its short run. It is deliberately
//! simple — seeds from
//! `fuzz/corpus/<target>/`, byte-level mutations plus a per-target dictionary, and a cheap
//! feedback signal: each target reports the *outcome classes* an input reached (which branch
//! of the parser answered, which invariant failed), and an input that reaches a new class
//! joins the corpus. It is not coverage-guided; it is reproducible (`--seed`), and every
//! target checks properties beyond "does not panic".

#![forbid(unsafe_code)]

pub mod submission;
pub mod targets;

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One thing to fuzz.
pub trait Target {
    fn name(&self) -> &'static str;
    /// Tokens worth splicing into inputs (type names, headers, magic numbers).
    fn dictionary(&self) -> Vec<Vec<u8>>;
    /// Inputs to start from, besides the committed corpus.
    fn builtin_seeds(&self) -> Vec<Vec<u8>>;
    /// Runs one input, pushing the outcome classes it reached into `features`. Panics (an
    /// assertion) when a property is violated.
    fn run(&mut self, input: &[u8], features: &mut Vec<u64>);
}

/// Settings of one fuzzing session.
#[derive(Debug, Clone)]
pub struct Config {
    pub duration: Duration,
    pub seed: u64,
    pub max_len: usize,
    /// Where new interesting inputs are written (None: kept in memory only).
    pub save_corpus: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub execs: u64,
    pub corpus: usize,
    pub features: usize,
    pub elapsed: Duration,
}

/// An input that made a target panic.
#[derive(Debug, Clone)]
pub struct Crash {
    pub input: Vec<u8>,
    pub message: String,
}

/// The mutators' random source: `fastrand`'s seedable generator (reproducible from `--seed`).
pub use fastrand::Rng;

/// The one helper the mutators need on top of `fastrand`: a number in `0..n`, 0 when `n` is 0
/// (an empty input has no byte to pick, and `usize(..0)` would panic).
pub trait Below {
    fn below(&mut self, n: usize) -> usize;
}

impl Below for Rng {
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.usize(..n)
        }
    }
}

const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'\n', b'\r', b' ', b'0', b'9', b'-'];

/// Applies 1 to 8 random mutations to `input`.
pub fn mutate(
    input: &mut Vec<u8>,
    rng: &mut Rng,
    dict: &[Vec<u8>],
    corpus: &[Vec<u8>],
    max_len: usize,
) {
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.u8(..);
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
                input.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                input.drain(a..b);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let copy = input[a..b].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, copy);
            }
            6 | 7 if !dict.is_empty() => {
                let token = &dict[rng.below(dict.len())];
                let at = rng.below(len + 1);
                if rng.below(2) == 0 || len == 0 {
                    input.splice(at..at, token.iter().copied());
                } else {
                    let end = (at + token.len()).min(len);
                    input.splice(at..end, token.iter().copied());
                }
            }
            8 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(input.len() + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
        input.truncate(max_len);
    }
}

fn load_corpus(dir: Option<&Path>) -> Vec<Vec<u8>> {
    let Some(dir) = dir else { return Vec::new() };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    // FNV-1a: names saved inputs by content.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn run_one(target: &mut dyn Target, input: &[u8], features: &mut Vec<u64>) -> Result<(), String> {
    features.clear();
    catch_unwind(AssertUnwindSafe(|| target.run(input, features))).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

/// Fuzzes `target` for `cfg.duration`, starting from the corpus in `corpus_dir` (or the
/// target's built-in seeds). Returns statistics, or the first input that crashed.
pub fn fuzz(
    target: &mut dyn Target,
    corpus_dir: Option<&Path>,
    cfg: &Config,
) -> Result<Stats, Crash> {
    let start = Instant::now();
    let mut rng = Rng::with_seed(cfg.seed);
    let dict = target.dictionary();
    // The built-in seeds always join the committed corpus: some targets build theirs from
    // the live environment (the segment target's is a freshly created segment).
    let mut corpus = target.builtin_seeds();
    corpus.extend(load_corpus(corpus_dir));
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let mut features = Vec::new();
    let mut stats = Stats::default();
    // Replay the corpus first: a regression there is the cheapest crash to find.
    for input in corpus.clone() {
        run_one(target, &input, &mut features).map_err(|message| Crash {
            input: input.clone(),
            message,
        })?;
        seen.extend(features.iter().copied());
        stats.execs += 1;
    }
    while start.elapsed() < cfg.duration {
        for _ in 0..64 {
            let mut input = corpus[rng.below(corpus.len())].clone();
            mutate(&mut input, &mut rng, &dict, &corpus, cfg.max_len);
            if let Err(message) = run_one(target, &input, &mut features) {
                return Err(Crash { input, message });
            }
            stats.execs += 1;
            let new = features.iter().filter(|f| !seen.contains(f)).count();
            if new > 0 {
                seen.extend(features.iter().copied());
                if let Some(dir) = &cfg.save_corpus {
                    let _ = std::fs::create_dir_all(dir);
                    let _ =
                        std::fs::write(dir.join(format!("{:016x}", fingerprint(&input))), &input);
                }
                corpus.push(input);
            }
        }
    }
    stats.corpus = corpus.len();
    stats.features = seen.len();
    stats.elapsed = start.elapsed();
    Ok(stats)
}

/// Writes a crashing input where a person can replay it.
pub fn save_crash(dir: &Path, target: &str, crash: &Crash) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{target}-{:016x}", fingerprint(&crash.input)));
    std::fs::write(&path, &crash.input)?;
    Ok(path)
}

/// Hashes a label into a feature id.
pub fn feature(label: &str, value: u64) -> u64 {
    fingerprint(label.as_bytes()) ^ value.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Runs `input` through the target called `name`, built once per process: the body of each
/// libFuzzer entry point in `fuzz/libfuzzer/` (coverage-guided, beside this crate's engine).
pub fn run_named(name: &'static str, input: &[u8]) {
    use std::cell::RefCell;
    thread_local! {
        static TARGET: RefCell<Option<Box<dyn Target>>> = const { RefCell::new(None) };
    }
    TARGET.with(|cell| {
        let mut slot = cell.borrow_mut();
        let target = slot.get_or_insert_with(|| {
            targets::by_name(name).unwrap_or_else(|e| panic!("target {name}: {e}"))
        });
        let mut features = Vec::new();
        target.run(input, &mut features);
    });
}

/// Declares a libFuzzer entry point for one of this crate's targets.
#[macro_export]
macro_rules! libfuzzer_target {
    ($name:literal) => {
        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            $crate::run_named($name, data);
        });
    };
}
