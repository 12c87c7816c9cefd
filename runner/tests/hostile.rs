//! Hostile programs, each with the verdict it must get, and after each: nothing left behind
//! (no process carrying the run's marker argument, no cgroup of the run).

mod common;

use std::time::Duration;

use common::{runner_with, usable};
use kennel_runner::{Language, RunResult, Runner, RunnerOptions, Submission, TimeKind, Verdict};

fn opts() -> RunnerOptions {
    RunnerOptions {
        wall_limit: Duration::from_secs(2),
        compile_time_limit: Duration::from_secs(2),
        ..Default::default()
    }
}

/// Runs `source` with a unique marker as its first argument, then checks that no process
/// carrying the marker survived the run and that the runner's cgroups hold no run.
fn hostile(r: &Runner, lang: Language, source: &str) -> RunResult {
    hostile_with(r, lang, source, None)
}

/// `hostile` with a wall limit of its own (`opts()` allows at most 30 s).
fn hostile_with(r: &Runner, lang: Language, source: &str, wall_ms: Option<u64>) -> RunResult {
    let marker = format!("kennel-marker-{}-{}", std::process::id(), fastrand::u64(..));
    let sub = Submission {
        source: source.as_bytes().to_vec(),
        args: vec![marker.clone().into_bytes()],
        wall_limit_ms: wall_ms,
        ..Default::default()
    };
    let res = r.run(lang, &sub, 0).expect("acceptable submission");
    let survivors: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok().map(|c| (e, c)))
        .filter(|(_, c)| c.windows(marker.len()).any(|w| w == marker.as_bytes()))
        .map(|(e, _)| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(survivors.is_empty(), "processes left behind: {survivors:?}");
    let runs_left = r.cgroup_runs();
    assert!(runs_left.is_empty(), "cgroups left behind: {runs_left:?}");
    res
}

const C_FORK_BOMB: &str = "#include <unistd.h>\nint main(void){ for(;;) fork(); }\n";

#[test]
fn sandbox_a_fork_bomb_is_stopped_and_leaves_nothing() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    let res = hostile(&r, Language::C, C_FORK_BOMB);
    assert_eq!(res.verdict, Verdict::TimeLimit, "{res:?}");
}

#[test]
fn sandbox_loops_and_sleeps_hit_the_cpu_and_the_wall_limit() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    // A wall limit far above the CPU limit: on a loaded machine 1 s of CPU can take longer
    // than the default 2 s of wall time, and this is about the CPU limit.
    let spin = hostile_with(
        &r,
        Language::C,
        "int main(void){ for(;;); }\n",
        Some(20_000),
    );
    assert_eq!(
        (spin.verdict, spin.time_limit),
        (Verdict::TimeLimit, Some(TimeKind::Cpu)),
        "{spin:?}"
    );
    // rusage under-counts against RLIMIT_CPU under load: the verdict rests on SIGXCPU.
    assert_eq!(spin.signal, Some(24), "SIGXCPU: {spin:?}");
    let sleep = hostile(
        &r,
        Language::C,
        "#include <unistd.h>\nint main(void){ for(;;) pause(); }\n",
    );
    assert_eq!(
        (sleep.verdict, sleep.time_limit),
        (Verdict::TimeLimit, Some(TimeKind::Wall)),
        "{sleep:?}"
    );
    assert!(sleep.summary_line().contains("time limit (wall)"));
}

#[test]
fn sandbox_a_gigabyte_allocation_is_a_memory_limit_where_cgroups_count_it() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    // Every page written and read back, so the compiler cannot elide the allocation.
    let src = "#include <stdio.h>\n#include <stdlib.h>\nint main(void){ char *p = malloc(1L<<30);\n\
               if (!p) return 42; long s = 0; for (long i = 0; i < (1L<<30); i += 4096) p[i] = (char)i;\n\
               for (long i = 0; i < (1L<<30); i += 4096) s += p[i]; printf(\"%ld\\n\", s); return 0; }\n";
    let res = hostile(&r, Language::C, src);
    if r.limits_mode().kind == kennel_common::limits_mode::Kind::Budget {
        // rlimits only: the allocation is refused and the program says so its own way.
        eprintln!("without cgroups: {}", res.summary_line());
        assert_eq!(
            (res.verdict, res.exit_code),
            (Verdict::RuntimeError, Some(42)),
            "{res:?}"
        );
    } else {
        assert_eq!(res.verdict, Verdict::MemoryLimit, "{res:?}");
    }
    let py = hostile(
        &r,
        Language::Python,
        "b = b'x' * (1 << 30)\nprint(len(b))\n",
    );
    assert_ne!(py.verdict, Verdict::Accepted, "{py:?}");
    assert_ne!(py.verdict, Verdict::InternalError, "{py:?}");
}

#[test]
fn sandbox_floods_of_output_and_huge_files_are_output_limits() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::Python) else {
        return;
    };
    let out = hostile(
        &r,
        Language::Python,
        "import sys\nwhile True: sys.stdout.write('x' * 65536)\n",
    );
    assert_eq!(out.verdict, Verdict::OutputLimit, "{out:?}");
    assert!(out.stdout_truncated);
    assert_eq!(out.stdout.len() as u64, RunnerOptions::default().max_output);
    let file = hostile(
        &r,
        Language::Python,
        "f = open('big', 'wb')\nfor _ in range(1024): f.write(b'x' * (1 << 20))\n",
    );
    assert_eq!(file.verdict, Verdict::OutputLimit, "{file:?}");
    assert!(file.message.contains("a file over"), "{file:?}");
}

