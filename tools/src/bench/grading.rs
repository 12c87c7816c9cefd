//! Compile once, run many: a C program graded against N tests, measured three ways through
//! the same Kennel instance, interleaved, in one run:
//! - one submission carrying the N tests (one compile, N sandboxed runs);
//! - N submissions, each source unique (a compile each: how a runner without test cases —
//!   Judge0 CE, Piston — grades a problem of N tests);
//! - N submissions of the same source (the compile cache serves all but the first).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kennel_client::{Client, ClientConfig};
use kennel_runner::{Language, RunResult, Submission, TestCase, Verdict};
use serde::Serialize;

const SUM_C: &str = "#include <stdio.h>\nint main(void){long a, b; if (scanf(\"%ld %ld\", &a, &b) != 2) return 1; printf(\"%ld\\n\", a + b); return 0;}\n";

/// Milliseconds to grade the program against `tests` tests, each way (means over rounds).
#[derive(Debug, Clone, Serialize)]
pub struct Grading {
    pub tests: usize,
    pub one_submission_ms: f64,
    pub separate_compiling_ms: f64,
    pub separate_cached_ms: f64,
    /// separate (each compiling) / one submission.
    pub speedup_over_separate: f64,
    /// separate (cache warm) / one submission.
    pub speedup_over_cached: f64,
}

fn ask(addr: SocketAddr, sub: &Submission) -> Result<RunResult, String> {
    let mut cfg = ClientConfig::new(addr);
    cfg.answer_timeout = Duration::from_secs(300);
    let answer = Client::connect(cfg)
        .and_then(|mut c| c.request(Language::C.name(), &sub.encode()))
        .map_err(|e| e.to_string())?;
    RunResult::decode(&answer.body)
}

fn source(tag: &str) -> Vec<u8> {
    format!(
        "// kennel-bench grading {} {tag}\n{SUM_C}",
        std::process::id()
    )
    .into_bytes()
}

fn case(i: usize) -> (Vec<u8>, Vec<u8>) {
    (
        format!("{i} {}\n", 2 * i).into_bytes(),
        format!("{}\n", 3 * i).into_bytes(),
    )
}

fn accepted(r: RunResult) -> Result<(), String> {
    match r.verdict {
        Verdict::Accepted => Ok(()),
        v => Err(format!("a graded run was {} ({})", v.name(), r.message)),
    }
}

/// Grades the C program against `n` tests each way, `rounds` times.
pub fn measure(addr: SocketAddr, n: usize, rounds: usize) -> Result<Grading, String> {
    let mut sums = [0.0f64; 3];
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    for round in 0..rounds {
        let t = Instant::now();
        let graded = Submission {
            source: source(&format!("one {round}")),
            tests: (0..n)
                .map(|i| {
                    let (stdin, out) = case(i);
                    TestCase {
                        name: (i + 1).to_string(),
                        stdin,
                        expected: Some(out),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        };
        let r = ask(addr, &graded)?;
        if r.passed as usize != n || r.cached_compile {
            return Err(format!("the graded submission: {}", r.summary_line()));
        }
        sums[0] += ms(t);
        let t = Instant::now();
        for i in 0..n {
            let (stdin, out) = case(i);
            let sub = Submission {
                source: source(&format!("separate {round} {i}")),
                stdin,
                expected: Some(out),
                ..Default::default()
            };
            accepted(ask(addr, &sub)?)?;
        }
        sums[1] += ms(t);
        let same = source(&format!("cached {round}"));
        let t = Instant::now();
        for i in 0..n {
            let (stdin, out) = case(i);
            let sub = Submission {
                source: same.clone(),
                stdin,
                expected: Some(out),
                ..Default::default()
            };
            accepted(ask(addr, &sub)?)?;
        }
        sums[2] += ms(t);
    }
    let [one, separate, cached] = sums.map(|s| s / rounds as f64);
    Ok(Grading {
        tests: n,
        one_submission_ms: one,
        separate_compiling_ms: separate,
        separate_cached_ms: cached,
        speedup_over_separate: separate / one,
        speedup_over_cached: cached / one,
    })
}

/// The lines of the report for people.
pub fn lines(g: &Grading) -> String {
    format!(
        "grading a C program against {n} tests through Kennel (compile once, run many):\n  \
         one submission of {n} tests   {:>9.1} ms\n  \
         {n} submissions, each compiled {:>9.1} ms ({:.1}x the one submission)\n  \
         {n} submissions, cache warm    {:>9.1} ms ({:.1}x)\n",
        g.one_submission_ms,
        g.separate_compiling_ms,
        g.speedup_over_separate,
        g.separate_cached_ms,
        g.speedup_over_cached,
        n = g.tests
    )
}
