//! `kennelctl reload` and SIGHUP: the configuration file read again under load; what changed
//! is applied or restarted without losing a request, what cannot change is reported, and a
//! broken file changes nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use kennel_tests::{fresh_dir, signal, wait_for, Instance};

#[test]
fn a_reload_under_load_applies_restarts_and_reports_and_loses_no_request() {
    let file = fresh_dir("reload-file").with_extension("toml");
    std::fs::write(
        &file,
        "workers = 3\nclient-timeout = \"5s\"\nidle-stop = \"30s\"\n",
    )
    .unwrap();
    let inst = Instance::start_flags("reload", &["--config", file.to_str().unwrap()]);
    let before: Vec<i32> = (0..3).map(|k| inst.worker_pid(k)).collect();
    let dispatcher = inst.dispatcher_pid();
    let stop = AtomicBool::new(false);
    let (served, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        let (stop_r, served_r, failed_r, addr) = (&stop, &served, &failed, inst.addr);
        s.spawn(move || kennel_tests::echo_load(addr, 8, stop_r, served_r, failed_r));
        // A failed assertion below must end the load too, or the scope waits for it forever.
        let _stop = StopOnDrop(&stop);
        wait_for("requests flowing", Duration::from_secs(10), || {
            served.load(SeqCst) > 50
        });
        std::fs::write(
            &file,
            "workers = 3\nclient-timeout = \"6s\"\nidle-stop = \"20s\"\nqueue-timeout = \"3s\"\nbind = \"127.0.0.2\"\n",
        )
        .unwrap();
        let out = inst.kennelctl(&["reload"]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{out:?}");
        assert!(said.contains("applied idle-stop"), "{said}");
        assert!(
            said.contains("restarting the dispatcher, the workers, one at a time"),
            "{said}"
        );
        assert!(said.contains("(kept): bind"), "{said}");
        wait_for("every process replaced", Duration::from_secs(30), || {
            let s = inst.status();
            (0..3).all(|k| {
                s["workers"][k]["pid"].as_i64() != Some(before[k] as i64)
                    && s["workers"][k]["supervision"] == "running"
            }) && s["dispatcher"]["pid"].as_i64() != Some(dispatcher as i64)
                && s["dispatcher"]["supervision"] == "running"
        });
        let after = served.load(SeqCst);
        wait_for("requests after the reload", Duration::from_secs(10), || {
            served.load(SeqCst) > after + 50
        });
    });
    assert_eq!(failed.load(SeqCst), 0, "requests lost during the reload");
    // The new workers run with the new flag.
    let cmdline = kennel_common::procfs::cmdline(inst.worker_pid(0) as u32).unwrap_or_default();
    assert!(cmdline.contains("--client-timeout 6000ms"), "{cmdline}");

    // A broken file: refused, with its line; nothing changes.
    let pids: Vec<i32> = (0..3).map(|k| inst.worker_pid(k)).collect();
    std::fs::write(&file, "workers = 3\nclient-timeout = \"whenever\"\n").unwrap();
    let out = inst.kennelctl(&["reload"]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        said.contains("nothing changed") && said.contains(":2: "),
        "{said}"
    );
    assert_eq!((0..3).map(|k| inst.worker_pid(k)).collect::<Vec<_>>(), pids);

    // SIGHUP reloads (the same refusal, logged) instead of stopping the instance.
    signal(
        inst.watchdog.child.id() as i32,
        nix::sys::signal::Signal::SIGHUP,
    );
    wait_for("the SIGHUP reload logged", Duration::from_secs(10), || {
        inst.log_text()
            .contains("SIGHUP: reload refused: nothing changed")
    });
    inst.assert_check_ok();
    let _ = std::fs::remove_file(&file);
}

/// `scale` below a fixed pool lowers its minimum, and says so; a reload sets the minimum back
/// and meets it at once (it once said "applied min-workers" and left a slot vacant 10 s).
#[test]
fn a_reload_after_scale_restores_the_minimum_at_once() {
    let inst = Instance::start("reload-scale", 2, &[]);
    let said = |args: &[&str]| {
        let out = inst.kennelctl(args);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let s = said(&["scale", "1"]);
    assert!(s.contains("the minimum lowered from 2 to 1"), "{s}");
    inst.wait_status("one worker", Duration::from_secs(10), |s| {
        s["workers"][1]["state"] == "vacant"
    });
    let r = said(&["reload"]);
    assert!(r.contains("pool: 2 workers"), "{r}");
    inst.wait_status("two workers again", Duration::from_secs(5), |s| {
        s["workers"][1]["state"] == "idle"
    });
}

/// Sets the flag when dropped: at the end of the scope's body, or when an assertion fails in it.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}
