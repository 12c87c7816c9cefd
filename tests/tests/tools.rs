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
    assert!(report["rss_dispatcher_1000_idle_kib"].as_u64().unwrap() > 0);
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
