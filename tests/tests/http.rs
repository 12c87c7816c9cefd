//! The HTTP gateway end to end: a real instance started with `--http 127.0.0.1:0`, requests
//! over real sockets. Tests that run programs are named `sandbox_*` (scripts/test.sh skips
//! and counts them without bubblewrap and the toolchains).

use std::net::SocketAddr;
use std::time::Duration;

use kennel_tests::http::{get, post_json, raw, request};
use kennel_tests::{alive, signal, wait_for, Instance};
use serde_json::{json, Value};

fn run(addr: SocketAddr, body: Value) -> Value {
    let r = post_json(addr, "/api/v1/runs?wait=true", &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let doc = r.json();
    assert_eq!(doc["status"], "done", "{doc}");
    doc["result"].clone()
}

#[test]
fn sandbox_http_runs_python_and_c_synchronously_and_in_the_background() {
    let (inst, addr) = Instance::start_http("http-runs", &[]);
    let py = run(
        addr,
        json!({"language": "python", "source": "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n", "stdin": "3 4\n"}),
    );
    assert_eq!(py["verdict"], "accepted");
    assert_eq!(py["stdout"], "7\n");
    assert!(py["wall_ms"].as_u64().unwrap() > 0 && py["memory_kib"].as_u64().unwrap() > 0);

    // A C program given as a file: its extension names the language.
    let c = run(
        addr,
        json!({"files": [{"name": "hello.c", "content": "#include <stdio.h>\nint main(void){puts(\"hi\");return 3;}\n"}]}),
    );
    assert_eq!(c["verdict"], "runtime_error", "{c}");
    assert_eq!(c["exit_code"], 3);
    assert_eq!(c["stdout"], "hi\n");
    let broken = run(addr, json!({"language": "c", "source": "int main( {"}));
    assert_eq!(broken["verdict"], "compile_error");
    assert!(!broken["compile_output"].as_str().unwrap().is_empty());
    let wrong = run(
        addr,
        json!({"language": "python", "source": "print(1)", "expected_output": "2\n"}),
    );
    assert_eq!(wrong["verdict"], "wrong_answer");

    // In the background: 202, an id, a Location; the result read later.
    let r = post_json(
        addr,
        "/api/v1/runs",
        &json!({"language": "python", "source": "print('later')"}),
    );
    assert_eq!(r.status, 202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/runs/{id}").as_str())
    );
    let done = || get(addr, &format!("/api/v1/runs/{id}")).json()["status"] == "done";
    wait_for(
        "the background run to finish",
        Duration::from_secs(30),
        done,
    );
    let doc = get(addr, &format!("/api/v1/runs/{id}")).json();
    assert_eq!(doc["result"]["stdout"], "later\n");

    // The gateway counts what it served, and kennelctl shows it.
    let status = inst.status();
    assert_eq!(status["gateway"]["state"], "ready");
    assert_eq!(status["gateway"]["served"], 5);
    inst.assert_check_ok();
}

#[test]
fn http_languages_pool_and_health_tell_the_truth() {
    let (inst, addr) = Instance::start_http("http-info", &["--time-limit-max", "7s"]);
    let langs = get(addr, "/api/v1/languages").json();
    let names: Vec<&str> = langs["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["python", "c", "cpp", "java"]);
    assert_eq!(langs["limits"]["time_limit_ms"]["max"], 7000);
    // The same mode the pool's workers publish, with what is exact and what approximate.
    let mode = &langs["limits"]["enforcement"];
    assert_eq!(
        mode["mode"],
        inst.status()["workers"][0]["limits"]["mode"],
        "{mode}"
    );
    assert!(mode["exact"].to_string().contains("cpu_time"), "{mode}");

    let pool = get(addr, "/api/v1/pool");
    assert_eq!(pool.header("content-type"), Some("application/json"));
    let pool = pool.json();
    let status = inst.status();
    assert_eq!(pool["schema"], "kennel-status/1");
    assert_eq!(pool["workers"].as_array().unwrap().len(), 2);
    assert_eq!(pool["watchdog"]["pid"], status["watchdog"]["pid"]);
    assert_eq!(pool["gateway"]["address"], addr.to_string());

    let health = get(addr, "/api/v1/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["workers_ready"], 2);
    // With every worker stopped, not ready (503) and why.
    for k in ["0", "1"] {
        assert!(inst.kennelctl(&["stop", "worker", k]).status.success());
    }
    wait_for("healthz to say not ready", Duration::from_secs(10), || {
        get(addr, "/api/v1/healthz").status == 503
    });
    assert_eq!(
        get(addr, "/api/v1/healthz").json()["reason"],
        "no worker is ready"
    );
    let spec = get(addr, "/api/v1/openapi.yaml");
    assert_eq!(spec.status, 200);
    assert!(String::from_utf8_lossy(&spec.body).starts_with("openapi: 3."));
}

#[test]
fn http_bad_requests_get_json_errors_and_never_a_server_error() {
    let (inst, addr) = Instance::start_http("http-errors", &["--http-max-body", "65536"]);
    let post = |body: &[u8], ctype: &str| {
        request(
            addr,
            "POST",
            "/api/v1/runs?wait=true",
            Some(body),
            &[("Content-Type", ctype)],
        )
    };
    let json_type = "application/json";
    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let deep_in_field = format!(
        "{{\"language\":\"python\",\"source\":\"x\",\"args\":{}",
        "[".repeat(50_000)
    );
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (b"{".to_vec(), json_type, 400, "malformed_json"),
        (b"\xff\xfe{}".to_vec(), json_type, 400, "malformed_json"),
        (
            b"{\"language\":\"python\",\"source\":\"\xff\"}".to_vec(),
            json_type,
            400,
            "malformed_json",
        ),
        (nested.into_bytes(), json_type, 422, "invalid_request"),
        // Typed fields: serde refuses the first `[` where a string belongs, never descending.
        (
            deep_in_field.into_bytes(),
            json_type,
            422,
            "invalid_request",
        ),
        (b"{}".to_vec(), "text/plain", 415, "unsupported_media_type"),
        // Refused by the gateway, before a worker sees it, as the OpenAPI file says.
        (
            br#"{"language":"c","source":"int main(){}\u0000"}"#.to_vec(),
            json_type,
            422,
            "invalid_request",
        ),
        (b"{}".to_vec(), json_type, 422, "invalid_request"),
        (
            br#"{"language":"cobol","source":"x"}"#.to_vec(),
            json_type,
            422,
            "unknown_language",
        ),
        (
            br#"{"language":"python","source":"x","time_limit_ms":99999999}"#.to_vec(),
            json_type,
            422,
            "over_limit",
        ),
        (
            br#"{"language":"python","source":"x","memory_limit_kib":0}"#.to_vec(),
            json_type,
            422,
            "over_limit",
        ),
        (
            br#"{"language":"python","source":"x","surprise":true}"#.to_vec(),
            json_type,
            422,
            "invalid_request",
        ),
        (
            br#"{"files":[{"name":"../etc/passwd","content":"x"}]}"#.to_vec(),
            json_type,
            422,
            "invalid_request",
        ),
        // Two modules and no main.py: which one runs is not guessed.
        (
            br#"{"files":[{"name":"a.py","content":"x"},{"name":"b.py","content":"y"}]}"#.to_vec(),
            json_type,
            422,
            "invalid_request",
        ),
        (
            format!(
                "{{\"language\":\"python\",\"source\":\"{}\"}}",
                "x".repeat(70_000)
            )
            .into_bytes(),
            json_type,
            413,
            "body_too_large",
        ),
    ];
    for (body, ctype, status, code) in cases {
        let r = post(&body, ctype);
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        assert_eq!(
            r.status,
            status,
            "{shown}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.error_code(), code, "{shown}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let r = request(
        addr,
        "POST",
        "/api/v1/runs?wait=perhaps",
        Some(b"{}"),
        &[("Content-Type", json_type)],
    );
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_query"));
    assert_eq!(get(addr, "/api/v1/runs/0123").status, 404);
    assert_eq!(
        get(addr, "/api/v1/runs/0123456789abcdef0123456789abcdef").error_code(),
        "not_found"
    );
    assert_eq!(get(addr, "/api/v1/nothing").error_code(), "not_found");
    let r = request(addr, "DELETE", "/api/v1/pool", None, &[]);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (405, "method_not_allowed")
    );
    // Garbage that is not HTTP: a 400 from hyper, or the connection closed; the gateway lives.
    let _ = raw(
        addr,
        b"\x00\x01\x02 garbage\r\n\r\n",
        Duration::from_secs(5),
    );
    let huge_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100_000));
    // 431 from hyper (head past its buffer) or from the gateway (head parsed whole), or the
    // connection cut while we were still sending; never served.
    if let Ok(r) = raw(addr, huge_head.as_bytes(), Duration::from_secs(5)) {
        assert_eq!(r.status, 431, "an oversized head");
    }
    assert_eq!(get(addr, "/api/v1/healthz").status, 200);
    let status = inst.status();
    assert_eq!(status["gateway"]["restarts"], 0, "the gateway never died");
    assert!(status["gateway"]["failed"].as_u64().unwrap() >= 14);
    assert_eq!(status["gateway"]["served"], 0, "nothing reached a worker");
    assert_eq!(status["workers"][0]["served"], 0);
    assert_eq!(status["workers"][1]["served"], 0);
}

#[test]
fn http_gateway_is_supervised_killed_it_comes_back_on_the_same_port() {
    let (inst, addr) = Instance::start_http("http-kill", &[]);
    let pid = inst.status()["gateway"]["pid"].as_i64().unwrap() as i32;
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    wait_for(
        "the gateway to be restarted",
        Duration::from_secs(10),
        || {
            let s = inst.status();
            s["gateway"]["restarts"] == 1 && s["gateway"]["state"] == "ready"
        },
    );
    assert!(!alive(pid));
    assert_eq!(
        inst.http_addr(),
        addr,
        "same address: the watchdog holds the socket"
    );
    assert_eq!(get(addr, "/api/v1/healthz").status, 200);
    let out = inst.kennelctl(&["restart", "gateway"]);
    assert!(out.status.success(), "{out:?}");
    wait_for(
        "the gateway to be restarted again",
        Duration::from_secs(10),
        || {
            let s = inst.status();
            s["gateway"]["restarts"] == 2 && s["gateway"]["state"] == "ready"
        },
    );
    assert_eq!(get(addr, "/api/v1/healthz").status, 200);
    let log = inst.log_text();
    assert!(log.contains("gateway ready"), "{log}");
}

#[test]
fn http_off_unless_asked_and_verbs_say_so() {
    let inst = Instance::start("http-off", 1, &[]);
    let status = inst.status();
    assert!(status.get("gateway").is_none(), "{status}");
    let out = inst.kennelctl(&["restart", "gateway"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no HTTP gateway")
            || String::from_utf8_lossy(&out.stderr).contains("no HTTP gateway")
    );
}

#[test]
fn http_token_when_configured_guards_everything_but_the_probe() {
    use std::os::unix::fs::PermissionsExt;
    let dir = kennel_tests::fresh_dir("http-token-file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    let token = "s3cret-token-for-the-test-0123456789";
    std::fs::write(&file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (inst, addr) =
        Instance::start_http("http-token", &["--http-token-file", file.to_str().unwrap()]);
    let r = get(addr, "/api/v1/pool");
    assert_eq!((r.status, r.error_code().as_str()), (401, "unauthorized"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let wrong = request(
        addr,
        "GET",
        "/api/v1/pool",
        None,
        &[("Authorization", "Bearer nope")],
    );
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {token}");
    let ok = request(
        addr,
        "GET",
        "/api/v1/pool",
        None,
        &[("Authorization", &bearer)],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(
        get(addr, "/api/v1/healthz").status,
        200,
        "probes need no token"
    );
    assert_eq!(
        get(addr, "/").status,
        200,
        "the page itself is public; the API is not"
    );
    drop(inst);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn http_cors_is_off_unless_an_origin_is_configured() {
    let (_plain, addr) = Instance::start_http("http-cors-off", &[]);
    let pre = |addr| {
        request(
            addr,
            "OPTIONS",
            "/api/v1/runs",
            None,
            &[
                ("Origin", "http://example.org"),
                ("Access-Control-Request-Method", "POST"),
            ],
        )
    };
    assert!(pre(addr).header("access-control-allow-origin").is_none());
    let (_cors, addr) = Instance::start_http(
        "http-cors-on",
        &["--http-cors-origin", "http://example.org"],
    );
    assert_eq!(
        pre(addr).header("access-control-allow-origin"),
        Some("http://example.org")
    );
}
