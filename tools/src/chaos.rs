//! The chaos run: start an instance, keep C clients busy for T seconds while a killer sends
//! SIGKILL to a random child (dispatcher or worker) every K ms — and optionally freezes one
//! with SIGSTOP — then stop the instance and count what went wrong: failed requests, leaked
//! processes, leaked IPC objects, broken invariants.
//!
//! The killer only ever signals PIDs that `/proc` says are children of the watchdog it started,
//! never a bare PID read from shared memory.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kennel_common::clock::monotonic_ms;
use kennel_common::layout::ProcState;
use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::Snapshot;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::launch::{bin_dir, fresh_runtime_dir, launch};
use kennel_client::inspect::{parent_of, Inspector};
use kennel_client::{Client, ClientConfig};

#[derive(Debug, Clone)]
pub struct ChaosSettings {
    pub clients: usize,
    pub duration: Duration,
    pub kill_every: Duration,
    pub workers: usize,
    /// SIGSTOP one worker once, a third of the way in.
    pub freeze: bool,
    pub seed: u64,
    /// Where the instance's log goes (None: discarded).
    pub log: Option<PathBuf>,
}

#[derive(Debug, Default, Clone)]
pub struct ChaosReport {
    pub ok: u64,
    pub failed: u64,
    pub kills: u64,
    pub freezes: u64,
    pub restarts: u64,
    pub longest_gap_ms: u64,
    pub leaked_processes: Vec<u32>,
    pub leaked_ipc: Vec<String>,
    pub check_violations: Vec<String>,
    pub first_failures: Vec<String>,
}

impl ChaosReport {
    pub fn passed(&self) -> bool {
        self.failed == 0
            && self.leaked_processes.is_empty()
            && self.leaked_ipc.is_empty()
            && self.check_violations.is_empty()
    }

    pub fn text(&self, s: &ChaosSettings) -> String {
        let mut out = format!(
            "chaos: {} clients, {} s, SIGKILL every {} ms, {} workers{}\n",
            s.clients,
            s.duration.as_secs_f64(),
            s.kill_every.as_millis(),
            s.workers,
            if s.freeze { ", one worker frozen" } else { "" }
        );
        out += &format!("requests ok          {}\n", self.ok);
        out += &format!("requests failed      {}\n", self.failed);
        out += &format!("kills                {}\n", self.kills);
        out += &format!("freezes              {}\n", self.freezes);
        out += &format!("restarts             {}\n", self.restarts);
        out += &format!(
            "longest gap          {} ms without an answer\n",
            self.longest_gap_ms
        );
        out += &format!("leaked processes     {}\n", self.leaked_processes.len());
        out += &format!("leaked IPC objects   {}\n", self.leaked_ipc.len());
        out += &format!(
            "kennelctl check      {}\n",
            if self.check_violations.is_empty() {
                "ok".to_string()
            } else {
                self.check_violations.join("; ")
            }
        );
        for f in &self.first_failures {
            out += &format!("  failure: {f}\n");
        }
        out += if self.passed() { "PASS\n" } else { "FAIL\n" };
        out
    }

    pub fn json(&self) -> String {
        serde_json::json!({
            "passed": self.passed(),
            "ok": self.ok,
            "failed": self.failed,
            "kills": self.kills,
            "freezes": self.freezes,
            "restarts": self.restarts,
            "longest_gap_ms": self.longest_gap_ms,
            "leaked_processes": self.leaked_processes.len(),
            "leaked_ipc": self.leaked_ipc.len(),
            "check_violations": self.check_violations.len(),
        })
        .to_string()
    }
}

