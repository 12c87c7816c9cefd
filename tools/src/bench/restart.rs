//! Restart latency: `kill -9` of a worker → its replacement accepting connections, measured on
//! a real instance, against a floor measured in the same run: the time to spawn the worker
//! binary and see it exit (`kennel-worker --version`), which no restart can beat.
//!
//! "Accepting" is read from the slot: a worker publishes its endpoint (state idle, new pid)
//! only after `listen()`, so the first snapshot showing both is the first instant a client
//! could connect. Each victim has run at least 1.1 s, so no restart is slowed by the
//! quick-death backoff: this measures the reaction, not the brake.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kennel_common::layout::ProcState;
use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::RecordId;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::launch::{bin_dir, fresh_runtime_dir, launch};
use kennel_client::inspect::Inspector;
use kennel_client::{Client, ClientConfig};

/// Percentile `p` (0–100) of sorted samples, nearest rank (the default value when empty).
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[derive(Debug, Clone)]
pub struct RestartReport {
    pub samples: Vec<Duration>,
    pub spawn_floor: Vec<Duration>,
}

impl RestartReport {
    pub fn p(&self, q: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        percentile(&s, q)
    }

    pub fn floor_p50(&self) -> Duration {
        let mut s = self.spawn_floor.clone();
        s.sort();
        percentile(&s, 50.0)
    }

    pub fn text(&self) -> String {
        let (p50, p99, floor) = (self.p(50.0), self.p(99.0), self.floor_p50());
        format!(
            "restart latency (kill -9 of a worker -> replacement accepting), {} samples\n\
             p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   (targets: p50 <= 5 ms, p99 <= 30 ms)\n\
             floor: spawn of kennel-worker --version until exit, p50 {:.2} ms\n\
             ratio restart p50 / floor p50: {:.2}\n",
            self.samples.len(),
            ms(p50),
            ms(p99),
            ms(self.p(100.0)),
            ms(floor),
            ms(p50) / ms(floor).max(1e-9)
        )
    }

    /// Its fields of the JSON reports (`restart_*`, `spawn_floor_p50_ms`).
    pub fn json_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let serde_json::Value::Object(m) = serde_json::json!({
            "restart_p50_ms": ms(self.p(50.0)),
            "restart_p99_ms": ms(self.p(99.0)),
            "restart_max_ms": ms(self.p(100.0)),
            "spawn_floor_p50_ms": ms(self.floor_p50()),
            "restart_samples": self.samples.len(),
        }) else {
            return serde_json::Map::new();
        };
        m
    }
}

/// Measures `samples` restarts on an instance of `workers` workers started with `extra` flags.
pub fn measure(samples: usize, workers: usize, extra: &[&str]) -> Result<RestartReport, String> {
    let bins = bin_dir().map_err(|e| e.to_string())?;
    let dir = fresh_runtime_dir("bench-restart");
    // Each worker is killed about once a second: raise the crash-loop brake (5 deaths in 10 s
    // would make it FATAL) — the brake has its own test; here we measure the reaction.
    let args: Vec<String> = [
        "--port",
        "0",
        "--worker-port-base",
        "0",
        "--max-restarts",
        "1000000",
        "--workers",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([workers.to_string()])
    .chain(extra.iter().map(|s| s.to_string()))
    .collect();
    let mut inst = launch(&bins, &dir, &args, Stdio::null(), Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let inspector = Inspector::open(RuntimeDir::resolve(Some(&dir))).map_err(|e| e.to_string())?;
    let seg = &inspector.segment;

    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = RecordId::Worker(i % workers);
        // Wait for the victim to be idle and to have run long enough (no backoff).
        let ready_deadline = Instant::now() + Duration::from_secs(10);
        let victim = loop {
            let v = seg.read(id);
            let age = kennel_common::clock::monotonic_ms().saturating_sub(v.started_ms);
            if v.state() == Some(ProcState::Idle) && age >= 1100 {
                if let Some(pid) = v.pid() {
                    break pid;
                }
            }
            if Instant::now() > ready_deadline {
                return Err(format!("{id} did not settle"));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let t0 = Instant::now();
        kill(Pid::from_raw(victim as i32), Signal::SIGKILL).map_err(|e| e.to_string())?;
        loop {
            let v = seg.read(id);
            if v.pid() != Some(victim) && v.state() == Some(ProcState::Idle) && v.endpoint.is_some()
            {
                break;
            }
            if t0.elapsed() > Duration::from_secs(10) {
                return Err(format!("{id} was not replaced within 10 s"));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        out.push(t0.elapsed());
    }
    // The replacements really serve.
    let mut client = Client::connect(ClientConfig::new(inst.addr)).map_err(|e| e.to_string())?;
    for _ in 0..workers {
        client
            .request("echo", b"after the restarts")
            .map_err(|e| e.to_string())?;
    }
    drop(inspector);
    inst.stop(Duration::from_secs(20))
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir(&dir);

    let mut floor = Vec::with_capacity(samples);
    for _ in 0..samples.max(5) {
        let t0 = Instant::now();
        let status = Command::new(bins.join("kennel-worker"))
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        floor.push(t0.elapsed());
        if !status.success() {
            return Err("kennel-worker --version failed".into());
        }
    }
    Ok(RestartReport {
        samples: out,
        spawn_floor: floor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<Duration> = (1..=20).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(10));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(20));
        assert_eq!(percentile(&s, 0.0), Duration::from_millis(1));
        assert_eq!(percentile::<Duration>(&[], 50.0), Duration::ZERO);
    }
}
