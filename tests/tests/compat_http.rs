//! Judge0's and Piston's routes over raw HTTP, as the attacker and the careless client: bad
//! base64, a batch too large, a zip bomb, a callback to a host nobody allowed (and one that
//! is allowed, delivered), network asked for, limits over Kennel's, output that is not UTF-8,
//! unknown tokens and fields, the token — each with the status and body Judge0 gives
//! (Piston's: tests/tests/piston_http.rs), never a 5xx. Named `sandbox_*` (they run
//! programs): skipped and counted by scripts/test.sh when the sandbox is missing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use kennel_tests::http::{get, post_json, request, Reply};
use kennel_tests::{wait_for, Instance};
use serde_json::{json, Value};

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn submit(addr: SocketAddr, query: &str, body: Value) -> Reply {
    post_json(addr, &format!("/submissions{query}"), &body)
}

fn refused(r: &Reply, status: u16, field: &str, words: &str) {
    let j = r.json();
    let text = j[field].to_string();
    assert_eq!(r.status, status, "{j}");
    assert!(text.contains(words), "{field}: {words:?} in {j}");
}

/// A zip of `entries`, deflated.
fn zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    buf.into_inner()
}

#[test]
fn sandbox_judge0_refuses_hostile_submissions_with_judge0s_answers() {
    let (_inst, addr) = Instance::start_http("judge0-hostile", &["--http-rate", "1000"]);
    let py = |src: &str| json!({"source_code": src, "language_id": 71});
    let r = submit(
        addr,
        "?base64_encoded=true",
        json!({"source_code": "%%%not base64", "language_id": 71}),
    );
    refused(&r, 422, "source_code", "is not valid base64");
    let batch: Vec<Value> = (0..21).map(|_| py("print(1)")).collect();
    let r = post_json(addr, "/submissions/batch", &json!({"submissions": batch}));
    refused(&r, 400, "error", "less than or equal to 20");
    let r = post_json(addr, "/submissions/batch", &json!({"submissions": []}));
    refused(&r, 400, "error", "at least one submission");
    // 64 MiB of zeros in a 64 KiB zip: refused once 10 MiB have been inflated.
    let bomb = zip(&[("zeros.txt", vec![0u8; 64 << 20])]);
    let mut s = py("print(1)");
    s["additional_files"] = json!(b64(&bomb));
    refused(
        &submit(addr, "", s),
        422,
        "additional_files",
        "decompresses to more than",
    );
    let mut s = py("print(1)");
    s["additional_files"] = json!(b64(b"PK\x03\x04garbage"));
    refused(&submit(addr, "", s), 422, "additional_files", "not a zip");
    let mut s = py("print(1)");
    s["callback_url"] = json!("http://169.254.169.254/latest/meta-data/");
    refused(&submit(addr, "", s), 422, "callback_url", "not allowed");
    let mut s = py("print(1)");
    s["enable_network"] = json!(true);
    refused(
        &submit(addr, "", s),
        422,
        "enable_network",
        "enabling network is not allowed",
    );
    let mut s = py("print(1)");
    s["cpu_time_limit"] = json!(999);
    s["memory_limit"] = json!(10);
    let r = submit(addr, "", s);
    refused(
        &r,
        422,
        "cpu_time_limit",
        "must be less than or equal to 10.0",
    );
    refused(
        &r,
        422,
        "memory_limit",
        "must be greater than or equal to 2048",
    );
    let mut s = py("print(1)");
    s["redirect_stderr_to_stdout"] = json!(true);
    refused(
        &submit(addr, "", s),
        422,
        "redirect_stderr_to_stdout",
        "cannot be enabled",
    );
    refused(
        &submit(addr, "", json!({"source_code": "x", "language_id": 1})),
        422,
        "language_id",
        "language with id 1 doesn't exist",
    );
    refused(
        &submit(addr, "", json!({"language_id": 71})),
        422,
        "source_code",
        "can't be blank",
    );
    let r = request(
        addr,
        "POST",
        "/submissions",
        Some(b"{not json"),
        &[("Content-Type", "application/json")],
    );
    refused(&r, 400, "error", "not JSON");
    refused(
        &submit(addr, "?fields=stdout,bogus", py("print(1)")),
        400,
        "error",
        "invalid fields: [bogus]",
    );
    refused(
        &get(addr, "/submissions/not-a-token"),
        404,
        "error",
        "not found",
    );
    refused(
        &get(addr, "/submissions/00000000-0000-4000-8000-000000000000"),
        404,
        "error",
        "not found",
    );
    refused(
        &get(addr, "/submissions/batch?tokens="),
        400,
        "error",
        "at least one",
    );
    refused(&get(addr, "/submissions"), 403, "error", "not offered");
    assert_eq!(get(addr, "/languages/9999").status, 404);
}

