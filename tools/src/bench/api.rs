//! The HTTP API's cost: a Python and a C hello world through the gateway
//! (`POST /api/v1/runs?wait=true`, one connection per run, as `curl` would) against the same
//! runs through kennel-client's library (what `kennel-client run` does), at 1 and 8 clients,
//! interleaved, in the same run on the same instance. Every source is unique, so no compile
//! is served from the cache. Target: the API costs at most 10 % more at C=8, 0 errors.

use std::net::SocketAddr;
use std::time::Duration;

use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, Segment};
use kennel_runner::{RunResult, Submission, Verdict};
use serde::Serialize;

use super::programs::{timed, unique, Program, PROGRAMS};
use crate::launch::launch_for_bench;
use kennel_client::{Client, ClientConfig};

/// One (program, clients) row: mean milliseconds per run.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub program: String,
    pub clients: usize,
    pub client_ms: f64,
    pub api_ms: f64,
    pub api_over_client: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub rows: Vec<Row>,
    pub errors: u64,
}

/// Runs `rounds` interleaved rounds of `runs` runs per cell (at least one per client).
pub fn run(runs: usize, rounds: usize, say: impl Fn(&str)) -> Result<Report, String> {
    // One client address sends every request here: the per-client limit is not measured.
    let kennel = launch_for_bench(
        "bench-api",
        &[
            "--workers",
            "2",
            "--max-tasks",
            "4",
            "--http",
            "127.0.0.1:0",
            "--http-rate",
            "100000",
        ],
    )?;
    let http = Segment::attach(
        &RuntimeDir::resolve(Some(&kennel.runtime_dir)),
        Access::ReadOnly,
    )
    .map_err(|e| e.to_string())?
    .snapshot()
    .gateway()
    .endpoint
    .ok_or("the gateway published no address")?;
    let mut rows = Vec::new();
    let mut errors = 0;
    let hellos = PROGRAMS
        .iter()
        .filter(|p| matches!(p.name, "python hello" | "c hello"));
    for p in hellos {
        for clients in [1usize, 8] {
            let n = runs.max(clients);
            let (mut client_ms, mut api_ms) = (0.0, 0.0);
            for _ in 0..rounds {
                client_ms += timed(clients, n, || by_client(kennel.addr, p));
                api_ms += timed(clients, n, || by_api(http, p));
            }
            let (client_ms, api_ms) = (client_ms / rounds as f64, api_ms / rounds as f64);
            if client_ms.is_nan() || api_ms.is_nan() {
                errors += 1;
                say(&format!("{} C={clients}: a run failed", p.name));
            }
            let row = Row {
                program: p.name.to_string(),
                clients,
                client_ms,
                api_ms,
                api_over_client: api_ms / client_ms,
            };
            say(&format!(
                "{:<12} C={:<2} kennel-client {:>7.1} ms  HTTP API {:>7.1} ms  api/client {:.3}",
                row.program, clients, client_ms, api_ms, row.api_over_client
            ));
            rows.push(row);
        }
    }
    drop(kennel);
    Ok(Report {
        schema: "kennel-bench-api/1",
        rows,
        errors,
    })
}

/// One run as `kennel-client run` makes it: connect, ask, send, decode; accepted.
fn by_client(addr: SocketAddr, p: &Program) -> Result<(), ()> {
    let mut cfg = ClientConfig::new(addr);
    cfg.answer_timeout = Duration::from_secs(120);
    let sub = Submission {
        source: unique(p).into_bytes(),
        language: Some(p.lang),
        ..Default::default()
    };
    let answer = Client::connect(cfg)
        .and_then(|mut c| c.request(p.lang.name(), &sub.encode()))
        .map_err(|_| ())?;
    let r = RunResult::decode(&answer.body).map_err(|_| ())?;
    (r.verdict == Verdict::Accepted).then_some(()).ok_or(())
}

/// The same run through the HTTP API: one POST, the finished run in the answer; accepted.
fn by_api(addr: SocketAddr, p: &Program) -> Result<(), ()> {
    let body = serde_json::json!({"language": p.lang.name(), "source": unique(p)});
    let r = crate::http::try_post_json(addr, "/api/v1/runs?wait=true", &body).map_err(|_| ())?;
    if r.status != 200 {
        return Err(());
    }
    let doc: serde_json::Value = serde_json::from_slice(&r.body).map_err(|_| ())?;
    (doc["result"]["verdict"] == "accepted")
        .then_some(())
        .ok_or(())
}

/// The report for people.
pub fn table(r: &Report) -> String {
    let mut t = String::from("program       C   kennel-client ms   HTTP API ms   api/client\n");
    for row in &r.rows {
        t.push_str(&format!(
            "{:<12} {:>2}   {:>16.1}   {:>11.1}   {:>10.3}\n",
            row.program, row.clients, row.client_ms, row.api_ms, row.api_over_client
        ));
    }
    t.push_str(&format!("errors: {}\n", r.errors));
    t
}
