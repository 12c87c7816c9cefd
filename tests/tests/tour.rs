//! The README's tour, run as written: every `kennel-client` and `kennelctl` command of its
//! steps 2, 2b and 3 (`target/release/` replaced by this build's directory, the instance found
//! through `KENNEL_RUNTIME_DIR`), from the repository's root, with the files of `examples/`.
//! A tour that drifts from the code fails here, not in a newcomer's first hour.

use std::path::Path;
use std::process::Command;

use kennel_tests::{bin, Instance};

/// The tour's command lines: `$ target/release/…` in README.md, comments dropped.
fn tour_commands(readme: &str) -> Vec<String> {
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("$ target/release/"))
        .map(|l| l.split("  #").next().unwrap_or(l).trim().to_string())
        .collect()
}

#[test]
fn sandbox_the_readme_tour_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = tour_commands(&readme);
    assert!(commands.len() >= 10, "{commands:?}");
    let inst = Instance::start("tour", 2, &[]);
    let bin_dir = bin("kennelctl").parent().unwrap().to_path_buf();
    let mut ran = 0;
    for c in &commands {
        // Interactive, live or instance-changing commands are exercised by their own tests.
        let skip = [
            "--interactive",
            "DIR",
            "watch",
            "top",
            "restart",
            "stop",
            "scale",
            "reload",
            "shutdown",
        ];
        if skip.iter().any(|s| c.contains(s)) {
            continue;
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{}/{c}", bin_dir.display()))
            .current_dir(root)
            .env("KENNEL_RUNTIME_DIR", &inst.dir)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
        // `run examples/loop.cpp ; echo $?` prints the status itself: 3, a time limit.
        if c.contains("loop.cpp") {
            let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(
                said.contains("time limit (cpu)") && status == "3",
                "{c}: {said}"
            );
            continue;
        }
        assert!(out.status.success(), "{c}: {said}");
        if c.contains("hello.c") {
            assert!(
                said.contains("Hello, world") && said.contains("accepted"),
                "{c}: {said}"
            );
        }
        if c.contains("sum.py") {
            assert!(said.contains(r#""stdout":"7\n""#), "{c}: {said}");
        }
        if c.contains("bonjour") {
            assert!(said.contains(": bonjour"), "{c}: {said}");
        }
    }
    assert!(ran >= 9, "only {ran} commands ran");
}