#[test]
fn sandbox_judge0_answers_runs_as_judge0_does() {
    let (_inst, addr) = Instance::start_http("judge0-runs", &["--http-rate", "1000"]);
    // Output that is not UTF-8: Judge0's conversion error without base64, the bytes with it.
    let bytes = json!({"source_code": "import sys; sys.stdout.buffer.write(b'\\xff\\xfe')", "language_id": 71});
    let r = submit(addr, "/?wait=true", bytes);
    assert_eq!(r.status, 201, "{}", r.json());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("base64_encoded=true"));
    let token = r.json()["token"].as_str().unwrap().to_string();
    let r = get(
        addr,
        &format!("/submissions/{token}?base64_encoded=true&fields=stdout,status"),
    );
    assert_eq!(
        r.json()["stdout"].as_str().unwrap().trim(),
        b64(&[0xff, 0xfe])
    );
    assert_eq!(r.json()["status"]["id"], 3);
    // Several runs, a header and a data file from additional_files, base64 both ways.
    let src = "#include <stdio.h>\n#include \"k.h\"\nint main(void){int n; FILE *f=fopen(\"n.txt\",\"r\"); if(!f||fscanf(f,\"%d\",&n)!=1) return 4; printf(\"%d\\n\", n*K); return 0;}\n";
    let files = zip(&[
        ("k.h", b"#define K 3\n".to_vec()),
        ("n.txt", b"14".to_vec()),
    ]);
    let s = json!({"source_code": b64(src.as_bytes()), "language_id": 50, "number_of_runs": 3,
        "additional_files": b64(&files), "expected_output": b64(b"42\n"), "compiler_options": "-O1 -Wall"});
    let r = submit(addr, "?base64_encoded=true&wait=true&fields=*", s);
    let j = r.json();
    assert_eq!((r.status, &j["status"]["id"]), (201, &json!(3)), "{j}");
    assert_eq!(j["stdout"].as_str().unwrap().trim(), b64(b"42\n"));
    assert_eq!(
        (&j["number_of_runs"], &j["language"]["id"]),
        (&json!(3), &json!(50))
    );
    assert!(
        j["time"].as_str().unwrap().parse::<f64>().is_ok() && j["memory"].as_u64().unwrap() > 0
    );
    assert!(j["created_at"].as_str().unwrap().ends_with('Z') && j["finished_at"].is_string());
    // Without wait: the token at once, the result when it is done; then deleted.
    let r = submit(
        addr,
        "",
        json!({"source_code": "print(input())", "language_id": 70, "stdin": "hi"}),
    );
    assert_eq!(r.status, 201);
    let token = r.json()["token"].as_str().unwrap().to_string();
    let path = format!("/submissions/{token}");
    wait_for("the submission to finish", Duration::from_secs(30), || {
        get(addr, &path).json()["status"]["id"]
            .as_u64()
            .unwrap_or(0)
            > 2
    });
    assert_eq!(get(addr, &path).json()["stdout"], "hi\n");
    let gone = request(addr, "DELETE", &path, None, &[]);
    assert_eq!(
        (gone.status, &gone.json()["stdout"]),
        (200, &json!(b64(b"hi\n") + "\n"))
    );
    assert_eq!(get(addr, &path).status, 404);
}

/// A one-shot HTTP server: answers 200 to the first request and hands back its bytes.
fn catch_one(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                });
                if len.is_some_and(|l| body.len() >= l) {
                    break;
                }
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        String::from_utf8_lossy(&got).into_owned()
    })
}

#[test]
fn sandbox_judge0_callbacks_reach_allowed_hosts_only() {
    let hook = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hook.local_addr().unwrap().port();
    let allow = format!("127.0.0.1:{port}");
    let (_inst, addr) = Instance::start_http("judge0-callback", &["--http-callback-allow", &allow]);
    let caught = catch_one(hook);
    let url = format!("http://127.0.0.1:{port}/done");
    let r = submit(
        addr,
        "",
        json!({"source_code": "print(6*7)", "language_id": 71, "callback_url": url}),
    );
    assert_eq!(r.status, 201, "{}", r.json());
    let token = r.json()["token"].as_str().unwrap().to_string();
    let req = caught.join().unwrap();
    assert!(req.starts_with("PUT /done HTTP/1.1\r\n"), "{req}");
    let body: Value = serde_json::from_str(req.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(
        (&body["token"], &body["status"]["id"]),
        (&json!(token), &json!(3))
    );
    assert_eq!(body["stdout"], b64(b"42\n") + "\n");
    let other = format!("http://127.0.0.1:{}/x", port + 1);
    let r = submit(
        addr,
        "",
        json!({"source_code": "print(1)", "language_id": 71, "callback_url": other}),
    );
    refused(&r, 422, "callback_url", "not allowed");
}

#[test]
fn sandbox_judge0_and_piston_take_the_gateways_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = kennel_tests::fresh_dir("compat-token-file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    let token = "compat-token-for-the-test-0123456789";
    std::fs::write(&file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_inst, addr) = Instance::start_http(
        "compat-token",
        &["--http-token-file", file.to_str().unwrap()],
    );
    let r = get(addr, "/languages");
    assert_eq!(
        (r.status, r.body.len()),
        (401, 0),
        "Judge0: 401 without a body"
    );
    assert_eq!(
        request(addr, "GET", "/languages", None, &[("X-Auth-Token", token)]).status,
        200
    );
    assert_eq!(
        request(
            addr,
            "POST",
            "/authenticate",
            None,
            &[("X-Auth-Token", "wrong")]
        )
        .status,
        401
    );
    assert_eq!(
        request(
            addr,
            "POST",
            "/authenticate",
            None,
            &[("X-Auth-Token", token)]
        )
        .status,
        200
    );
    let auth = [("X-Auth-Token", token), ("X-Auth-User", "nope")];
    assert_eq!(request(addr, "POST", "/authorize", None, &auth).status, 403);
    let auth = [("X-Auth-Token", token), ("X-Auth-User", token)];
    assert_eq!(request(addr, "POST", "/authorize", None, &auth).status, 200);
    let r = get(addr, "/api/v2/runtimes");
    assert_eq!(r.status, 401);
    let bearer = format!("Bearer {token}");
    assert_eq!(
        request(
            addr,
            "GET",
            "/api/v2/runtimes",
            None,
            &[("Authorization", &bearer)]
        )
        .status,
        200
    );
}
