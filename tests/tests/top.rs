//! `kennelctl top`, driven in a real terminal: tmux at 80×24 (send-keys, capture-pane), every
//! wait a deadline on what the screen or the segment shows. Named `tmux_*`: scripts/test.sh
//! skips and counts them when tmux could not be installed.

use std::process::{Command, Stdio};
use std::time::Duration;

use kennel_tests::{bin, wait_for, Instance};

/// A tmux session, killed when dropped (even if the test fails).
struct Tmux(String);

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "80",
                "-y",
                "24",
                command,
            ])
            .status()
            .expect("tmux runs");
        assert!(ok.success());
        Tmux(name.to_string())
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut cmd = Command::new("tmux");
        cmd.args(["send-keys", "-t", &self.0]).args(keys);
        assert!(cmd.status().unwrap().success());
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.0])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn wait_screen(&self, what: &str, text: &str) {
        wait_for(what, Duration::from_secs(10), || {
            self.screen().contains(text)
        });
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn tmux_top_shows_the_pool_and_its_keys_act_through_the_watchdog() {
    let inst = Instance::start_flags("top", &["--min-workers", "1", "--max-workers", "3"]);
    let command = format!(
        "{} --runtime-dir {} top --interval 200ms",
        bin("kennelctl").display(),
        inst.dir.display()
    );
    let tmux = Tmux::start(&format!("kennel-top-{}", std::process::id()), &command);
    tmux.wait_screen("the console drawn", "vacant");
    let screen = tmux.screen();
    for part in [
        "SLOT",
        "TASKS",
        "CPU%",
        "pool 1 (1–3)",
        "w0",
        "w2",
        "dispatch µs",
        "events",
        "q quit",
        "? help",
        "UP",
        "limits ",
    ] {
        assert!(screen.contains(part), "{part:?} missing from:\n{screen}");
    }
    assert!(
        screen.lines().all(|l| l.chars().count() <= 80),
        "wider than 80 columns:\n{screen}"
    );
    // `?`: the keys, over the table; any key closes it.
    tmux.keys(&["?"]);
    tmux.wait_screen("the help", "asks y");
    tmux.keys(&["x"]);
    wait_for("the help closed", Duration::from_secs(10), || {
        !tmux.screen().contains("asks y")
    });
    // A program busy on the CPU counts in its worker's CPU%: the sandbox is the worker's.
    let spin = kennel_tests::fresh_dir("top-spin").with_extension("c");
    std::fs::write(
        &spin,
        "int main(void){ volatile unsigned long i = 0; for (;;) i++; }\n",
    )
    .unwrap();
    let mut client = Command::new(bin("kennel-client"))
        .args([
            "--port",
            &inst.addr.port().to_string(),
            "run",
            "--time-limit",
            "4s",
        ])
        .arg(&spin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("w0 busy on the CPU", Duration::from_secs(20), || {
        cpu_of(&tmux.screen(), "w0").is_some_and(|c| c >= 50.0)
    });
    let _ = client.wait();
    let _ = std::fs::remove_file(&spin);
    // `+`: the pool grows by one, through `kennelctl scale`.
    tmux.keys(&["+"]);
    inst.wait_status("the pool at 2", Duration::from_secs(10), |s| {
        kennel_tests::running_workers(s) == 2
    });
    tmux.wait_screen("the verb's answer", "scale 2: pool: 2 workers");
    // Select worker 1 (rows: dispatcher, w0, w1; w0 is selected first) and stop it: asked
    // first, refused with any key but y.
    tmux.keys(&["Down", "s"]);
    tmux.wait_screen("the question", "stop worker 1? y confirms");
    tmux.keys(&["n"]);
    tmux.wait_screen("the answer", "stop worker 1: cancelled");
    inst.wait_status("worker 1 still running", Duration::from_secs(10), |s| {
        s["workers"][1]["supervision"] == "running"
    });
    tmux.keys(&["s"]);
    tmux.wait_screen("the question", "stop worker 1? y confirms");
    tmux.keys(&["y"]);
    inst.wait_status("worker 1 stopped", Duration::from_secs(10), |s| {
        s["workers"][1]["state"] == "stopped"
    });
    tmux.wait_screen("the event", "worker 1: now stopped");
    tmux.keys(&["s", "y"]);
    inst.wait_status("worker 1 started again", Duration::from_secs(10), |s| {
        s["workers"][1]["supervision"] == "running"
    });
    tmux.keys(&["q"]);
    wait_for("top to quit on q", Duration::from_secs(10), || {
        !tmux.alive()
    });
    inst.assert_check_ok();
}

/// The CPU% column of the row named `slot` on a `kennelctl top` screen.
fn cpu_of(screen: &str, slot: &str) -> Option<f64> {
    let row = screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(slot))?;
    row.split_whitespace().nth(4)?.parse().ok()
}

#[test]
fn top_without_a_terminal_prints_the_plain_table() {
    let inst = Instance::start("top-pipe", 1, &[]);
    let mut child = Command::new(bin("kennelctl"))
        .args(["--runtime-dir"])
        .arg(&inst.dir)
        .args(["top", "--interval", "100ms"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("refreshing every 100 ms") {
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "top ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("ROLE") && text.contains("worker"), "{text}");
}
