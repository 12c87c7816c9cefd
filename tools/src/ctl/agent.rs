//! `kennelctl agent --listen ADDR:PORT`: HAProxy's agent check for one node. HAProxy connects
//! (`agent-check agent-port …` on a `server` line), reads one line and closes: `up` when the
//! node can serve — the watchdog holds the instance, the dispatcher runs and beats, at least
//! one worker runs (`common::health::serving`, what the gateway's /healthz says too) — else
//! `down`. Unlike `check --ready`, a node whose workers are all busy
//! stays `up`: busy is load, which HAProxy balances, not a failure to take out of rotation.
//!
//! Runs until killed; one connection at a time, each answered at once and closed (a silent or
//! slow checker costs one short write with a 1 s limit). The instance is read afresh for each
//! check: a node restarted (a new segment) is seen as soon as it is up.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use kennel_common::runtime::RuntimeDir;

use kennel_client::inspect::Inspector;
use kennel_client::status::WatchdogLiveness;

pub fn run(runtime: &RuntimeDir, listen: SocketAddr) -> i32 {
    let listener = match TcpListener::bind(listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kennelctl agent: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    eprintln!("kennelctl agent: answering HAProxy's agent checks on {listen}");
    for conn in listener.incoming() {
        let Ok(mut s) = conn else { continue };
        let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
        let line = match Inspector::open(runtime.clone()) {
            Ok(inspector) => answer(&inspector),
            Err(_) => "down #no instance in the runtime directory\n".into(),
        };
        let _ = s.write_all(line.as_bytes());
    }
    0
}

/// The agent's line: `up`, or `down` with the reason after `#` (shown in HAProxy's stats).
pub fn answer(inspector: &Inspector) -> String {
    let alive = inspector.watchdog_liveness() == WatchdogLiveness::Alive;
    match kennel_common::health::serving(&inspector.segment.snapshot(), alive) {
        Ok(_) => "up\n".into(),
        Err(why) => format!("down #{why}\n"),
    }
}
