//! The baselines of the program runner's benchmark (`runner.rs`): the bare program, the same
//! steps by hand (`prlimit … bwrap …`, and as root the same sandbox: cgroups and uid), and
//! the sandbox's cost layer by layer.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kennel_runner::language::Toolchains;
use kennel_runner::{Language, Runner, RunnerOptions, Submission, Verdict};

use super::programs::{timed, unique, Program, PROGRAMS};
use crate::launch::bin_dir;

/// The bare program, compiled once outside any sandbox.
pub(super) struct Bare {
    argv: Vec<String>,
    dir: PathBuf,
}

impl Bare {
    pub(super) fn run(&self) -> bool {
        Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// The runner's view of a one-file program (its file names, entry and commands).
fn as_program(lang: Language, source: &[u8]) -> Result<kennel_runner::program::Program, String> {
    let sub = Submission {
        source: source.to_vec(),
        ..Default::default()
    };
    kennel_runner::program::Program::from_submission(lang, &sub)
}

pub(super) fn bare_prepare(tools: &Toolchains, p: &Program, dir: &Path) -> Result<Bare, String> {
    std::fs::create_dir_all(dir.join("out")).map_err(|e| e.to_string())?;
    let name = p.lang.source_name(p.source.as_bytes());
    std::fs::write(dir.join(&name), p.source).map_err(|e| e.to_string())?;
    let rp = as_program(p.lang, p.source.as_bytes()).map_err(|e| format!("{}: {e}", p.name))?;
    let compile_kib = RunnerOptions::default().compile_memory_limit / 1024;
    if let Some(cc) = tools.compile_command(&rp, compile_kib) {
        let ok = Command::new(&cc[0])
            .args(&cc[1..])
            .current_dir(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("compiling {} outside the sandbox failed", p.name));
        }
    }
    let mut argv = tools.run_command(&rp, 256 << 10).ok_or("no run command")?;
    let run_dir = if p.lang.compiled() {
        dir.join("out")
    } else {
        dir.to_path_buf()
    };
    if argv[0] == "./prog" {
        argv[0] = run_dir.join("prog").display().to_string();
    }
    Ok(Bare { argv, dir: run_dir })
}

/// The sandbox flags a person would type: the same namespaces and mounts as Kennel's.
fn bwrap_by_hand(work: &Path) -> Vec<String> {
    let mut a: Vec<String> = ["--unshare-all", "--die-with-parent", "--new-session"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(kennel_runner::sandbox::system_view(
        &kennel_runner::sandbox::etc_paths(),
    ));
    a.extend(["--tmpfs".into(), "/tmp".into()]);
    a.extend([
        "--bind".into(),
        work.display().to_string(),
        "/work".into(),
        "--chdir".into(),
        "/work".into(),
    ]);
    a
}

/// (b): `prlimit … bwrap …` to compile, then to run, in a fresh directory; with `same`, as
/// root, in a memory and a pids cgroup and as uid 65534 (b').
pub(super) fn by_hand(
    tools: &Toolchains,
    p: &Program,
    opts: &RunnerOptions,
    scratch: &Path,
    same: bool,
) -> Result<(), ()> {
    static N: AtomicU64 = AtomicU64::new(0);
    let work = scratch.join(format!("hand-{}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(work.join("out")).map_err(|_| ())?;
    let source = unique(p);
    let name = p.lang.source_name(source.as_bytes());
    std::fs::write(work.join(&name), &source).map_err(|_| ())?;
    if same {
        // The sandbox runs as uid 65534, as Kennel's do: it must be able to write its output.
        for p in [work.clone(), work.join("out"), work.join(&name)] {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).map_err(|_| ())?;
        }
    }
    let limits = [
        format!("--cpu={}", opts.time_limit.as_secs().max(1)),
        format!("--fsize={}", opts.max_file_size),
        format!("--nofile={}", opts.max_open_files),
        format!("--nproc={}", 4096),
    ];
    let root = same;
    let step = |argv: &[String], memory: bool| -> bool {
        let mut cmd = Command::new("prlimit");
        cmd.args(&limits);
        if memory && !root {
            cmd.arg(format!("--as={}", opts.memory_limit));
        }
        cmd.arg("bwrap")
            .args(bwrap_by_hand(&work))
            .arg("--")
            .args(argv);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let cgroups = if root {
            HandCgroups::new(opts.memory_limit)
        } else {
            None
        };
        let setup = kennel_common::sys::ChildSetup {
            fds: vec![],
            cgroup_procs: cgroups.as_ref().map(HandCgroups::procs).unwrap_or_default(),
            drop_to: root.then_some((65534, 65534)),
            parent_death: None,
        };
        if kennel_common::sys::prepare_child(&mut cmd, setup).is_err() {
            return false;
        }
        cmd.status().is_ok_and(|s| s.success())
    };
    let mut ok = true;
    let rp = as_program(p.lang, source.as_bytes()).map_err(|_| ())?;
    if let Some(cc) = tools.compile_command(&rp, opts.compile_memory_limit / 1024) {
        ok = step(&cc, false);
    }
    if ok {
        let mut run = tools.run_command(&rp, opts.memory_limit / 1024).ok_or(())?;
        if p.lang.compiled() && run[0] == "./prog" {
            run[0] = "out/prog".into();
        } else if p.lang == Language::Java {
            let cp = run.iter().position(|a| a == "-cp").ok_or(())?;
            run[cp + 1] = "out".into();
        }
        ok = step(&run, p.lang != Language::Java);
    }
    let _ = std::fs::remove_dir_all(&work);
    ok.then_some(()).ok_or(())
}

/// As root, the memory and pids cgroups a careful person would put the sandbox in (as Kennel
/// does), removed on drop.
struct HandCgroups {
    dirs: Vec<PathBuf>,
}

impl HandCgroups {
    fn new(memory: u64) -> Option<HandCgroups> {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let mut g = HandCgroups { dirs: Vec::new() };
        for c in ["memory", "pids"] {
            let d = PathBuf::from(format!(
                "/sys/fs/cgroup/{c}/kennel-bench-{}-{n}",
                std::process::id()
            ));
            std::fs::create_dir(&d).ok()?;
            g.dirs.push(d);
        }
        std::fs::write(g.dirs[0].join("memory.limit_in_bytes"), memory.to_string()).ok()?;
        std::fs::write(g.dirs[1].join("pids.max"), "68").ok()?;
        Some(g)
    }

    fn procs(&self) -> Vec<std::os::fd::OwnedFd> {
        self.dirs
            .iter()
            .filter_map(|d| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("cgroup.procs"))
                    .ok()
            })
            .map(Into::into)
            .collect()
    }
}

impl Drop for HandCgroups {
    fn drop(&mut self) {
        for d in &self.dirs {
            let until = Instant::now() + Duration::from_secs(2);
            while std::fs::remove_dir(d).is_err() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// What the sandbox costs, layer by layer, for a C hello world already compiled: the bare
/// binary; bwrap with only `--ro-bind / /`; with the namespaces; with Kennel's mounts.
pub(super) fn layers(
    tools: &Toolchains,
    scratch: &Path,
    n: usize,
) -> Result<Vec<(String, f64)>, String> {
    let p = &PROGRAMS[2];
    let dir = scratch.join("layers");
    let bare = bare_prepare(tools, p, &dir)?;
    let prog = bare.argv[0].clone();
    let bwrap = |extra: Vec<String>| -> Result<(), ()> {
        Command::new("bwrap")
            .args(extra)
            .arg("--")
            .arg(&prog)
            .stdout(Stdio::null())
            .status()
            .map_err(|_| ())?
            .success()
            .then_some(())
            .ok_or(())
    };
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut out = vec![(
        "bare binary".to_string(),
        timed(1, n, || bare.run().then_some(()).ok_or(())),
    )];
    out.push((
        "bwrap, host root bound".into(),
        timed(1, n, || bwrap(s(&["--ro-bind", "/", "/"]))),
    ));
    out.push((
        "+ all namespaces".into(),
        timed(1, n, || bwrap(s(&["--unshare-all", "--ro-bind", "/", "/"]))),
    ));
    out.push((
        "+ Kennel's mounts (/usr, /proc, /dev, tmpfs)".into(),
        timed(1, n, || {
            let mut a = bwrap_by_hand(&dir);
            a.extend(s(&["--ro-bind", &prog, &prog]));
            bwrap(a)
        }),
    ));
    let runner = Runner::new(
        RunnerOptions::default(),
        bin_dir().map_err(|e| e.to_string())?.join("kennel-run"),
        &scratch.join("layers-cache"),
    );
    let sub = Submission {
        source: p.source.as_bytes().to_vec(),
        ..Default::default()
    };
    // Compiled once, then run from the cache: the run step alone.
    let _ = runner.run(Language::C, &sub, 0);
    out.push((
        "+ kennel-run, memfds, rlimits (the run step; cgroups as root)".into(),
        timed(1, n, || match runner.run(Language::C, &sub, 0) {
            Ok(r) if r.verdict == Verdict::Accepted && r.cached_compile => Ok(()),
            _ => Err(()),
        }),
    ));
    Ok(out)
}