/// Runs the whole chaos experiment: an instance, clients against it, a killer, then the
/// settled instance checked and stopped, and whatever it left behind counted.
pub fn run(s: &ChaosSettings) -> Result<ChaosReport, String> {
    let dir = fresh_runtime_dir("chaos");
    let mut inst = start_instance(s, &dir)?;
    let watchdog_pid = inst.pid();
    let rt = RuntimeDir::resolve(Some(&dir));
    let inspector = Inspector::open(rt.clone()).map_err(|e| e.to_string())?;
    let shm_name = inspector.segment.name().to_string();
    let semid = inspector.segment.semid();

    let report = Arc::new(Mutex::new(ChaosReport::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let last_ok = Arc::new(AtomicU64::new(monotonic_ms()));
    let longest_gap = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..s.clients)
        .map(|i| {
            let (report, stop, last_ok, longest_gap) = (
                Arc::clone(&report),
                Arc::clone(&stop),
                Arc::clone(&last_ok),
                Arc::clone(&longest_gap),
            );
            let addr = inst.addr;
            std::thread::spawn(move || client_loop(i, addr, &stop, &report, &last_ok, &longest_gap))
        })
        .collect();
    let mut seen: BTreeSet<u32> = BTreeSet::new();
    kill_loop(s, &inspector, watchdog_pid, &report, &mut seen);
    stop.store(true, SeqCst);
    for c in clients {
        let _ = c.join();
    }
    let snap = settle(&inspector, &mut seen);
    let violations = inspector.check(&snap);
    let restarts: u64 = snap.records.iter().map(|r| u64::from(r.restarts)).sum();
    drop(inspector);

    let status = inst
        .stop(Duration::from_secs(20))
        .map_err(|e| e.to_string())?;
    let mut report = Arc::try_unwrap(report)
        .map_err(|_| "client threads still hold the report".to_string())?
        .into_inner()
        .map_err(|_| "a client thread panicked".to_string())?;
    report.restarts = restarts;
    report.longest_gap_ms = longest_gap.load(SeqCst);
    report.check_violations = violations
        .iter()
        .map(|v| format!("{} ({})", v.invariant, v.detail))
        .collect();
    if !status.success() {
        report
            .check_violations
            .push(format!("the watchdog exited with {status}"));
    }
    seen.insert(watchdog_pid);
    count_leaks(&mut report, &seen, &dir, &shm_name, semid);
    let _ = std::fs::remove_dir(&dir);
    Ok(report)
}

/// The chaos instance. It raises the crash-loop brake: the killer kills far faster than any
/// real fault would, and FATAL (tested on its own) would turn the experiment into a test of
/// the brake. Quick-death backoff stays on. Hangs are detected within 1 s.
fn start_instance(
    s: &ChaosSettings,
    dir: &std::path::Path,
) -> Result<crate::launch::Launched, String> {
    let stderr = match &s.log {
        Some(p) => Stdio::from(std::fs::File::create(p).map_err(|e| e.to_string())?),
        None => Stdio::null(),
    };
    let args: Vec<String> = [
        "--port",
        "0",
        "--worker-port-base",
        "0",
        "--workers",
        &s.workers.to_string(),
        "--max-restarts",
        "1000000",
        "--poll-interval",
        "500ms",
        "--client-timeout",
        "2s",
        "--queue-timeout",
        "3s",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let bins = bin_dir().map_err(|e| e.to_string())?;
    launch(&bins, dir, &args, stderr, Duration::from_secs(30)).map_err(|e| e.to_string())
}

/// Every `kill_every`, SIGKILL to a random child; once, a third of the way in, SIGSTOP to a
/// worker (a hang for the watchdog to find). Every pid seen is remembered in `seen`.
fn kill_loop(
    s: &ChaosSettings,
    inspector: &Inspector,
    watchdog_pid: u32,
    report: &Mutex<ChaosReport>,
    seen: &mut BTreeSet<u32>,
) {
    let mut rng = fastrand::Rng::with_seed(s.seed);
    let start = Instant::now();
    let mut froze = false;
    while start.elapsed() < s.duration {
        std::thread::sleep(s.kill_every);
        let snap = inspector.segment.snapshot();
        remember_pids(&snap, seen);
        let victims: Vec<u32> = live_children(&snap, watchdog_pid);
        if victims.is_empty() {
            continue;
        }
        let victim = victims[rng.usize(..victims.len())];
        if kill(Pid::from_raw(victim as i32), Signal::SIGKILL).is_ok() {
            report.lock().expect("report").kills += 1;
        }
        if s.freeze && !froze && start.elapsed() > s.duration / 3 {
            let workers: Vec<u32> = live_children(&snap, watchdog_pid)
                .into_iter()
                .filter(|p| *p != victim && Some(*p) != snap.dispatcher().pid())
                .collect();
            if let Some(p) = workers.first() {
                if kill(Pid::from_raw(*p as i32), Signal::SIGSTOP).is_ok() {
                    report.lock().expect("report").freezes += 1;
                    froze = true;
                }
            }
        }
    }
}

/// Waits for the system to settle (every child back and ready), at most 10 s. A record still
/// naming the last victim (killed an instant ago, not yet reaped) is not settled: its pid must
/// be alive too, or the check would race the watchdog's reaping.
fn settle(inspector: &Inspector, seen: &mut BTreeSet<u32>) -> Snapshot {
    let settle_deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = inspector.segment.snapshot();
        remember_pids(&snap, seen);
        let settled = snap.records.iter().all(|r| {
            matches!(r.state(), Some(ProcState::Idle))
                && !r.torn
                && r.pid().is_some_and(kennel_common::procfs::alive)
        });
        if settled || Instant::now() > settle_deadline {
            return snap;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the stopped instance left: processes still running with its runtime directory on
/// their command line, its segment, its semaphore, files in its directory.
fn count_leaks(
    report: &mut ChaosReport,
    seen: &BTreeSet<u32>,
    dir: &std::path::Path,
    shm_name: &str,
    semid: i32,
) {
    let marker = dir.display().to_string();
    report.leaked_processes = seen
        .iter()
        .copied()
        .filter(|p| kennel_common::procfs::cmdline(*p).is_some_and(|c| c.contains(&marker)))
        .collect();
    if std::path::Path::new(&format!("/dev/shm{shm_name}")).exists() {
        report.leaked_ipc.push(format!("shared memory {shm_name}"));
    }
    if kennel_common::sys::sem_stat(semid).is_ok() {
        report.leaked_ipc.push(format!("semaphore {semid}"));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            report
                .leaked_ipc
                .push(format!("file {}", e.path().display()));
        }
    }
}

fn remember_pids(snap: &Snapshot, seen: &mut BTreeSet<u32>) {
    seen.extend(snap.records.iter().filter_map(|r| r.pid()));
}

/// PIDs in the snapshot that /proc confirms are children of the watchdog.
fn live_children(snap: &Snapshot, watchdog_pid: u32) -> Vec<u32> {
    snap.records
        .iter()
        .filter_map(|r| r.pid())
        .filter(|p| parent_of(*p) == Some(watchdog_pid))
        .collect()
}

fn client_loop(
    i: usize,
    addr: SocketAddr,
    stop: &AtomicBool,
    report: &Mutex<ChaosReport>,
    last_ok: &AtomicU64,
    longest_gap: &AtomicU64,
) {
    // A patient client: up to 20 attempts, backoff from 10 ms doubling (the client caps the
    // doubling), so it rides out a dispatcher in backoff.
    let mut cfg = ClientConfig::new(addr);
    cfg.request_attempts = 20;
    cfg.connect_attempts = 10;
    cfg.backoff = Duration::from_millis(10);
    cfg.io_timeout = Duration::from_secs(5);
    let mut client: Option<Client> = None;
    let mut n = 0u64;
    while !stop.load(SeqCst) {
        n += 1;
        let c = match client.as_mut() {
            Some(c) => c,
            None => match Client::connect(cfg.clone()) {
                Ok(c) => client.insert(c),
                Err(e) => {
                    record_failure(report, format!("client {i}: {e}"));
                    continue;
                }
            },
        };
        let msg = format!("chaos client {i} request {n}");
        match c.request("echo", msg.as_bytes()) {
            Ok(a) if a.body == msg.as_bytes() => {
                report.lock().expect("report").ok += 1;
                let now = monotonic_ms();
                let prev = last_ok.swap(now, SeqCst);
                longest_gap.fetch_max(now.saturating_sub(prev), SeqCst);
            }
            Ok(a) => record_failure(
                report,
                format!(
                    "client {i}: wrong answer {:?}",
                    String::from_utf8_lossy(&a.body)
                ),
            ),
            Err(e) => record_failure(report, format!("client {i}: {e}")),
        }
    }
}

fn record_failure(report: &Mutex<ChaosReport>, what: String) {
    let mut r = report.lock().expect("report");
    r.failed += 1;
    if r.first_failures.len() < 5 {
        r.first_failures.push(what);
    }
}
