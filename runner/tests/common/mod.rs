//! Shared by the runner's tests: a `Runner` over the freshly built `kennel-run`, and a
//! one-line skip when bubblewrap or a toolchain is missing.

use std::path::PathBuf;

use kennel_runner::{Language, RunResult, Runner, RunnerOptions, Submission};

/// A runner with `opts`, without warm toolchain files (these tests are about the sandbox; the
/// warm files have their own, tests/tests/prefork.rs).
pub fn runner_with(mut opts: RunnerOptions) -> Runner {
    opts.warm_toolchains = "none".into();
    let dir = std::env::temp_dir().join(format!(
        "kennel-runner-test-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    Runner::new(opts, PathBuf::from(env!("CARGO_BIN_EXE_kennel-run")), &dir)
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// `None` (after one line saying why) when this host cannot run `lang`.
pub fn usable(r: &Runner, lang: Language) -> Option<()> {
    if r.offers(lang) {
        Some(())
    } else {
        eprintln!(
            "SKIPPED: {} unavailable here ({})",
            lang.name(),
            r.describe()
        );
        None
    }
}

#[allow(dead_code)] // used by some of the test files only
pub fn run(r: &Runner, lang: Language, source: &str) -> RunResult {
    let sub = Submission {
        source: source.as_bytes().to_vec(),
        ..Default::default()
    };
    r.run(lang, &sub, 0).expect("the submission is acceptable")
}
