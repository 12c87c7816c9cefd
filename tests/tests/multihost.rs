//! Several hosts on one machine (`kennel_tools::lab`): three network namespaces on a bridge,
//! a Kennel node in each, HAProxy (contrib/haproxy/kennel.cfg) in a fourth, and clients in
//! this process sending requests through HAProxy's address. One whole node is SIGKILLed
//! while they run, then started again: HAProxy takes it out and back in, and the clients see
//! no failed request (their retries are counted and reported).
//!
//! Needs root, `ip` and `haproxy` (scripts/test.sh installs haproxy and iproute2 as root);
//! named `multihost_*` and `#[ignore]`d for an ordinary user, skipped and counted by test.sh
//! when a tool is missing. Namespaces, links and processes are removed even when it fails.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use kennel_client::{Client, ClientConfig};
use kennel_tests::{bin, wait_for};
use kennel_tools::lab::{self, Lab};

#[test]
#[ignore = "needs root (network namespaces); scripts/test.sh runs it as root"]
fn multihost_haproxy_routes_around_a_killed_node_and_takes_it_back() {
    if let Some(why) = lab::missing() {
        panic!("cannot build the lab: {why} (scripts/test.sh skips this test then)");
    }
    let bin_dir = bin("kennel-watchdog").parent().unwrap().to_path_buf();
    let mut lab = Lab::new(3, bin_dir).expect("lab");
    for k in 1..=3 {
        lab.start_node(k, None).expect("node");
    }
    lab.start_haproxy(&[1, 2, 3]).expect("haproxy");
    wait_for(
        "HAProxy to see every node up",
        Duration::from_secs(10),
        || (1..=3).all(|k| lab.is_up(k)),
    );
    let front = lab.front();
    let stop = AtomicBool::new(false);
    let (served, failed, retries) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let seen_node1_after_restart = AtomicBool::new(false);
    let restarted = AtomicBool::new(false);
    let node1 = lab.addr(1).to_string();
    let report = std::thread::scope(|s| {
        for i in 0..4 {
            let (stop, served, failed, retries) = (&stop, &served, &failed, &retries);
            let (seen, restarted, node1) = (&seen_node1_after_restart, &restarted, &node1);
            s.spawn(move || {
                let mut cfg = ClientConfig::new(front);
                cfg.request_attempts = 10;
                cfg.connect_attempts = 10;
                let mut c = Client::connect(cfg.clone()).expect("connect through haproxy");
                while !stop.load(SeqCst) {
                    let msg = format!("client {i}");
                    match c.request("echo", msg.as_bytes()) {
                        Ok(a) if a.body == msg.as_bytes() => {
                            served.fetch_add(1, SeqCst);
                            retries.fetch_add(u64::from(a.attempts - 1), SeqCst);
                            if restarted.load(SeqCst) && a.host.to_string() == *node1 {
                                seen.store(true, SeqCst);
                            }
                        }
                        Ok(_) | Err(_) => {
                            failed.fetch_add(1, SeqCst);
                        }
                    }
                    // A fresh control connection now and then, so HAProxy balances anew.
                    if served.load(SeqCst) % 50 == 0 {
                        if let Ok(n) = Client::connect(cfg.clone()) {
                            c = n;
                        }
                    }
                }
            });
        }
        // Let traffic flow, then kill node 1 outright.
        wait_for("traffic through haproxy", Duration::from_secs(10), || {
            served.load(SeqCst) > 200
        });
        let killed = Instant::now();
        lab.kill_node(1);
        wait_for(
            "HAProxy to take node 1 out",
            Duration::from_secs(10),
            || !lab.is_up(1),
        );
        let out_after = killed.elapsed();
        let served_at_kill = served.load(SeqCst);
        wait_for(
            "requests to go on without node 1",
            Duration::from_secs(10),
            || served.load(SeqCst) > served_at_kill + 200,
        );
        lab.start_node(1, None).expect("node 1 again");
        let back = Instant::now();
        wait_for(
            "HAProxy to take node 1 back",
            Duration::from_secs(15),
            || lab.is_up(1),
        );
        let in_after = back.elapsed();
        restarted.store(true, SeqCst);
        wait_for(
            "a client to be served by node 1 again",
            Duration::from_secs(20),
            || seen_node1_after_restart.load(SeqCst),
        );
        stop.store(true, SeqCst);
        (out_after, in_after)
    });
    let (out_after, in_after) = report;
    eprintln!(
        "multihost: {} served, {} failed, {} retries; node 1 out of rotation {:.0} ms after its death, back {:.0} ms after its start",
        served.load(SeqCst),
        failed.load(SeqCst),
        retries.load(SeqCst),
        out_after.as_secs_f64() * 1000.0,
        in_after.as_secs_f64() * 1000.0
    );
    assert_eq!(
        failed.load(SeqCst),
        0,
        "no request failed (retries allowed)"
    );
    assert!(served.load(SeqCst) > 400);
}
