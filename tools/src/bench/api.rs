//! The HTTP API's cost: a Python and a C hello world through the gateway
//! (`POST /api/v1/runs?wait=true`, one connection per run, as `curl` would) against the same
//! runs through kennel-client's library (what `kennel-client run` does), and through the
//! compatibility layers — Judge0's `POST /submissions?wait=true` and Piston's
//! `POST /api/v2/execute` — at 1 and 8 clients, interleaved, in the same run on the same
//! instance. Every source is unique, so no compile is served from the cache. Targets: the
//! API costs at most 10 % more than kennel-client at C=8; Judge0's and Piston's routes at
//! most 5 % more than `/api/v1`; 0 errors.

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
    pub judge0_ms: f64,
    pub piston_ms: f64,
    pub judge0_over_api: f64,
    pub piston_over_api: f64,
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
            let mut ms = [0.0f64; 4];
            for _ in 0..rounds {
                ms[0] += timed(clients, n, || by_client(kennel.addr, p));
                ms[1] += timed(clients, n, || by_api(http, p));
                ms[2] += timed(clients, n, || by_judge0(http, p));
                ms[3] += timed(clients, n, || by_piston(http, p));
            }
            let [client_ms, api_ms, judge0_ms, piston_ms] = ms.map(|m| m / rounds as f64);
            if ms.iter().any(|m| m.is_nan()) {
                errors += 1;
                say(&format!("{} C={clients}: a run failed", p.name));
            }
            let row = Row {
                program: p.name.to_string(),
                clients,
                client_ms,
                api_ms,
                api_over_client: api_ms / client_ms,
                judge0_ms,
                piston_ms,
                judge0_over_api: judge0_ms / api_ms,
                piston_over_api: piston_ms / api_ms,
            };
            say(&format!(
                "{:<12} C={:<2} kennel-client {:>7.1} ms  /api/v1 {:>7.1} ms  Judge0 {:>7.1} ms  Piston {:>7.1} ms  api/client {:.3}  judge0/api {:.3}  piston/api {:.3}",
                row.program, clients, client_ms, api_ms, judge0_ms, piston_ms, row.api_over_client,
                row.judge0_over_api, row.piston_over_api
            ));
            rows.push(row);
        }
    }
    drop(kennel);
    Ok(Report {
        schema: "kennel-bench-api/2",
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

/// The same run through Judge0's route: language id, `wait=true`, status 3 (Accepted).
fn by_judge0(addr: SocketAddr, p: &Program) -> Result<(), ()> {
    let id = match p.lang {
        kennel_runner::Language::C => 50,
        kennel_runner::Language::Cpp => 54,
        kennel_runner::Language::Java => 62,
        kennel_runner::Language::Python => 71,
    };
    let body = serde_json::json!({"language_id": id, "source_code": unique(p)});
    let r = crate::http::try_post_json(addr, "/submissions?wait=true", &body).map_err(|_| ())?;
    if r.status != 201 {
        return Err(());
    }
    let doc: serde_json::Value = serde_json::from_slice(&r.body).map_err(|_| ())?;
    (doc["status"]["id"] == 3).then_some(()).ok_or(())
}

/// The same run through Piston's route: any version, exit code 0.
fn by_piston(addr: SocketAddr, p: &Program) -> Result<(), ()> {
    let lang = match p.lang {
        kennel_runner::Language::Cpp => "c++",
        l => l.name(),
    };
    let body =
        serde_json::json!({"language": lang, "version": "*", "files": [{"content": unique(p)}]});
    let r = crate::http::try_post_json(addr, "/api/v2/execute", &body).map_err(|_| ())?;
    if r.status != 200 {
        return Err(());
    }
    let doc: serde_json::Value = serde_json::from_slice(&r.body).map_err(|_| ())?;
    (doc["run"]["code"] == 0).then_some(()).ok_or(())
}

/// The report for people.
pub fn table(r: &Report) -> String {
    let mut t = String::from(
        "program       C   kennel-client ms   /api/v1 ms   Judge0 ms   Piston ms   api/client   judge0/api   piston/api\n",
    );
    for row in &r.rows {
        t.push_str(&format!(
            "{:<12} {:>2}   {:>16.1}   {:>10.1}   {:>9.1}   {:>9.1}   {:>10.3}   {:>10.3}   {:>10.3}\n",
            row.program,
            row.clients,
            row.client_ms,
            row.api_ms,
            row.judge0_ms,
            row.piston_ms,
            row.api_over_client,
            row.judge0_over_api,
            row.piston_over_api
        ));
    }
    t.push_str(&format!("errors: {}\n", r.errors));
    t
}