#[test]
fn sandbox_the_sandbox_sees_nothing_of_kennel_or_the_host() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::Python) else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let here = std::env::temp_dir();
    let probe = format!(
        r#"
import os, socket, signal
def attempt(name, f):
    try:
        f(); print(name, "ALLOWED")
    except Exception as e:
        print(name, "denied")
def connect():
    s = socket.create_connection(("127.0.0.1", {port}), timeout=1)
attempt("write /usr", lambda: open("/usr/kennel-escape", "w"))
attempt("write /etc", lambda: open("/etc/kennel-escape", "w"))
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt("list host tmp", lambda: os.listdir("{tmp}") and None if os.listdir("{tmp}") else (_ for _ in ()).throw(OSError()))
attempt("list /dev/shm", lambda: os.listdir("/dev/shm") and None if os.listdir("/dev/shm") else (_ for _ in ()).throw(OSError()))
attempt("connect to a host port", connect)
attempt("kill the host's init", lambda: os.kill({host_pid}, signal.SIGKILL))
"#,
        port = port,
        tmp = here.display(),
        host_pid = std::process::id(),
    );
    let res = hostile(&r, Language::Python, &probe);
    let text = String::from_utf8_lossy(&res.stdout);
    assert_eq!(res.verdict, Verdict::Accepted, "{res:?}");
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(!text.contains("ALLOWED"), "{text}");
}

#[test]
fn sandbox_killing_everything_it_can_see_harms_only_itself() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    let src = "#include <signal.h>\n#include <stdio.h>\n#include <unistd.h>\n\
               int main(void){ kill(-1, SIGKILL); kill(getppid(), SIGKILL); kill(1, SIGKILL);\n\
               puts(\"still here\"); return 0; }\n";
    let res = hostile(&r, Language::C, src);
    assert_eq!(
        (res.verdict, res.stdout.as_slice()),
        (Verdict::Accepted, &b"still here\n"[..]),
        "{res:?}"
    );
}

#[test]
fn sandbox_children_that_leave_are_killed_with_the_run() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    let src = "#include <unistd.h>\n#include <stdio.h>\nint main(void){\n\
               if (fork() == 0) { setsid(); if (fork() == 0) { for(;;) pause(); } return 0; }\n\
               puts(\"parent done\"); return 0; }\n";
    let res = hostile(&r, Language::C, src);
    assert_eq!(res.verdict, Verdict::Accepted, "{res:?}");
}

#[test]
fn sandbox_bytes_that_are_not_utf8_pass_through() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    let mut src = b"#include <stdio.h>\nint main(void){ fputs(\"".to_vec();
    src.extend_from_slice(b"\xff\xfe\\n");
    src.extend_from_slice(b"\", stdout); return 0; } /* \xc3\x28 */\n");
    let sub = Submission {
        source: src,
        ..Default::default()
    };
    let res = r.run(Language::C, &sub, 0).unwrap();
    assert_eq!(
        (res.verdict, res.stdout.as_slice()),
        (Verdict::Accepted, &b"\xff\xfe\n"[..]),
        "{res:?}"
    );
    let Some(()) = usable(&r, Language::Python) else {
        return;
    };
    let py = Submission {
        source: b"print('x') # \xff\n".to_vec(),
        ..Default::default()
    };
    let res = r.run(Language::Python, &py, 0).unwrap();
    assert_eq!(res.verdict, Verdict::RuntimeError, "{res:?}");
}

#[test]
fn sandbox_a_compile_that_never_ends_is_a_compile_error() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::Cpp) else {
        return;
    };
    let src = "constexpr long f() { long x = 0; for (long i = 0; i < 200000; i++)\n\
               for (long j = 0; j < 200000; j++) x += j ^ i; return x; }\n\
               static_assert(f() != 1, \"\");\nint main() {}\n";
    let res = hostile(&r, Language::Cpp, src);
    assert_eq!(res.verdict, Verdict::CompileError, "{res:?}");
    assert!(res.message.contains("stopped at its limit"), "{res:?}");
}

#[test]
fn sandbox_java_without_main_is_a_runtime_error() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::Java) else {
        return;
    };
    let res = hostile(
        &r,
        Language::Java,
        "public class Main { static int x = 1; }\n",
    );
    assert_eq!(res.verdict, Verdict::RuntimeError, "{res:?}");
    assert!(
        String::from_utf8_lossy(&res.stderr).contains("main"),
        "{res:?}"
    );
}

#[test]
fn sandbox_the_program_starts_with_no_signal_blocked() {
    let r = runner_with(opts());
    let Some(()) = usable(&r, Language::Python) else {
        return;
    };
    // A runner in a thread whose signals are blocked, as in a worker (signalfd).
    let res = std::thread::scope(|s| {
        s.spawn(|| {
            let mut all = nix::sys::signal::SigSet::all();
            all.remove(nix::sys::signal::Signal::SIGKILL);
            all.thread_block().unwrap();
            hostile(
                &r,
                Language::Python,
                "import signal\nprint(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))\n",
            )
        })
        .join()
        .unwrap()
    });
    assert_eq!(String::from_utf8_lossy(&res.stdout), "[]\n");
}
