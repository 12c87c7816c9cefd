//! Piston's routes over raw HTTP: `text/plain` bodies that hold JSON (what its clients
//! send), files in base64, the run's answer, and every refusal in Piston's words with 400,
//! never a 5xx. Named `sandbox_*`: skipped and counted by scripts/test.sh when the sandbox
//! is missing.

use kennel_tests::http::{post_json, request};
use kennel_tests::Instance;
use serde_json::{json, Value};

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn sandbox_piston_takes_text_plain_and_answers_in_pistons_words() {
    let (_inst, addr) = Instance::start_http("piston-http", &["--http-rate", "1000"]);
    let body = json!({"language": "py", "version": "3.x", "files": [{"content": "import sys; print(sys.stdin.read().upper())"}], "stdin": "abc"});
    let plain = [("Content-Type", "text/plain;charset=UTF-8")];
    let r = request(
        addr,
        "POST",
        "/api/v2/execute",
        Some(body.to_string().as_bytes()),
        &plain,
    );
    let j = r.json();
    assert_eq!(
        (
            r.status,
            j["language"].as_str(),
            j["run"]["stdout"].as_str()
        ),
        (200, Some("python"), Some("ABC\n")),
        "{j}"
    );
    let refuse = |body: Value, words: &str| {
        let r = post_json(addr, "/api/v2/execute", &body);
        assert_eq!(r.status, 400, "{}", r.json());
        assert!(
            r.json()["message"].as_str().unwrap().contains(words),
            "{words}: {}",
            r.json()
        );
    };
    refuse(
        json!({"version": "*", "files": []}),
        "language is required as a string",
    );
    refuse(
        json!({"language": "python", "version": "*"}),
        "files is required as an array",
    );
    refuse(
        json!({"language": "python", "version": "*", "files": [{"name": "a.py"}]}),
        "files[0].content is required as a string",
    );
    refuse(
        json!({"language": "python", "version": "9", "files": [{"content": "1"}]}),
        "python-9 runtime is unknown",
    );
    refuse(
        json!({"language": "python", "version": "*", "files": [{"content": "1"}], "run_timeout": 1e9}),
        "run_timeout cannot exceed the configured limit",
    );
    refuse(
        json!({"language": "python", "version": "*", "files": [{"content": "MQ==", "encoding": "base64"}]}),
        "files must include at least one utf8 encoded file",
    );
    refuse(
        json!({"language": "python", "version": "*", "files": [{"content": "1", "name": "../x.py"}]}),
        "directory",
    );
    let r = request(addr, "POST", "/api/v2/execute", Some(b"[1,2"), &plain);
    assert_eq!(
        (r.status, r.json()["message"].as_str().is_some()),
        (400, true)
    );
    // A C program in two files, one of them base64: compiled together.
    let body = json!({"language": "c", "version": "*", "files": [
        {"name": "main.c", "content": "int f(void);\n#include <stdio.h>\nint main(void){printf(\"%d\\n\", f());}\n"},
        {"name": "f.c", "content": b64(b"int f(void){return 7;}\n"), "encoding": "base64"}]});
    let r = post_json(addr, "/api/v2/piston/execute", &body);
    assert_eq!(
        (
            r.status,
            &r.json()["run"]["stdout"],
            &r.json()["compile"]["code"]
        ),
        (200, &json!("7\n"), &json!(0)),
        "{}",
        r.json()
    );
}
