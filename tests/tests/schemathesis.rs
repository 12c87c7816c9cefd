//! The API against its own OpenAPI file (docs/openapi.yaml), by schemathesis: generated
//! valid and invalid requests for every operation, stateful sequences (a run created, then
//! read), and every check it has — no server error, status codes, content types, headers
//! and bodies as documented, invalid data refused, valid data accepted.
//!
//! Named `schemathesis_*`: scripts/test.sh installs schemathesis from PyPI into a virtualenv
//! under target/ and passes its path in KENNEL_SCHEMATHESIS; without it the test is skipped
//! and counted as skipped there. It runs programs, so it needs the sandbox too.

use std::path::Path;
use std::process::Command;

use kennel_tests::Instance;

#[test]
fn schemathesis_the_api_conforms_to_its_openapi_file() {
    // The operator's routes have their own run, with the token (below).
    conforms(
        "schemathesis",
        "openapi.yaml",
        "schemathesis.toml",
        &["--exclude-path-regex", "^/api/v1/operator/"],
        &[],
    );
}

/// The operator's routes with the token, so that valid requests act: every verb but the
/// gateway's own restart (which would take the server under test away mid-run).
#[test]
fn schemathesis_the_operator_routes_conform_with_the_token() {
    let token = "schemathesis-operator-token-0123456789";
    let file = kennel_tests::token_file("schemathesis-operator-token", token);
    let dir = file.parent().unwrap().to_path_buf();
    let header = format!("Authorization: Bearer {token}");
    conforms(
        "schemathesis-operator",
        "openapi.yaml",
        "schemathesis.toml",
        &[
            "--include-path-regex",
            "^/api/v1/operator/",
            "--exclude-operation-id",
            "restartGateway",
            "-H",
            &header,
        ],
        &["--http-token-file", file.to_str().unwrap()],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Judge0's and Piston's routes (docs/openapi-compat.yaml), with the same checks.
#[test]
fn schemathesis_the_judge0_and_piston_routes_conform_to_their_openapi_file() {
    conforms(
        "schemathesis-compat",
        "openapi-compat.yaml",
        "schemathesis-compat.toml",
        &[],
        &[],
    );
}

/// Runs schemathesis with every check on `docs/<file>` (settings in `tests/<config>`, more
/// arguments in `args`) against a fresh instance started with `flags` too.
fn conforms(tag: &str, file: &str, config: &str, args: &[&str], flags: &[&str]) {
    let st = std::env::var("KENNEL_SCHEMATHESIS")
        .expect("KENNEL_SCHEMATHESIS names the schemathesis binary (scripts/test.sh sets it)");
    // The rate limit is tested on its own; here it would turn most cases into 429s.
    // The queue of held runs too: schemathesis submits faster than two workers run, and the
    // three files' runs share the machine; a full queue's 503 is tested on its own.
    let mut all = vec![
        "--workers",
        "2",
        "--http",
        "127.0.0.1:0",
        "--http-rate",
        "10000",
        "--http-queue",
        "1024",
        "--http-results",
        "1024",
    ];
    all.extend(flags);
    let inst = Instance::start_flags(tag, &all);
    let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(file);
    let url = format!("http://{}", inst.http_addr());
    let report = kennel_tests::fresh_dir(&format!("{tag}-report"));
    std::fs::create_dir_all(&report).expect("a directory for the report");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join(config);
    let out = Command::new(&st)
        .arg("--config-file")
        .arg(&config)
        .args(["run", spec.to_str().unwrap(), "--url", &url])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--seed",
            "20261124",
        ])
        .args(["--no-color", "--request-timeout", "60"])
        .args(args)
        .arg("--report-dir")
        .arg(&report)
        // Its own directory: hypothesis keeps its example database in the working directory,
        // and two runs sharing one would replay each other's examples.
        .current_dir(&report)
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("generated") || l.contains("issues") || l.contains("failures"))
        .collect();
    eprintln!("schemathesis: {}", summary.join(" | "));
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("No issues found"), "{text}");
    let status = inst.status();
    assert_eq!(status["gateway"]["restarts"], 0, "the gateway never died");
    inst.assert_check_ok();
    let _ = std::fs::remove_dir_all(&report);
}
