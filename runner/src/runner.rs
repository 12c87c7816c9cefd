//! The runner: what it found on the host, its cgroups and compile cache, and its two
//! primitives: compile a program in the sandbox (or take the cached archive), and run one
//! sandboxed step. `grade.rs` puts them together into `Runner::run`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cache::CompileCache;
use crate::cgroup::{Cgroups, Place, RunLimits};
use crate::execute::{Input, JobIo, StepOutput};
use crate::facts::Report;
use crate::language::{Language, Toolchains};
use crate::limits::Limits;
use crate::outcome::{RunResult, Verdict};
use crate::pool::{Keep, Maker, Pool};
use crate::prefork::Handoff;
use crate::program::Program;
use crate::sandbox::{job_args, Shape, StepSpec};
use crate::verdict::{judge, Evidence};
use crate::RunnerOptions;

/// What a JVM needs beyond its heap (`-Xmx`): code cache, metaspace, threads' stacks.
pub(crate) const JVM_ROOM: u64 = 192 << 20;

/// Where Debian installs bubblewrap.
pub const BWRAP: &str = "/usr/bin/bwrap";

/// A worker's program runner: what it found on the host, its settings, its sandbox pool.
#[derive(Debug)]
pub struct Runner {
    pub(crate) opts: RunnerOptions,
    pub(crate) tools: Toolchains,
    cache: Option<CompileCache>,
    pub(crate) pool: Pool,
}

impl Runner {
    /// `helper` is the `kennel-run` binary; `cache_dir` the instance's compile cache.
    pub fn new(opts: RunnerOptions, helper: PathBuf, cache_dir: &Path) -> Runner {
        let bwrap = Some(PathBuf::from(BWRAP)).filter(|p| p.is_file());
        let cache = match CompileCache::open(cache_dir, opts.compile_cache) {
            Ok(c) => Some(c),
            Err(e) => {
                log::warn!(
                    "compile cache {} unusable, compiling every time: {e}",
                    cache_dir.display()
                );
                None
            }
        };
        let root = nix::unistd::geteuid().is_root();
        let tools = Toolchains::discover();
        let warm = crate::warm::open_default(&opts, &tools, cache_dir);
        let maker = Maker::new(
            bwrap,
            helper,
            root.then_some((opts.sandbox_user, opts.sandbox_user)),
            Place::choose(opts.cgroup.as_deref(), root),
            tools.clone(),
            warm,
        );
        Runner {
            tools,
            cache,
            pool: Pool::new(maker, pool_kinds(&opts)),
            opts,
        }
    }

    /// Keeps up to `runs` sandboxes for runs when they come back from runs (a worker's
    /// runs at once), so a burst wider than `--sandbox-pool` makes its extra sandboxes once,
    /// not at every burst. None with `--sandbox-pool 0`.
    pub fn with_capacity(mut self, runs: usize) -> Runner {
        if self.opts.sandbox_pool > 0 {
            self.pool.retain_up_to(runs);
        }
        self
    }

    pub fn offers(&self, lang: Language) -> bool {
        let m = self.pool.maker();
        m.bwrap.is_some() && m.helper.is_file() && self.tools.offers(lang)
    }

    /// Starts making sandboxes in advance (a worker calls it once it serves: its restart is
    /// not slowed by it). The first run does it too.
    pub fn warm(&self) {
        if self.offers_any() {
            self.pool.warm();
        }
    }

    fn offers_any(&self) -> bool {
        Language::ALL.iter().any(|&l| self.offers(l))
    }

    /// This worker's cgroups, set up at the first call (after the worker is ready, so a
    /// restart is not slowed by it).
    pub(crate) fn cgroups(&self) -> Option<&Cgroups> {
        self.pool.maker().cgroups()
    }

    /// How runs are held to their limits: the cgroups in use once set up, else what setting
    /// them up would give.
    pub fn limits_mode(&self) -> kennel_common::limits_mode::LimitsMode {
        match self.pool.maker().cgroups_made() {
            Some(Some(c)) => c.mode(),
            Some(None) => kennel_common::limits_mode::LimitsMode::BUDGET,
            None => self.pool.maker().place().mode(),
        }
    }

