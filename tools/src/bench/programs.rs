//! The programs the runner and API benchmarks submit, and the two helpers they share: a source
//! made unique (so no compile is served from a cache) and a timed run of N requests by C
//! clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kennel_client::{Client, ClientConfig};
use kennel_runner::{Language, RunResult, Submission, Verdict};

pub(super) struct Program {
    pub(super) name: &'static str,
    pub(super) lang: Language,
    pub(super) source: &'static str,
}

#[rustfmt::skip]
pub(super) const PROGRAMS: [Program; 8] = [
    Program { name: "python hello", lang: Language::Python, source: "print('hello')\n" },
    Program { name: "python cpu", lang: Language::Python, source: "s = 0\nfor i in range(1000000):\n    s += i % 7\nprint(s)\n" },
    Program { name: "c hello", lang: Language::C, source: "#include <stdio.h>\nint main(void){puts(\"hello\");return 0;}\n" },
    Program { name: "c cpu", lang: Language::C, source: "#include <stdio.h>\nint main(void){unsigned long s=0; for(unsigned long i=0;i<100000000UL;i++) s+=i%7; printf(\"%lu\\n\",s); return 0;}\n" },
    Program { name: "cpp hello", lang: Language::Cpp, source: "#include <iostream>\nint main(){std::cout<<\"hello\"<<std::endl;}\n" },
    Program { name: "cpp cpu", lang: Language::Cpp, source: "#include <cstdio>\nint main(){unsigned long s=0; for(unsigned long i=0;i<100000000UL;i++) s+=i%7; std::printf(\"%lu\\n\",s);}\n" },
    Program { name: "java hello", lang: Language::Java, source: "public class Main { public static void main(String[] a) { System.out.println(\"hello\"); } }\n" },
    Program { name: "java cpu", lang: Language::Java, source: "public class Main { public static void main(String[] a) { long s = 0; for (long i = 0; i < 100000000L; i++) s += i % 7; System.out.println(s); } }\n" },
];

/// A unique comment, so that no compile is ever served from a cache.
pub(super) fn unique(p: &Program) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let tag = format!("kennel-bench {} {n}", std::process::id());
    match p.lang {
        Language::Python => format!("# {tag}\n{}", p.source),
        _ => format!("// {tag}\n{}", p.source),
    }
}

/// Mean milliseconds per run of `n` runs of `f` spread over `clients` threads; NaN if any failed.
pub(super) fn timed(clients: usize, n: usize, f: impl Fn() -> Result<(), ()> + Sync) -> f64 {
    let failed = AtomicU64::new(0);
    let next = AtomicU64::new(0);
    let busy_ns = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                while (next.fetch_add(1, Ordering::Relaxed) as usize) < n {
                    let t = Instant::now();
                    if f().is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    busy_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    if failed.load(Ordering::Relaxed) > 0 {
        return f64::NAN;
    }
    busy_ns.load(Ordering::Relaxed) as f64 / n as f64 / 1e6
}

/// One run through Kennel: ask, send, decode; the result must be accepted.
pub(crate) fn kennel_run(
    addr: std::net::SocketAddr,
    lang: Language,
    source: String,
) -> Result<RunResult, ()> {
    let mut cfg = ClientConfig::new(addr);
    cfg.answer_timeout = Duration::from_secs(120);
    let sub = Submission {
        source: source.into_bytes(),
        ..Default::default()
    };
    let answer = Client::connect(cfg)
        .and_then(|mut c| c.request(lang.name(), &sub.encode()))
        .map_err(|_| ())?;
    let r = RunResult::decode(&answer.body).map_err(|_| ())?;
    (r.verdict == Verdict::Accepted).then_some(r).ok_or(())
}
