//! `GET /config_info` and `GET /workers`: every field Judge0 1.13.1 documents, with Kennel's
//! real limits in Judge0's units (seconds, kilobytes), and the pool's queue and worker
//! counts. The limits here are the ones `submission::limits` checks against, so what a
//! client reads is what it is held to.

use axum::extract::State;
use axum::Json;
use kennel_common::layout::Supervision;
use serde::Serialize;

use super::languages::JUDGE0_VERSION;
use crate::settings::Settings;
use crate::state::AppState;

/// Most decompressed bytes `additional_files` may hold (Judge0's default, 10 MiB), and never
/// more than a worker takes.
pub fn max_extract_kib(s: &Settings) -> u64 {
    (10_240u64).min(s.worker.max_payload as u64 / 1024)
}

/// Kennel's limits, in Judge0's units.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    pub cpu_time_limit: f64,
    pub max_cpu_time_limit: f64,
    pub cpu_extra_time: f64,
    pub max_cpu_extra_time: f64,
    pub wall_time_limit: f64,
    pub max_wall_time_limit: f64,
    pub memory_limit: u64,
    pub max_memory_limit: u64,
    /// The stack is held by the memory limit (no separate limit): both are the memory's.
    pub stack_limit: u64,
    pub max_stack_limit: u64,
    /// Fixed for every run (`--max-processes`): default and maximum are the same.
    pub max_processes_and_or_threads: u64,
    pub max_max_processes_and_or_threads: u64,
    /// Fixed for every run (`--max-file-size`), in KB.
    pub max_file_size: u64,
    pub max_max_file_size: u64,
    pub number_of_runs: u32,
    pub max_number_of_runs: u32,
}

impl Limits {
    pub fn of(s: &Settings) -> Limits {
        let r = &s.worker.runner;
        let secs = |d: std::time::Duration| d.as_millis() as f64 / 1000.0;
        Limits {
            cpu_time_limit: secs(r.time_limit),
            max_cpu_time_limit: secs(r.time_limit_max),
            cpu_extra_time: 0.0,
            max_cpu_extra_time: 5.0,
            wall_time_limit: secs(r.wall_limit),
            max_wall_time_limit: secs(r.wall_limit_max),
            memory_limit: r.memory_limit / 1024,
            max_memory_limit: r.memory_limit_max / 1024,
            stack_limit: r.memory_limit / 1024,
            max_stack_limit: r.memory_limit_max / 1024,
            max_processes_and_or_threads: r.max_processes,
            max_max_processes_and_or_threads: r.max_processes,
            max_file_size: r.max_file_size / 1024,
            max_max_file_size: r.max_file_size / 1024,
            number_of_runs: 1,
            max_number_of_runs: r.max_tests.min(20),
        }
    }
}

#[derive(Serialize)]
struct ConfigInfo {
    maintenance_mode: bool,
    enable_wait_result: bool,
    enable_compiler_options: bool,
    allowed_languages_for_compile_options: Vec<String>,
    enable_command_line_arguments: bool,
    enable_submission_delete: bool,
    enable_callbacks: bool,
    callbacks_max_tries: u32,
    callbacks_timeout: f64,
    enable_additional_files: bool,
    max_queue_size: usize,
    #[serde(flatten)]
    limits: Limits,
    enable_per_process_and_thread_time_limit: bool,
    allow_enable_per_process_and_thread_time_limit: bool,
    enable_per_process_and_thread_memory_limit: bool,
    allow_enable_per_process_and_thread_memory_limit: bool,
    redirect_stderr_to_stdout: bool,
    max_extract_size: u64,
    enable_batched_submissions: bool,
    max_submission_batch_size: usize,
    submission_cache_duration: f64,
    use_docs_as_homepage: bool,
    allow_enable_network: bool,
    enable_network: bool,
}

/// How many times a callback is tried, and how long each try may take (seconds).
pub const CALLBACK_TRIES: u32 = 3;
pub const CALLBACK_TIMEOUT_S: f64 = 5.0;

/// `GET /config_info`.
pub async fn config_info(State(app): State<AppState>) -> Json<serde_json::Value> {
    let s = &app.settings;
    let doc = ConfigInfo {
        maintenance_mode: false,
        enable_wait_result: true,
        enable_compiler_options: true,
        allowed_languages_for_compile_options: Vec::new(),
        enable_command_line_arguments: true,
        enable_submission_delete: true,
        enable_callbacks: !s.gateway.http_callback_allow.is_empty(),
        callbacks_max_tries: CALLBACK_TRIES,
        callbacks_timeout: CALLBACK_TIMEOUT_S,
        enable_additional_files: true,
        max_queue_size: s.gateway.http_queue,
        limits: Limits::of(s),
        enable_per_process_and_thread_time_limit: false,
        allow_enable_per_process_and_thread_time_limit: false,
        enable_per_process_and_thread_memory_limit: false,
        allow_enable_per_process_and_thread_memory_limit: false,
        redirect_stderr_to_stdout: false,
        max_extract_size: max_extract_kib(s),
        enable_batched_submissions: true,
        max_submission_batch_size: crate::batch::MAX_BATCH,
        submission_cache_duration: 0.0,
        use_docs_as_homepage: false,
        allow_enable_network: false,
        enable_network: false,
    };
    Json(serde_json::to_value(doc).unwrap_or_default())
}

/// `GET /workers`: one queue (Kennel's), its waiting runs and the pool's workers.
pub async fn workers(State(app): State<AppState>) -> Json<serde_json::Value> {
    let snap = app.ctx.segment.snapshot();
    let running: Vec<_> = snap
        .workers()
        .iter()
        .filter(|r| r.supervision() == Some(Supervision::Running))
        .collect();
    let busy = running.iter().filter(|r| r.tasks > 0).count();
    let held = app.settings.gateway.http_queue - app.queue.available_permits();
    let size = held.saturating_sub(busy);
    Json(serde_json::json!([{
        "queue": JUDGE0_VERSION,
        "size": size,
        "available": running.len(),
        "idle": running.len() - busy,
        "working": busy,
        "paused": 0,
        "failed": snap.workers().len() - running.len(),
    }]))
}
