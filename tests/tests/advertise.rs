//! One node of several, on one host: `--advertise` makes line answers name the node
//! (`ADDR PORT`), and `--proxy-protocol` makes the dispatcher take the client a PROXY header
//! names (what HAProxy's `send-proxy` sends), so the worker admits the real client, not the
//! proxy. (The multi-host test, with network namespaces and HAProxy, is `multihost.rs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kennel_tests::{connect_from, Instance};

fn line(s: &TcpStream) -> String {
    let mut l = String::new();
    BufReader::new(s).read_line(&mut l).unwrap();
    l
}

#[test]
fn an_advertised_node_names_itself_and_kennel_client_follows() {
    let inst = Instance::start("advertise", 2, &["--advertise", "127.0.0.1"]);
    let mut s = TcpStream::connect(inst.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"echo\n").unwrap();
    let answer = line(&s);
    let (host, port) = answer.trim().split_once(' ').expect("ADDR PORT");
    assert_eq!(host, "127.0.0.1");
    assert!(port.parse::<u16>().is_ok(), "{answer:?}");
    // A bare request keeps its bare port (the assignment's clients parse an integer).
    s.write_all(b"requetetype1").unwrap();
    let mut bare = [0u8; 16];
    let n = s.read(&mut bare).unwrap();
    assert!(std::str::from_utf8(&bare[..n])
        .unwrap()
        .parse::<u16>()
        .is_ok());
    let mut c =
        kennel_client::Client::connect(kennel_client::ClientConfig::new(inst.addr)).unwrap();
    assert_eq!(
        c.request("echo", b"over there").unwrap().body,
        b"over there"
    );
}

#[test]
fn behind_a_proxy_the_worker_admits_the_client_the_header_names() {
    let inst = Instance::start(
        "proxy-protocol",
        1,
        &["--advertise", "127.0.0.1", "--proxy-protocol"],
    );
    // The "proxy" is 127.0.0.1; the client it relays is 127.0.0.2.
    let mut s = TcpStream::connect(inst.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"PROXY TCP4 127.0.0.2 127.0.0.1 40000 2222\r\necho\n")
        .unwrap();
    let answer = line(&s);
    let port: u16 = answer.trim().split(' ').nth(1).unwrap().parse().unwrap();
    let worker = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // The proxy's own address is not the client's: refused.
    let mut wrong = TcpStream::connect(worker).unwrap();
    wrong
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    wrong.write_all(b"hello\n").unwrap();
    let mut got = String::new();
    let _ = wrong.read_to_string(&mut got);
    assert!(got.starts_with("ERR"), "{got:?}");
    // The client the header named is admitted.
    let mut right = connect_from([127, 0, 0, 2], worker);
    right.write_all(b"hello\n").unwrap();
    let mut got = String::new();
    right.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello\n");
    // Without a header: told and closed; garbage headers the same.
    for junk in [&b"echo\n"[..], b"PROXY TCP4 nonsense\r\n", &[b'P'; 300][..]] {
        let mut s = TcpStream::connect(inst.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(junk);
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        assert!(got.starts_with("ERR "), "{junk:?} -> {got:?}");
    }
    inst.assert_check_ok();
}

#[test]
fn the_haproxy_agent_says_up_and_down_with_the_reason() {
    use std::process::{Command, Stdio};
    let inst = Instance::start("agent", 1, &[]);
    // A fixed port below the ephemeral range (the agent is given its address).
    let addr: std::net::SocketAddr = "127.0.0.1:24299".parse().unwrap();
    let mut agent = Command::new(kennel_tests::bin("kennelctl"))
        .arg("--runtime-dir")
        .arg(&inst.dir)
        .args(["agent", "--listen", &addr.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ask = || {
        TcpStream::connect(addr).ok().map(|mut s| {
            let mut line = String::new();
            let _ = s.read_to_string(&mut line);
            line
        })
    };
    kennel_tests::wait_for("the agent to answer", Duration::from_secs(10), || {
        ask().is_some()
    });
    assert_eq!(ask().unwrap(), "up\n");
    assert!(inst.kennelctl(&["stop", "worker", "0"]).status.success());
    kennel_tests::wait_for("the agent to say down", Duration::from_secs(10), || {
        ask().is_some_and(|l| l.starts_with("down"))
    });
    assert_eq!(ask().unwrap(), "down #no worker is ready\n");
    let _ = agent.kill();
    let _ = agent.wait();
}
