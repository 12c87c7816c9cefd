//! `GET /api/v1/operator/settings`: the settings in force, as the operator's console shows
//! them (the assignment's server window: max tasks, the CPU cap, the pool's bounds, how limits
//! are held), read from the gateway's own flags (the watchdog gives every child the same) and
//! from the segment.

use serde::Serialize;

use crate::state::AppState;

/// A limit's default and the most a submission may ask.
#[derive(Serialize)]
pub struct Bound {
    default: u64,
    max: u64,
}

/// The three limits a submission may ask for, as the API shows them (`/languages` too).
pub struct Bounds {
    pub time_limit_ms: Bound,
    pub wall_limit_ms: Bound,
    pub memory_limit_kib: Bound,
}

impl Bounds {
    pub fn of(r: &kennel_runner::RunnerOptions) -> Bounds {
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        Bounds {
            time_limit_ms: Bound {
                default: ms(r.time_limit),
                max: ms(r.time_limit_max),
            },
            wall_limit_ms: Bound {
                default: ms(r.wall_limit),
                max: ms(r.wall_limit_max),
            },
            memory_limit_kib: Bound {
                default: r.memory_limit / 1024,
                max: r.memory_limit_max / 1024,
            },
        }
    }
}

#[derive(Serialize)]
pub struct PoolBounds {
    min: u32,
    max: u32,
    active: usize,
    slots: usize,
}

#[derive(Serialize)]
pub struct SettingsDoc {
    max_tasks: u32,
    cpu_max_percent: u32,
    time_limit_ms: Bound,
    wall_limit_ms: Bound,
    memory_limit_kib: Bound,
    compile_time_limit_ms: u64,
    max_processes: u64,
    max_output_bytes: u64,
    sandbox_pool: u32,
    warm_toolchains: String,
    pool: PoolBounds,
    enforcement: kennel_common::limits_mode::Summary,
    http_rate: u32,
    http_queue: usize,
}

/// The document.
pub fn document(app: &AppState) -> SettingsDoc {
    let w = &app.settings.worker;
    let r = &w.runner;
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    let snap = app.ctx.segment.snapshot();
    let b = Bounds::of(r);
    SettingsDoc {
        max_tasks: w.max_tasks,
        cpu_max_percent: r.cpu_max,
        time_limit_ms: b.time_limit_ms,
        wall_limit_ms: b.wall_limit_ms,
        memory_limit_kib: b.memory_limit_kib,
        compile_time_limit_ms: ms(r.compile_time_limit),
        max_processes: r.max_processes,
        max_output_bytes: r.max_output,
        sandbox_pool: r.sandbox_pool,
        warm_toolchains: r.warm_toolchains.clone(),
        pool: PoolBounds {
            min: snap.pool.min,
            max: snap.pool.max,
            active: snap.active_workers(),
            slots: snap.workers().len(),
        },
        enforcement: enforcement(&snap),
        http_rate: app.settings.gateway.http_rate,
        http_queue: app.settings.gateway.http_queue,
    }
}

/// One process's use of the machine, for the console's charts: CPU ticks of it and everything
/// it started (a worker's sandboxes count), and its resident memory.
#[derive(Serialize)]
pub struct ProcessUse {
    process: String,
    pid: u32,
    cpu_ticks: u64,
    rss_kib: u64,
}

/// `GET /api/v1/operator/usage`: each running process's CPU ticks (the client turns two
/// readings into a percentage) and memory, and the clock tick rate.
#[derive(Serialize)]
pub struct Usage {
    ticks_per_second: u64,
    processes: Vec<ProcessUse>,
}

pub fn usage(app: &AppState) -> Usage {
    use kennel_common::segment::RecordId;
    let snap = app.ctx.segment.snapshot();
    let pids: Vec<u32> = snap.records.iter().filter_map(|r| r.pid()).collect();
    let ticks = kennel_common::procfs::tree_cpu_ticks(&pids);
    let processes = snap
        .records
        .iter()
        .filter_map(|r| {
            let pid = r.pid()?;
            let process = match r.id {
                RecordId::Dispatcher => "dispatcher".to_string(),
                RecordId::Gateway => "gateway".to_string(),
                RecordId::Worker(k) => format!("worker {k}"),
            };
            Some(ProcessUse {
                process,
                pid,
                cpu_ticks: *ticks.get(&pid)?,
                rss_kib: kennel_common::procfs::rss_kib(pid).unwrap_or(0),
            })
        })
        .collect();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |v| v as u64);
    Usage {
        ticks_per_second: hz,
        processes,
    }
}

/// How the first running worker holds runs to their limits.
pub fn enforcement(snap: &kennel_common::segment::Snapshot) -> kennel_common::limits_mode::Summary {
    use kennel_common::layout::Supervision;
    use kennel_common::limits_mode::LimitsMode;
    snap.workers()
        .iter()
        .filter(|r| r.supervision() == Some(Supervision::Running) && r.capacity > 0)
        .map(|r| LimitsMode::decode(r.limits))
        .next()
        .unwrap_or(LimitsMode::UNKNOWN)
        .summary()
}
