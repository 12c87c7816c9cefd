//! Kennel across hosts (`kennel_tools::lab`, root only): requests per second through HAProxy
//! with 1, 2 and 3 nodes, each node held to the same CPU quota so that adding one shows on a
//! 2-core machine; and the time from a node's SIGKILL to HAProxy taking it out of rotation.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::lab::{self, Lab};
use crate::launch::bin_dir;
use kennel_client::{Client, ClientConfig};

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub cpu_percent_per_node: u32,
    pub clients: usize,
    /// (nodes, requests per second), each the median of `rounds`.
    pub rps: Vec<(usize, f64)>,
    /// Milliseconds from the SIGKILL to HAProxy showing the node DOWN, per sample.
    pub failover_ms: Vec<f64>,
    pub errors: u64,
}

/// `seconds` of load per measure; `rounds` measures per node count.
pub fn run(
    cpu_percent: u32,
    clients: usize,
    seconds: f64,
    rounds: usize,
    say: impl Fn(&str),
) -> Result<Report, String> {
    if let Some(why) = lab::missing() {
        return Err(format!("the multi-host benchmark {why}"));
    }
    let mut lab = Lab::new(3, bin_dir().map_err(|e| e.to_string())?)?;
    for k in 1..=3 {
        lab.start_node(k, Some(cpu_percent))?;
    }
    let mut rps = Vec::new();
    let mut errors = 0;
    for n in 1..=3usize {
        let servers: Vec<usize> = (1..=n).collect();
        lab.start_haproxy(&servers)?;
        wait(|| servers.iter().all(|k| lab.is_up(*k)), "the nodes up")?;
        let mut samples = Vec::new();
        for _ in 0..rounds {
            let (r, e) = load(&lab, clients, Duration::from_secs_f64(seconds));
            samples.push(r);
            errors += e;
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let median = samples[samples.len() / 2];
        say(&format!(
            "{n} node(s) at {cpu_percent} % CPU each: {median:.0} requests/s"
        ));
        rps.push((n, median));
    }
    let mut failover_ms = Vec::new();
    for _ in 0..3 {
        lab.start_haproxy(&[1, 2, 3])?;
        wait(|| (1..=3).all(|k| lab.is_up(k)), "the nodes up")?;
        let t = Instant::now();
        lab.kill_node(1);
        wait(|| !lab.is_up(1), "node 1 out of rotation")?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        say(&format!("node killed -> out of rotation in {ms:.0} ms"));
        failover_ms.push(ms);
        lab.start_node(1, Some(cpu_percent))?;
    }
    Ok(Report {
        schema: "kennel-bench-multihost/1",
        cpu_percent_per_node: cpu_percent,
        clients,
        rps,
        failover_ms,
        errors,
    })
}

fn wait(cond: impl Fn() -> bool, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// `clients` threads of echo requests through HAProxy for `d`; requests per second, errors.
fn load(lab: &Lab, clients: usize, d: Duration) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let (done, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let front = lab.front();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                let Ok(mut c) = Client::connect(ClientConfig::new(front)) else {
                    failed.fetch_add(1, SeqCst);
                    return;
                };
                while !stop.load(SeqCst) {
                    match c.request("echo", b"32 bytes of payload, give or take") {
                        Ok(_) => done.fetch_add(1, SeqCst),
                        Err(_) => failed.fetch_add(1, SeqCst),
                    };
                }
            });
        }
        std::thread::sleep(d);
        stop.store(true, SeqCst);
    });
    let secs = started.elapsed().as_secs_f64();
    (done.load(SeqCst) as f64 / secs, failed.load(SeqCst))
}

pub fn table(r: &Report) -> String {
    let base = r.rps.first().map_or(1.0, |x| x.1);
    let mut t = format!(
        "nodes behind HAProxy, each at {} % of a CPU, {} clients:\n",
        r.cpu_percent_per_node, r.clients
    );
    for (n, rps) in &r.rps {
        t.push_str(&format!(
            "  {n} node(s): {rps:>8.0} requests/s   ×{:.2}\n",
            rps / base
        ));
    }
    let ms: Vec<String> = r.failover_ms.iter().map(|m| format!("{m:.0}")).collect();
    t.push_str(&format!(
        "node SIGKILLed -> out of HAProxy's rotation: {} ms\nerrors: {}\n",
        ms.join(", "),
        r.errors
    ));
    t
}
