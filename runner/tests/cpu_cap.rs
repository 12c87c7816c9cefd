//! `--cpu-max`, measured: in a test binary of its own, so that no other test of the suite
//! competes for the CPU while it measures a share of it (cargo runs test binaries one at a
//! time).

mod common;

use common::{run, runner_with, usable};
use kennel_runner::{Language, RunnerOptions, Verdict};

#[test]
#[ignore = "needs root: the CPU cap is a cgroup quota (cgroup v1 here); scripts/test.sh runs it as root"]
fn sandbox_cpu_max_caps_a_busy_loop_within_ten_percent() {
    let r = runner_with(RunnerOptions {
        cpu_max: 50,
        time_limit: std::time::Duration::from_secs(5),
        ..Default::default()
    });
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    assert_ne!(
        r.limits_mode().kind,
        kennel_common::limits_mode::Kind::Budget,
        "{}",
        r.describe()
    );
    // Busy for 2 s of wall time, whatever share of a CPU it gets.
    let src = "#include <time.h>\nint main(void){ struct timespec s, n; clock_gettime(CLOCK_MONOTONIC, &s);\n\
               volatile long x = 0; do { for (int i = 0; i < 100000; i++) x++; clock_gettime(CLOCK_MONOTONIC, &n); }\n\
               while ((n.tv_sec - s.tv_sec) + (n.tv_nsec - s.tv_nsec) / 1e9 < 2.0); return 0; }\n";
    let res = run(&r, Language::C, src);
    assert_eq!(res.verdict, Verdict::Accepted, "{res:?}");
    let share = res.cpu_ms as f64 / 2000.0;
    eprintln!(
        "--cpu-max 50: {} ms of CPU in 2 s of wall time: {:.1} %",
        res.cpu_ms,
        share * 100.0
    );
    assert!(
        (share - 0.5).abs() <= 0.05,
        "CPU share {share:.3} not within 10 % of the 50 % cap"
    );
}

#[test]
#[ignore = "needs root: the CPU cap is a cgroup quota (cgroup v1 here); scripts/test.sh runs it as root"]
fn sandbox_the_default_cpu_max_is_one_cpu_for_a_many_threaded_program() {
    let r = runner_with(RunnerOptions {
        time_limit: std::time::Duration::from_secs(5),
        ..Default::default()
    });
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    // Two threads busy for 1.5 s of wall time each: two CPUs' worth without a cap.
    let src = "#include <pthread.h>\n#include <time.h>\n\
               static void *spin(void *a){ struct timespec s, n; clock_gettime(CLOCK_MONOTONIC, &s);\n\
               volatile long x = 0; do { for (int i = 0; i < 100000; i++) x++; clock_gettime(CLOCK_MONOTONIC, &n); }\n\
               while ((n.tv_sec - s.tv_sec) + (n.tv_nsec - s.tv_nsec) / 1e9 < 1.5); return a; }\n\
               int main(void){ pthread_t t; pthread_create(&t, 0, spin, 0); spin(0); pthread_join(t, 0); return 0; }\n";
    let res = run(&r, Language::C, src);
    assert_eq!(res.verdict, Verdict::Accepted, "{res:?}");
    let cpus = res.cpu_ms as f64 / res.wall_ms.max(1) as f64;
    eprintln!(
        "--cpu-max 100 (default), two busy threads: {} ms of CPU in {} ms of wall time: {cpus:.2} CPUs",
        res.cpu_ms, res.wall_ms
    );
    assert!(cpus <= 1.1, "{cpus:.2} CPUs used under a one-CPU cap");
}
