//! The HTTP gateway against hostile clients: slow and silent ones, ten thousand idle
//! connections, a flood of submissions. (Bad requests one by one are in `http.rs`.)

use std::time::{Duration, Instant};

use kennel_tests::http::{get, post_json};
use kennel_tests::{allow_fds, wait_for, Instance};
use serde_json::json;

#[test]
fn http_slow_and_silent_clients_are_cut_off_and_real_users_still_served() {
    let (inst, addr) = Instance::start_http("http-slow", &["--http-header-timeout", "1s"]);
    use std::io::{Read, Write};
    // Silent: connected, nothing sent. Slowloris: a header line, then nothing more.
    let mut silent = std::net::TcpStream::connect(addr).unwrap();
    let mut slow = std::net::TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // A body promised but trickled: the head arrives, the body never completes.
    let mut trickle = std::net::TcpStream::connect(addr).unwrap();
    trickle
        .write_all(b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"lang")
        .unwrap();
    // Meanwhile a real user is answered.
    assert_eq!(get(addr, "/api/v1/healthz").status, 200);
    let started = Instant::now();
    for s in [&mut silent, &mut slow, &mut trickle] {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut buf = Vec::new();
        // Closed by the gateway (EOF), perhaps after an error answer: never left open.
        s.read_to_end(&mut buf)
            .expect("the gateway closes the connection");
    }
    assert!(started.elapsed() < Duration::from_secs(14));
    assert_eq!(inst.status()["gateway"]["restarts"], 0);
}

#[test]
fn http_ten_thousand_idle_connections_and_real_users_still_served() {
    const IDLE: usize = 10_000;
    allow_fds(IDLE as u64 + 2_000);
    let (inst, addr) = Instance::start_http("http-10k", &["--http-header-timeout", "60s"]);
    let gateway = inst.status()["gateway"]["pid"].as_i64().unwrap() as i32;
    let before = kennel_common::procfs::rss_kib(gateway as u32).unwrap_or(0);
    let mut idle = Vec::with_capacity(IDLE);
    let t0 = Instant::now();
    for _ in 0..IDLE {
        idle.push(std::net::TcpStream::connect(addr).expect("connect an idle client"));
    }
    eprintln!("connected {IDLE} in {:?}", t0.elapsed());
    // Every one accepted: the gateway's connection count is what the kernel says it holds.
    wait_for(
        "the gateway to accept them all",
        Duration::from_secs(30),
        || {
            let n = std::fs::read_dir(format!("/proc/{gateway}/fd")).map_or(0, |d| d.count());
            n >= IDLE
        },
    );
    eprintln!("accepted {IDLE} in {:?}", t0.elapsed());
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(get(addr, "/api/v1/healthz").status, 200);
    }
    let per_request = started.elapsed() / 20;
    let rss = kennel_common::procfs::rss_kib(gateway as u32).unwrap_or(0);
    eprintln!(
        "gateway with {IDLE} idle connections: RSS {} KiB (was {before} KiB), a real request took {:.2} ms",
        rss,
        per_request.as_secs_f64() * 1000.0
    );
    assert!(
        rss < 256 * 1024,
        "RSS {rss} KiB with {IDLE} idle connections"
    );
    drop(idle);
    assert_eq!(inst.status()["gateway"]["restarts"], 0);
}

#[test]
fn sandbox_http_a_flood_of_submissions_meets_the_queue_bound_and_the_rate_limit() {
    let (inst, addr) =
        Instance::start_http("http-flood", &["--http-queue", "2", "--http-rate", "4"]);
    let sleeper = json!({"language": "python", "source": "import time\ntime.sleep(4)\n"});
    // Two runs hold the queue's two places…
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = post_json(addr, "/api/v1/runs", &sleeper);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    // …so the third is told to come back, and nothing more reaches a worker.
    let r = post_json(addr, "/api/v1/runs", &sleeper);
    assert_eq!((r.status, r.error_code().as_str()), (503, "no_capacity"));
    assert_eq!(r.header("retry-after"), Some("1"));
    // The same client keeps going: past its burst (8), 429 with Retry-After.
    let mut limited = None;
    for _ in 0..12 {
        let r = post_json(addr, "/api/v1/runs", &sleeper);
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 503);
    }
    let limited = limited.expect("the rate limit answered 429 within the burst");
    assert_eq!(limited.error_code(), "rate_limited");
    assert!(limited.header("retry-after").is_some());
    // The admitted runs finish; the others never reached a worker.
    for id in &ids {
        wait_for("an admitted run to finish", Duration::from_secs(30), || {
            get(addr, &format!("/api/v1/runs/{id}")).json()["status"] == "done"
        });
    }
    let status = inst.status();
    let served: u64 = (0..2)
        .map(|k| status["workers"][k]["served"].as_u64().unwrap())
        .sum();
    assert_eq!(served, 2, "only the two admitted runs reached the workers");
    assert_eq!(get(addr, "/api/v1/healthz").status, 200);
}
