//! The operator's routes over HTTP (`/api/v1/operator/…`), against a real instance: refused
//! without a configured token and without the right one, refused from another origin, refused
//! for garbage, and, with the token, each verb does what `kennelctl` would (the segment shows
//! it); a refusal of the watchdog's is a 409 with its words.

use std::net::SocketAddr;
use std::time::Duration;

use kennel_tests::http::{get, request, Reply};
use kennel_tests::Instance;

const TOKEN: &str = "operator-token-for-the-test-0123456789";

/// An instance with a gateway and its token (`extra` flags; two workers unless they say).
fn with_token(tag: &str, extra: &[&str]) -> (Instance, SocketAddr) {
    let file = kennel_tests::token_file(&format!("{tag}-token"), TOKEN);
    let mut flags = vec![
        "--http",
        "127.0.0.1:0",
        "--http-token-file",
        file.to_str().unwrap(),
    ];
    if !extra.iter().any(|f| f.contains("workers")) {
        flags.extend(["--workers", "2"]);
    }
    flags.extend(extra);
    let inst = Instance::start_flags(tag, &flags);
    let addr = inst.http_addr();
    (inst, addr)
}

fn post(addr: SocketAddr, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request(addr, "POST", path, body.map(str::as_bytes), &h)
}

fn authed(addr: SocketAddr, path: &str, body: Option<&str>) -> Reply {
    let bearer = format!("Bearer {TOKEN}");
    post(addr, path, body, &[("Authorization", &bearer)])
}

#[test]
fn operator_routes_are_off_without_a_configured_token() {
    let (inst, addr) = Instance::start_http("operator-off", &[]);
    for path in [
        "/api/v1/operator/workers/0/restart",
        "/api/v1/operator/reload",
    ] {
        let r = post(addr, path, None, &[]);
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (403, "operator_disabled"),
            "{path}"
        );
    }
    let r = get(addr, "/api/v1/operator/settings");
    assert_eq!(r.status, 403);
    let status = inst.status();
    assert_eq!(status["workers"][0]["restarts"], 0, "nothing was done");
}

#[test]
fn operator_routes_refuse_a_wrong_token_another_origin_and_garbage() {
    let (inst, addr) = with_token("operator-hostile", &[]);
    let path = "/api/v1/operator/workers/0/restart";
    assert_eq!(post(addr, path, None, &[]).status, 401);
    let r = post(addr, path, None, &[("Authorization", "Bearer wrong")]);
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    // The right token from a page of another origin (CSRF with a stolen token).
    let bearer = format!("Bearer {TOKEN}");
    let r = post(
        addr,
        path,
        None,
        &[
            ("Authorization", &bearer),
            ("Origin", "http://evil.example"),
        ],
    );
    assert_eq!((r.status, r.error_code().as_str()), (403, "cross_origin"));
    // Garbage: a slot that is not a number, an unknown action, a bad scale body, a slot that
    // does not exist (the watchdog refuses: 409 with its words).
    assert_eq!(
        authed(addr, "/api/v1/operator/workers/x/restart", None).status,
        404
    );
    assert_eq!(
        authed(addr, "/api/v1/operator/workers/0/explode", None).status,
        404
    );
    for body in [
        "",
        "{",
        "{\"workers\": -1}",
        "{\"workers\": 2, \"more\": 1}",
        "[1]",
    ] {
        let r = authed(addr, "/api/v1/operator/scale", Some(body));
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "bad_request"),
            "{body:?}"
        );
    }
    let r = authed(addr, "/api/v1/operator/workers/99/restart", None);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "refused"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let status = inst.status();
    assert_eq!(
        status["workers"][0]["restarts"], 0,
        "nothing was done: {status}"
    );
    inst.assert_check_ok();
}

#[test]
fn operator_verbs_act_through_the_watchdog() {
    let (inst, addr) = with_token(
        "operator-verbs",
        &["--min-workers", "1", "--max-workers", "3"],
    );
    let settings = {
        let bearer = format!("Bearer {TOKEN}");
        request(
            addr,
            "GET",
            "/api/v1/operator/settings",
            None,
            &[("Authorization", &bearer)],
        )
    };
    assert_eq!(settings.status, 200);
    let s = settings.json();
    assert_eq!(
        (s["pool"]["min"].as_u64(), s["pool"]["max"].as_u64()),
        (Some(1), Some(3)),
        "{s}"
    );
    assert!(
        s["max_tasks"].as_u64().is_some() && s["enforcement"]["mode"].is_string(),
        "{s}"
    );
    // Restart worker 0: its record shows a restart.
    let r = authed(addr, "/api/v1/operator/workers/0/restart", None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["verb"], "restart worker 0");
    inst.wait_status("worker 0 restarted", Duration::from_secs(10), |s| {
        s["workers"][0]["restarts"] == 1 && s["workers"][0]["state"] == "idle"
    });
    // Scale to 2.
    let r = authed(addr, "/api/v1/operator/scale", Some("{\"workers\": 2}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    inst.wait_status("the pool at 2", Duration::from_secs(10), |s| {
        kennel_tests::running_workers(s) == 2
    });
    // A rolling restart: every worker once more, one at a time. (A verb during one is
    // refused by the watchdog, tested on the control socket itself; its refusal becomes a 409
    // here, as for the slot that does not exist above.)
    let r = authed(addr, "/api/v1/operator/workers/restart", None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    inst.wait_status(
        "both workers restarted again",
        Duration::from_secs(20),
        |s| s["workers"][0]["restarts"] == 2 && s["workers"][1]["restarts"] == 1,
    );
    // Reload: the watchdog answers what it applied.
    let r = authed(addr, "/api/v1/operator/reload", None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    inst.assert_check_ok();
}

/// A verb while a rolling restart is under way is the watchdog's refusal, over HTTP a 409
/// with its words; the roll itself ends well. A silent client holding a worker keeps the roll
/// open (that worker's restart waits for it, up to the client timeout).
#[test]
fn operator_verbs_during_a_rolling_restart_are_refused_with_409() {
    use std::io::{Read, Write};
    let (inst, addr) = with_token("operator-roll-busy", &["--client-timeout", "3s"]);
    let mut control = std::net::TcpStream::connect(inst.addr).unwrap();
    control.write_all(b"echo\n").unwrap();
    let mut line = [0u8; 32];
    let n = control.read(&mut line).unwrap();
    let port: u16 = String::from_utf8_lossy(&line[..n]).trim().parse().unwrap();
    let silent = std::net::TcpStream::connect((inst.addr.ip(), port)).unwrap();
    std::thread::scope(|s| {
        let roll = s.spawn(|| authed(addr, "/api/v1/operator/workers/restart", None));
        kennel_tests::wait_for("the roll under way", Duration::from_secs(10), || {
            inst.log_text().contains("control: restart workers")
        });
        for (path, body) in [
            ("/api/v1/operator/reload", None),
            ("/api/v1/operator/workers/1/stop", None),
            ("/api/v1/operator/scale", Some("{\"workers\": 1}")),
        ] {
            let r = authed(addr, path, body);
            assert_eq!(
                (r.status, r.error_code().as_str()),
                (409, "refused"),
                "{path}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert!(
                String::from_utf8_lossy(&r.body).contains("rolling restart"),
                "{path}"
            );
        }
        let rolled = roll.join().unwrap();
        assert_eq!(
            rolled.status,
            200,
            "{}",
            String::from_utf8_lossy(&rolled.body)
        );
    });
    drop(silent);
    inst.assert_check_ok();
}
