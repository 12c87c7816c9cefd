//! The seams of the codebase, checked as the code stands (issue 22): crates depend only
//! downward, no two files of a crate import each other (directly or round a cycle), and no
//! function outside the tests is longer than 100 lines.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Each crate's floor: a crate may depend only on crates of a lower floor.
const FLOORS: [(&str, u32); 11] = [
    ("kennel-common", 0),
    ("kennel-options", 1),
    ("kennel-runner", 2),
    ("kennel-worker", 3),
    ("kennel-dispatcher", 3),
    ("kennel-watchdog", 4),
    ("kennel-client", 4),
    ("kennel-gateway", 5),
    ("kennel-tools", 5),
    ("kennel-fuzz", 6),
    ("kennel-tests", 7),
];

#[test]
fn every_crate_depends_only_on_crates_below_it() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{out:?}");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let floors: BTreeMap<&str, u32> = FLOORS.into_iter().collect();
    let mut seen = 0;
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let floor = *floors
            .get(name)
            .unwrap_or_else(|| panic!("{name} has no floor in FLOORS: give it one"));
        seen += 1;
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            if let Some(&below) = floors.get(dep) {
                assert!(
                    below < floor,
                    "{name} (floor {floor}) depends on {dep} (floor {below}), not below it"
                );
            }
        }
    }
    assert_eq!(
        seen,
        FLOORS.len(),
        "every crate of the workspace was checked"
    );
}

/// Runs one of the repository's checking scripts; its output is the failure message.
fn script(name: &str) {
    let out = Command::new("python3")
        .arg(workspace().join("scripts").join(name))
        .output()
        .expect("python3");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{name}:\n{said}");
    assert!(said.contains(": 0 "), "{name} did not count: {said}");
}

#[test]
fn no_file_of_a_crate_imports_another_that_imports_it_back() {
    script("module-cycles.py");
}

#[test]
fn no_function_outside_the_tests_is_over_100_lines() {
    script("long-functions.py");
}
