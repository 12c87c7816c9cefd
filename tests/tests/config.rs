//! `--config`: the shipped example file starts a working instance, its request-type aliases
//! serve a client written for another server, and a broken file is refused with its line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kennel_tests::{bin, fresh_dir, Instance};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contrib/kennel.toml")
}

fn recv(s: &mut TcpStream) -> String {
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).expect("recv");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn the_example_file_runs_and_an_alias_serves_a_client_that_expects_addr_port() {
    let config = example();
    // The command line overrides the file: any free port, this test's own directory.
    let inst = Instance::start_flags("config-example", &["--config", config.to_str().unwrap()]);
    let s = inst.status();
    assert_eq!(
        (s["pool"]["min"].as_u64(), s["pool"]["max"].as_u64()),
        (Some(2), Some(6)),
        "{s}"
    );
    // ArKc0s/OSPS's way: a bare word, then `ADDR PORT`, then the message to that address.
    let mut c = TcpStream::connect(inst.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"i_have_a_request_please").unwrap();
    let answer = recv(&mut c);
    let (addr, port) = answer
        .split_once(' ')
        .unwrap_or_else(|| panic!("not ADDR PORT: {answer:?}"));
    assert_eq!(addr, "127.0.0.1");
    let mut w = TcpStream::connect((addr, port.parse::<u16>().unwrap())).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    w.write_all(b"Hello, what time is it ?").unwrap();
    let time = recv(&mut w);
    assert!(
        time.ends_with(" UTC") && time.len() == "12:34:56 UTC".len(),
        "{time:?}"
    );
    // The other alias answers a bare port; an unknown word lists the aliases with the types.
    c.write_all(b"time\n").unwrap();
    assert!(recv(&mut c).trim_end().parse::<u16>().is_ok());
    c.write_all(b"clock\n").unwrap();
    let err = recv(&mut c);
    assert!(err.contains("i_have_a_request_please, time"), "{err}");
    inst.assert_check_ok();
}

#[test]
fn a_broken_file_stops_the_start_naming_its_line_and_leaves_nothing() {
    let dir = fresh_dir("config-broken");
    let file = dir.with_extension("toml");
    std::fs::write(&file, "port = 0\nworkers = 2\nqueue-timeout = \"soon\"\n").unwrap();
    let out = Command::new(bin("kennel-watchdog"))
        .arg("--config")
        .arg(&file)
        .arg("--runtime-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains(&format!("{}:3: ", file.display())), "{said}");
    assert!(said.contains("soon"), "{said}");
    assert!(!dir.exists(), "nothing created");
    std::fs::write(&file, "workers = 2\nwrokers = 3\n").unwrap();
    let out = Command::new(bin("kennel-watchdog"))
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(":2: unknown key \"wrokers\""), "{said}");
    let _ = std::fs::remove_file(&file);
}
