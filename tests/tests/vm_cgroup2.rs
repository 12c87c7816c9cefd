//! cgroup v2, tested on a cgroup-v2 kernel: these machines are cgroup v1, so the test boots
//! Debian's kernel under qemu's software emulation (KVM is not usable here), shares the host's
//! root read-only over 9p so the VM runs these very binaries, bubblewrap and toolchains, and
//! runs `tests/vm/cgroup2.sh` there: Kennel as root, then as uid 65534 in a cgroup delegated
//! to it the way systemd delegates one. A handful of small programs each way; the guest prints
//! one `VMRESULT` line per fact and this test checks them.
//!
//! Needs `qemu-system-x86_64`, a kernel in /boot with its 9p modules, `busybox` and `cpio`
//! (scripts/test.sh installs qemu-system-x86, linux-image-amd64, busybox-static and cpio as
//! root, and skips and counts this test where it cannot).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// What the VM needs from the host.
struct Parts {
    kernel: PathBuf,
    modules: PathBuf,
    busybox: PathBuf,
}

fn parts() -> Result<Parts, String> {
    for tool in ["qemu-system-x86_64", "cpio"] {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Err(format!("{tool} is not installed"));
        }
    }
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map_err(|e| format!("/boot: {e}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort();
    let kernel = kernels.pop().ok_or("no kernel in /boot")?;
    let version = kernel.file_name().unwrap().to_string_lossy()["vmlinuz-".len()..].to_string();
    let modules = Path::new("/lib/modules").join(&version);
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or("busybox is not installed")?;
    Ok(Parts {
        kernel,
        modules,
        busybox,
    })
}

/// The modules 9p over virtio needs, dependencies first, from `modules.dep`.
fn module_order(modules: &Path) -> Result<Vec<PathBuf>, String> {
    let dep = std::fs::read_to_string(modules.join("modules.dep"))
        .map_err(|e| format!("modules.dep: {e}"))?;
    let deps: HashMap<&str, Vec<&str>> = dep
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(m, d)| (m, d.split_whitespace().collect()))
        .collect();
    fn visit<'a>(m: &'a str, deps: &HashMap<&'a str, Vec<&'a str>>, out: &mut Vec<&'a str>) {
        if out.contains(&m) {
            return;
        }
        for d in deps.get(m).into_iter().flatten().rev() {
            visit(d, deps, out);
        }
        out.push(m);
    }
    let mut out = Vec::new();
    for want in ["virtio_pci", "9pnet_virtio", "9p"] {
        let m = deps
            .keys()
            .find(|k| Path::new(k).file_stem().is_some_and(|s| s == want))
            .ok_or(format!("no {want} module"))?;
        visit(m, &deps, &mut out);
    }
    Ok(out.into_iter().map(|m| modules.join(m)).collect())
}

/// Builds the initramfs: busybox, tests/vm/init.sh as /init, the modules and their order.
fn initramfs(p: &Parts, dir: &Path) -> Result<PathBuf, String> {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("bin")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root.join("modules")).map_err(|e| e.to_string())?;
    std::fs::copy(&p.busybox, root.join("bin/busybox")).map_err(|e| e.to_string())?;
    let init = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/init.sh");
    std::fs::copy(init, root.join("init")).map_err(|e| e.to_string())?;
    std::fs::set_permissions(
        root.join("init"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| e.to_string())?;
    let mut order = String::new();
    for m in module_order(&p.modules)? {
        let name = m.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".ko.xz") || name.ends_with(".ko.zst") {
            return Err(format!(
                "{name} is compressed: busybox insmod cannot load it"
            ));
        }
        std::fs::copy(&m, root.join("modules").join(&name)).map_err(|e| e.to_string())?;
        order.push_str(&name);
        order.push('\n');
    }
    std::fs::write(root.join("modules/order"), order).map_err(|e| e.to_string())?;
    let image = dir.join("initrd.cpio");
    let out = std::fs::File::create(&image).map_err(|e| e.to_string())?;
    let ok = Command::new("sh")
        .args(["-c", "find . | cpio -o -H newc"])
        .current_dir(&root)
        .stdout(out)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(image).ok_or("cpio failed".into())
}

/// Boots the VM and returns what the guest printed.
fn boot(p: &Parts, image: &Path) -> String {
    let bin = kennel_tests::bin("kennel-watchdog")
        .parent()
        .unwrap()
        .to_path_buf();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/cgroup2.sh");
    let append = format!(
        "console=ttyS0 quiet panic=-1 kennel.script={} kennel.bin={}",
        script.display(),
        bin.display()
    );
    let child = Command::new("qemu-system-x86_64")
        .args([
            "-machine",
            "q35",
            "-accel",
            "tcg,thread=multi",
            "-cpu",
            "max",
        ])
        .args([
            "-m",
            "2048",
            "-smp",
            "2",
            "-nographic",
            "-no-reboot",
            "-nic",
            "none",
        ])
        .arg("-kernel")
        .arg(&p.kernel)
        .arg("-initrd")
        .arg(image)
        .args(["-append", &append])
        .args([
            "-virtfs",
            "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu starts");
    let mut guard = kennel_tests::Guarded(child);
    let stdout = guard.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stdout), &mut s);
        s
    });
    let status = kennel_tests::wait_with_timeout(&mut guard.0, Duration::from_secs(900));
    if status.is_none() {
        let _ = guard.0.kill();
    }
    let out = reader.join().unwrap_or_default();
    assert!(
        status.is_some(),
        "the VM did not power off within 15 minutes:\n{out}"
    );
    out
}

