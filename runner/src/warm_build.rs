//! Building the warm toolchain files (`warm.rs`) on the pool's thread, once the pool is full:
//! each one a compile in a sandbox like any other, its output stored by the worker.

use crate::archive;
use crate::cgroup::RunLimits;
use crate::execute::{Input, JobIo};
use crate::facts::Report;
use crate::limits::Limits;
use crate::maker::Maker;
use crate::sandbox::{job_args, StepSpec};
use crate::warm::Artifact;

/// Builds the next missing file, if there is one and no other process is building: `None`
/// when there was nothing to do here.
/// `running` gets the pid of the build's sandbox (bwrap) before it runs, and `None` before it is
/// reaped (until then the pid cannot name another process), so a pool that stops can end a
/// build instead of waiting seconds for it.
pub fn build_next(
    maker: &Maker,
    running: &dyn Fn(Option<u32>),
) -> Option<Result<Artifact, String>> {
    let warm = maker.warm.as_ref()?;
    warm.missing().first()?;
    let _building = warm.lock()?;
    // Another builder may have finished meanwhile.
    let next = warm.missing().into_iter().next()?;
    Some(build(maker, &next, running).map(|bytes| {
        if let Err(e) = warm.store(&next, &bytes) {
            log::warn!("storing {next:?}: {e}");
        }
        next
    }))
}

/// The limits of a build: a compile's, with room for a precompiled `bits/stdc++.h` (~100 MB).
fn limits() -> Limits {
    let mut l = crate::limits::limits_for(&crate::RunnerOptions::default(), &Default::default())
        .map(|l| l.for_compile())
        .unwrap_or_else(|_| unreachable_defaults());
    l.file_size = 256 << 20;
    l.cpu_ms = 60_000;
    l.wall_ms = 120_000;
    l
}

/// The default options always give limits; this only keeps the build from panicking if not.
fn unreachable_defaults() -> Limits {
    Limits {
        cpu_ms: 60_000,
        wall_ms: 120_000,
        memory_kib: 1 << 20,
        processes: 128,
        open_files: 256,
        file_size: 256 << 20,
        output: 64 << 10,
        cpu_percent: 100,
        compile_ms: 60_000,
        compile_memory_kib: 1 << 20,
    }
}

/// Compiles `a` in a sandbox: the bytes of the file it made.
fn build(maker: &Maker, a: &Artifact, running: &dyn Fn(Option<u32>)) -> Result<Vec<u8>, String> {
    let (command, files) = a
        .recipe(&maker.tools)
        .ok_or("the toolchain or its header is missing")?;
    let limits = limits();
    let step = StepSpec {
        command,
        limits,
        address_space: false,
        pack_out: true,
        runtime_room: 0,
        memory_budget: maker.cgroups().is_none(),
    };
    let sandbox = maker.make(step.shape(), &RunLimits::of(&limits, 0))?;
    let args = job_args(&step);
    let archive = archive::pack(&files);
    let job = JobIo {
        args: &args,
        stdin: Input::Bytes(b""),
        stdout: None,
        archive: &archive,
        wall: std::time::Duration::from_millis(limits.wall_ms),
        output_cap: limits.output,
        pack: true,
    };
    running(Some(sandbox.pid()));
    let ran = sandbox.run(&job);
    running(None);
    let (out, left) = ran.map_err(|e| format!("{e:?}"))?;
    left.finish(false);
    match &out.report {
        Some(Report::Ran(f)) if f.exit == Some(0) => {}
        other => {
            return Err(format!(
                "{other:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
    archive::unpack(&out.packed)?
        .into_iter()
        .find(|e| e.name.starts_with("made."))
        .map(|e| e.data)
        .ok_or_else(|| "the compiler made nothing".into())
}