    /// Cgroups of runs that exist now, besides those of the sandboxes waiting in the pool
    /// (between runs: none). Waits for the pool's thread to remove finished runs' first.
    pub fn cgroup_runs(&self) -> Vec<PathBuf> {
        if !self.pool.settle(Duration::from_secs(10)) {
            log::warn!("the sandbox pool did not settle within 10 s");
        }
        let waiting = self.pool.waiting_cgroups();
        self.cgroups()
            .map(Cgroups::runs)
            .unwrap_or_default()
            .into_iter()
            .filter(|d| !waiting.contains(d))
            .collect()
    }

    /// How many sandboxes wait, made in advance.
    pub fn sandboxes_ready(&self) -> usize {
        self.pool.ready()
    }

    /// The program's archive after compiling (or from the cache); `None` when the compile
    /// failed, with `result` saying why.
    pub(crate) fn compiled(
        &self,
        program: &Program,
        limits: &Limits,
        result: &mut RunResult,
    ) -> Option<Vec<u8>> {
        let source = program.archive();
        let Some(mut command) = self
            .tools
            .compile_command(program, limits.for_compile().memory_kib)
        else {
            return Some(source);
        };
        if let Some(w) = &self.pool.maker().warm {
            w.add_flags(program, &mut command);
        }
        let lang = program.language;
        let key = CompileCache::key(lang, &self.tools.compiler_identity(lang), &command, &source);
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(&key)) {
            result.cached_compile = true;
            return Some(with_data(program, hit));
        }
        let step = StepSpec {
            command,
            limits: limits.for_compile(),
            address_space: self.cgroups().is_none() && lang != Language::Java,
            pack_out: true,
            runtime_room: 0,
            memory_budget: self.cgroups().is_none(),
        };
        let out = match self.step(&step, Input::Bytes(b""), None, &source) {
            Ok((out, _)) => out,
            Err(e) => {
                *result = internal(result.clone(), e);
                return None;
            }
        };
        match (&out.report, out.killed) {
            (Some(Report::Ran(f)), None) if f.exit == Some(0) && !out.packed.is_empty() => {
                if let Some(c) = &self.cache {
                    c.put(&key, &out.packed);
                }
                Some(with_data(program, out.packed))
            }
            (Some(Report::NotStarted(why)), _) => {
                *result = internal(result.clone(), why.clone());
                None
            }
            (None, None) => {
                let (_, _, why) = judge(&out, &step.limits, Evidence::default());
                *result = internal(result.clone(), why);
                None
            }
            (report, killed) => {
                compile_failed(result, &out, report.as_ref(), killed, &step.limits);
                None
            }
        }
    }

    /// One sandboxed step, in a sandbox of its own (from the pool, or made now) and its own
    /// cgroup where cgroups are usable. Returns its output and the OOM kills counted there.
    pub(crate) fn step(
        &self,
        step: &StepSpec,
        stdin: Input<'_>,
        stdout: Option<OwnedFd>,
        archive: &[u8],
    ) -> Result<(StepOutput, u64), String> {
        let limits = RunLimits::of(&step.limits, step.runtime_room);
        let args = job_args(step);
        let job = JobIo {
            args: &args,
            stdin,
            stdout,
            archive,
            wall: Duration::from_millis(step.limits.wall_ms),
            output_cap: step.limits.output,
            pack: step.pack_out,
        };
        let shape = step.shape();
        let mut pooled = self.pool.take(shape);
        let (mut out, left) = loop {
            let fresh = pooled.is_none();
            let mut sandbox = match pooled.take() {
                Some(s) => s,
                None => self.pool.maker().make(shape, &limits)?,
            };
            if let Err(e) = sandbox.limit(&limits) {
                sandbox.end();
                return Err(e);
            }
            match sandbox.run(&job) {
                Ok(done) => break done,
                // Killed while it waited (by someone else): once more, in a new one.
                Err(Handoff::Stale(why)) if !fresh => {
                    log::warn!("a sandbox from the pool was gone: {why}");
                }
                Err(Handoff::Stale(why) | Handoff::Failed(why)) => {
                    return Err(format!("starting the sandbox: {why}"))
                }
            }
        };
        let oom = left.cgroup.as_ref().map_or(0, |(c, _)| c.oom_kills());
        let peak = left.cgroup.as_ref().and_then(|(c, _)| c.peak_kib());
        self.pool.retire(left);
        // The kernel's figure of the whole run, where it keeps one (v2's memory.peak).
        if let (Some(p), Some(Report::Ran(f))) = (peak, out.report.as_mut()) {
            f.peak_kib = f.peak_kib.max(p);
        }
        Ok((out, oom))
    }
}