#[test]
#[ignore = "boots a cgroup-v2 kernel under qemu (minutes): scripts/test.sh runs it as root where qemu and a kernel are installed"]
fn vm_cgroup2_limits_hold_as_root_and_as_a_delegated_user() {
    let p = parts().unwrap_or_else(|e| panic!("cannot boot the test VM: {e}"));
    let dir = kennel_tests::fresh_dir("vm");
    std::fs::create_dir_all(&dir).unwrap();
    let image = initramfs(&p, &dir).unwrap_or_else(|e| panic!("initramfs: {e}"));
    let started = std::time::Instant::now();
    let out = boot(&p, &image);
    eprintln!("VM run took {:.0} s", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    for l in lines.iter().filter(|l| l.starts_with("VM")) {
        eprintln!("{l}");
    }
    assert!(
        lines.contains(&"VMDONE"),
        "the guest did not finish:\n{out}"
    );
    let results: HashMap<(String, String), String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("VMRESULT "))
        .filter_map(|l| {
            let mut it = l.splitn(3, ' ');
            Some((
                (it.next()?.into(), it.next()?.into()),
                it.next().unwrap_or("").into(),
            ))
        })
        .collect();
    check(&results, "root", "cgroup v2 as root: memory pids cpu");
    check(&results, "nobody", "cgroup v2 delegated: memory pids cpu");
    let cap = json(&results, "root", "cpu-max");
    assert_eq!(cap["verdict"], "accepted", "{cap}");
    // The program's own CPU time over the last 3 s of its busy loop (the run's wall time also
    // holds the interpreter's start, reading files over 9p: time that is not CPU).
    let share: f64 = cap["stdout"]
        .as_str()
        .and_then(|s| s.trim().strip_prefix("share "))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no share printed: {cap}"));
    eprintln!("--cpu-max 50 in the VM: {:.1} % of one CPU", share * 100.0);
    // The cap is a ceiling: at most 60 %. Under qemu's emulation the quota under-delivers
    // (its timers are coarse: 40-43 % measured run after run, 42.5 % when this test was
    // written), so the floor is 30 %; the host's own cpu_cap test holds 50 % ± 10 %.
    assert!(
        (0.3..=0.6).contains(&share),
        "CPU share {share:.3} not within 30-60 % under a 50 % cap: {cap}"
    );
}

fn json(r: &HashMap<(String, String), String>, who: &str, case: &str) -> Value {
    let text = r
        .get(&(who.to_string(), case.to_string()))
        .unwrap_or_else(|| panic!("no {case} result as {who}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{case} as {who}: {e}: {text}"))
}

/// The same checks for each user.
fn check(r: &HashMap<(String, String), String>, who: &str, mode: &str) {
    let word = |case: &str| r.get(&(who.to_string(), case.to_string())).cloned();
    assert_eq!(word("mode").as_deref(), Some(mode), "as {who}");
    let verdict = |case: &str| {
        json(r, who, case)["verdict"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let hello = json(r, who, "hello");
    assert_eq!(
        (hello["verdict"].as_str(), hello["stdout"].as_str()),
        (Some("accepted"), Some("hello\n")),
        "as {who}: {hello}"
    );
    assert_eq!(
        verdict("gig"),
        "memory_limit",
        "as {who}: one 1 GiB allocation"
    );
    assert_eq!(
        verdict("five"),
        "memory_limit",
        "as {who}: five children of 80 MiB"
    );
    let spin = json(r, who, "spin4");
    assert_eq!(
        (spin["verdict"].as_str(), spin["time_limit"].as_str()),
        (Some("time_limit"), Some("cpu")),
        "as {who}: {spin}"
    );
    assert_ne!(verdict("bomb"), "accepted", "as {who}: a fork bomb");
    assert_eq!(
        verdict("after-bomb"),
        "accepted",
        "as {who}: the worker after the bomb"
    );
    assert_eq!(
        verdict("after-kill"),
        "accepted",
        "as {who}: the worker after a kill"
    );
    let dead = word("dead-worker").unwrap_or_default();
    let left = word("cgroups-left").unwrap_or_default();
    let empty = word("empty-run-cgroups");
    assert_eq!(
        empty.as_deref().map(str::trim),
        Some(""),
        "as {who}: a finished run's cgroup left (all: {left})"
    );
    assert!(
        !left.contains(&format!("kennel-w{dead}-")),
        "as {who}: the dead worker's cgroup left: {left}"
    );
    assert_eq!(
        word("stopped-cgroups").as_deref().map(str::trim),
        Some(""),
        "as {who}: left at stop"
    );
    if let Some(perf) = word("perf") {
        let ms: Vec<f64> = perf
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [bare, kennel] = ms[..] {
            eprintln!("as {who}, in the VM: python hello bare {bare} ms, through Kennel {kennel} ms: {:.2}x", kennel / bare);
        }
    }
}
