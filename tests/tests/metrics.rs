//! The Prometheus exposition (`kennelctl metrics`, `--metrics-addr`), read by a real parser of
//! the format: the Python `prometheus_client` library, in a virtualenv scripts/test.sh makes
//! (it skips and counts these `promparser_*` tests when it cannot install it).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use kennel_client::{Client, ClientConfig};
use kennel_tests::{wait_for, Instance};
use serde_json::Value;

/// Parses `text` with prometheus_client; returns {family: {type, samples: [[name, labels, value]]}}.
fn parse(text: &str) -> Value {
    let python =
        std::env::var("KENNEL_PROM_PYTHON").expect("KENNEL_PROM_PYTHON (scripts/test.sh sets it)");
    let script = r#"
import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn total(fams: &Value, family: &str, sample: &str) -> f64 {
    fams[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family}"))
        .iter()
        .filter(|s| s[0] == sample)
        .map(|s| s[2].as_f64().unwrap())
        .sum()
}

#[test]
fn promparser_metrics_parse_and_add_up_from_kennelctl_and_over_http() {
    let inst = Instance::start("metrics", 2, &["--metrics-addr", "127.0.0.1:0"]);
    let mut c = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    for _ in 0..5 {
        c.request("echo", b"x").unwrap();
    }
    wait_for("5 requests counted", Duration::from_secs(10), || {
        inst.status()["dispatcher"]["served"] == 5
    });
    let out = inst.kennelctl(&["metrics"]);
    assert!(out.status.success());
    let fams = parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        total(&fams, "kennel_worker_served", "kennel_worker_served_total"),
        5.0
    );
    assert_eq!(
        total(
            &fams,
            "kennel_dispatcher_dispatched",
            "kennel_dispatcher_dispatched_total"
        ),
        5.0
    );
    assert_eq!(fams["kennel_dispatch_seconds"]["type"], "histogram");
    assert_eq!(
        total(
            &fams,
            "kennel_dispatch_seconds",
            "kennel_dispatch_seconds_count"
        ),
        5.0
    );
    assert_eq!(
        total(&fams, "kennel_child_up", "kennel_child_up"),
        3.0,
        "dispatcher and 2 workers up"
    );
    assert_eq!(
        total(&fams, "kennel_pool_workers", "kennel_pool_workers"),
        2.0
    );

    // The same over HTTP, at the address the watchdog logged.
    let log = inst.log_text();
    let url = log
        .split("metrics on http://")
        .nth(1)
        .and_then(|r| r.split("/metrics").next())
        .expect("metrics address in the log");
    let mut s = TcpStream::connect(url).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200 OK") && head.contains("text/plain; version=0.0.4"),
        "{head}"
    );
    let fams = parse(body);
    assert_eq!(
        total(&fams, "kennel_worker_served", "kennel_worker_served_total"),
        5.0
    );
    let mut s = TcpStream::connect(url).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
}