/// What the pool keeps ready: `--sandbox-pool` sandboxes for runs with the default limits, and
/// one for compiles (a compile's own time dwarfs what the pool saves it).
fn pool_kinds(opts: &RunnerOptions) -> Vec<Keep> {
    let Ok(run) = crate::limits::limits_for(opts, &crate::Submission::default()) else {
        return Vec::new();
    };
    let compile = run.for_compile();
    let n = opts.sandbox_pool as usize;
    vec![
        Keep {
            shape: Shape {
                file_size: run.file_size,
            },
            limits: RunLimits::of(&run, 0),
            count: n,
            retain: n,
        },
        Keep {
            shape: Shape {
                file_size: compile.file_size,
            },
            limits: RunLimits::of(&compile, 0),
            count: n.min(1),
            retain: n.min(1),
        },
    ]
}

/// What a failed compile tells: the compiler's words, and whether a limit stopped it.
fn compile_failed(
    result: &mut RunResult,
    out: &StepOutput,
    report: Option<&Report>,
    killed: Option<crate::execute::Kill>,
    limits: &Limits,
) {
    let mut said = out.stdout.clone();
    said.extend_from_slice(&out.stderr);
    result.verdict = Verdict::CompileError;
    result.compile_output = said;
    // The compiler's processes (cc1plus) are the driver's children: their SIGXCPU reaches us
    // as the driver's report ("CPU time limit exceeded", strsignal of the signal that killed
    // cc1plus: the toolchain's fact, not the program's), and as CPU time, which rusage
    // under-counts against RLIMIT_CPU under load (measured: 1.8 s for a 2 s limit on a
    // loaded 2-core VM).
    let cpu_ms = match report {
        Some(Report::Ran(f)) => f.cpu_us / 1000,
        _ => 0,
    };
    result.cpu_ms = cpu_ms;
    result.wall_ms = out.wall.as_millis() as u64;
    if killed == Some(crate::execute::Kill::Output) {
        result.message = format!(
            "the compiler's output was cut at {} KiB",
            limits.output / 1024
        );
        return;
    }
    let timed_out = killed.is_some()
        || cpu_ms >= limits.cpu_ms
        || (cpu_ms >= limits.cpu_ms * 8 / 10
            && String::from_utf8_lossy(&out.stderr).contains("CPU time limit exceeded"));
    if timed_out {
        result.message = format!(
            "the compile was stopped at its limit ({} s cpu, {} s wall)",
            limits.cpu_ms / 1000,
            limits.wall_ms / 1000
        );
    }
}

pub(crate) fn internal(mut r: RunResult, why: String) -> RunResult {
    log::error!("internal error running a {} program: {why}", r.language);
    r.verdict = Verdict::InternalError;
    r.message = why;
    r
}

/// A compiled program's archive with the program's data files beside the compiler's output
/// (a name the compiler wrote is kept as the compiler wrote it).
fn with_data(program: &Program, packed: Vec<u8>) -> Vec<u8> {
    let data = program.data_files();
    if data.is_empty() {
        return packed;
    }
    let made: Vec<String> = crate::archive::unpack(&packed)
        .map(|e| e.into_iter().map(|e| e.name).collect())
        .unwrap_or_default();
    let extra: Vec<crate::archive::Entry> = data
        .into_iter()
        .filter(|d| !made.contains(&d.name))
        .collect();
    crate::archive::with(&packed, &extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_it_cannot_run_is_refused_as_unavailable() {
        let dir =
            std::env::temp_dir().join(format!("kennel-runner-unavailable-{}", std::process::id()));
        let r = Runner::new(
            RunnerOptions::default(),
            PathBuf::from("/nonexistent/kennel-run"),
            &dir,
        );
        assert_eq!(r.offer_bits(), 0);
        let sub = crate::Submission {
            source: b"print(1)".to_vec(),
            ..Default::default()
        };
        let e = r.run(Language::Python, &sub, 0).unwrap_err();
        assert!(e.starts_with("language unavailable: python ("), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
