//! The chaos tool and the restart benchmark, run briefly so they never rot. Figures are not
//! asserted here (machines are noisy); correctness is: a chaos run must lose no request and
//! leak nothing.

use std::process::Command;

use kennel_tests::{bin, run_ok};

#[test]
fn a_short_chaos_run_loses_no_request_and_leaks_nothing() {
    let log = kennel_tests::fresh_dir("chaos").with_extension("log");
    let out = Command::new(bin("kennel-chaos"))
        .args([
            "--duration",
            "5s",
            "--kill-every",
            "500ms",
            "--clients",
            "4",
            "--freeze",
        ])
        .args(["--json", "--seed", "42"])
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
    // On failure, the instance's log says what the supervisor saw.
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let ctx = format!(
        "{report}\n{}\n--- instance log ---\n{log_text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["failed"], 0, "{ctx}");
    assert_eq!(report["leaked_processes"], 0, "{ctx}");
    assert_eq!(report["leaked_ipc"], 0, "{ctx}");
    assert_eq!(report["check_violations"], 0, "{ctx}");
    assert!(report["kills"].as_u64().unwrap() >= 5, "{ctx}");
    assert!(report["ok"].as_u64().unwrap() > 0, "{ctx}");
    assert_eq!(report["passed"], true, "{ctx}");
    let _ = std::fs::remove_file(&log);
    assert!(out.status.success());
}

#[test]
fn the_restart_benchmark_runs_and_reports_its_figures() {
    let out = run_ok(
        "kennel-bench",
        ["restart", "--samples", "3", "--workers", "2", "--json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["restart_samples"], 3);
    let p50 = report["restart_p50_ms"].as_f64().unwrap();
    let max = report["restart_max_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= max, "{report}");
    assert!(report["spawn_floor_p50_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_load_benchmark_runs_end_to_end() {
    let out = run_ok("kennel-bench", ["load", "--tiny", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "{report}");
    for r in runs {
        assert_eq!(r["errors_all_systems"], 0, "{r}");
        assert!(r["kennel_rps"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["floor2_rps"].as_f64().unwrap() > 0.0, "{r}");
        // nginx is measured only where installed; the report says which.
        assert!(
            r["nginx_rps"].is_number() || report["nginx_note"].is_string(),
            "{report}"
        );
    }
    assert_eq!(report["idle_connections"], 50);
    assert_eq!(report["idle_connection_errors"], 0);
    assert!(report["dispatcher_rss_10k_kib"].as_u64().unwrap() > 0);
    assert!(
        report["p99_us_under_10k"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(report["rss_worker_kib"].as_u64().unwrap() > 0);
}

#[test]
fn sandbox_the_program_runner_benchmark_runs_end_to_end() {
    let out = run_ok("kennel-bench", ["runner", "--tiny", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert!(!rows.is_empty(), "{report}");
    for r in rows {
        for system in ["bare_ms", "by_hand_ms", "in_process_ms", "kennel_ms"] {
            assert!(r[system].as_f64().unwrap() > 0.0, "{system} in {r}");
        }
    }
    assert!(report["cache_speedup"].as_f64().unwrap() > 1.0, "{report}");
    assert_eq!(report["sandbox_layers_ms"].as_array().unwrap().len(), 5);
}

#[test]
fn sandbox_the_http_api_benchmark_runs_end_to_end() {
    let out = run_ok("kennel-bench", ["api", "--tiny", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "kennel-bench-api/2");
    assert_eq!(report["errors"], 0, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "python and c hello at C=1 and C=8: {report}");
    for r in rows {
        for route in ["client_ms", "api_ms", "judge0_ms", "piston_ms"] {
            assert!(r[route].as_f64().unwrap() > 0.0, "{route} in {r}");
        }
    }
}

#[test]
fn completions_and_man_pages_cover_every_binary_and_subcommand() {
    let subcommands = [
        "status",
        "watch",
        "top",
        "check",
        "restart",
        "stop",
        "start",
        "signal",
        "scale",
        "reload",
        "shutdown",
        "completions",
        "man",
    ];
    for shell in ["bash", "zsh", "fish", "elvish"] {
        let out = run_ok("kennelctl", ["completions", shell]);
        let script = String::from_utf8_lossy(&out.stdout);
        for sub in subcommands {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let out = run_ok(
        "kennelctl",
        ["completions", "bash", "--for", "kennel-watchdog"],
    );
    let script = String::from_utf8_lossy(&out.stdout);
    for flag in ["--min-workers", "--config", "--time-limit", "--type-alias"] {
        assert!(script.contains(flag), "watchdog completions lack {flag}");
    }
    let dir = kennel_tests::fresh_dir("man");
    run_ok("kennelctl", ["man", "--out", dir.to_str().unwrap()]);
    for bin in [
        "kennelctl",
        "kennel-client",
        "kennel-watchdog",
        "kennel-dispatcher",
        "kennel-worker",
        "kennel-run",
        "kennel-bench",
        "kennel-chaos",
    ] {
        let page = std::fs::read_to_string(dir.join(format!("{bin}.1")))
            .unwrap_or_else(|e| panic!("{bin}.1: {e}"));
        assert!(
            page.starts_with(".ie") || page.contains(".TH"),
            "{bin}.1 is not a man page"
        );
    }
    let kennelctl = std::fs::read_to_string(dir.join("kennelctl.1")).unwrap();
    for sub in subcommands {
        assert!(kennelctl.contains(sub), "kennelctl.1 lacks {sub}");
        assert!(
            dir.join(format!("kennelctl-{sub}.1")).exists(),
            "no page for kennelctl {sub}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `kennelctl completions bash | head -3`, and the same for every tool that prints: a reader
/// that went away ends the program quietly, never with a panic.
#[test]
fn a_closed_standard_output_ends_every_tool_quietly() {
    for (tool, args) in [
        ("kennelctl", vec!["completions", "bash"]),
        ("kennelctl", vec!["man", "--help"]),
        ("kennel-client", vec!["--help"]),
        ("kennel-bench", vec!["--help"]),
    ] {
        // The reading end is closed before the tool starts: its first write fails (EPIPE).
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let out = Command::new(bin(tool))
            .args(&args)
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{tool} {args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{tool} {args:?}: {err}");
    }
}
