//! Kennel started the way the people who run it start it: as root, and as an ordinary user
//! (`nobody`, through `setpriv`, which executes the watchdog in its own process); optionally
//! from a careless launcher that leaves descriptors open without close-on-exec. Every sandbox
//! property is tested each way: a limit that holds only as root is not a limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{bin, fresh_dir, Instance};

/// Who starts the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// This test process's user (root in CI).
    Me,
    /// uid 65534 with no supplementary group: an ordinary user (needs root to switch).
    Nobody,
}

impl Who {
    pub fn name(self) -> &'static str {
        match self {
            Who::Me if nix::unistd::geteuid().is_root() => "root",
            Who::Me => "this user",
            Who::Nobody => "nobody",
        }
    }

    /// The command prefix that makes a command run as this user.
    pub fn prefix(self) -> Vec<String> {
        match self {
            Who::Me => vec![],
            Who::Nobody => ["setpriv", "--reuid", "65534", "--regid", "65534"]
                .into_iter()
                .chain(["--clear-groups", "--"])
                .map(String::from)
                .collect(),
        }
    }
}

/// Everyone the tests can start Kennel as here: as root, root and `nobody`; as an ordinary
/// user, that user only (which is the ordinary-user case).
pub fn everyone() -> Vec<Who> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("as an ordinary user: the tests run as this user only (nobody needs root)");
        return vec![Who::Me];
    }
    vec![Who::Me, Who::Nobody]
}

/// The binaries Kennel's processes need, for a copy `nobody` can run.
const BINARIES: [&str; 7] = [
    "kennel-watchdog",
    "kennel-dispatcher",
    "kennel-worker",
    "kennel-gateway",
    "kennel-run",
    "kennel-client",
    "kennelctl",
];

/// Where `who` runs the binaries from: the build directory, or — when `nobody` cannot reach
/// it (a checkout under a private home) — a world-readable copy made once per test process.
pub fn bin_dir(who: Who) -> PathBuf {
    let here = bin("kennel-watchdog").parent().unwrap().to_path_buf();
    if who == Who::Me {
        return here;
    }
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let runs = Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                "--",
            ])
            .arg(here.join("kennel-watchdog"))
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if runs {
            return here.clone();
        }
        let copy = std::env::temp_dir().join(format!("kennel-nobody-bin-{}", std::process::id()));
        std::fs::create_dir_all(&copy).expect("a directory for the copy");
        for name in BINARIES {
            std::fs::copy(here.join(name), copy.join(name)).expect("copying a binary");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!(
            "nobody cannot reach {}: running a copy in {}",
            here.display(),
            copy.display()
        );
        copy
    })
    .clone()
}

/// Descriptors a careless launcher leaves open (no close-on-exec): `40` reads `secret`,
/// `41` appends to `sink`.
pub struct Leaked<'a> {
    pub secret: &'a Path,
    pub sink: &'a Path,
}

/// Starts an instance as `who`, with `workers` workers and `extra` flags, through a shell that
/// first opens `leak`'s descriptors when given.
pub fn start(
    tag: &str,
    who: Who,
    workers: usize,
    extra: &[&str],
    leak: Option<Leaked>,
) -> Instance {
    let mut wrap: Vec<String> = Vec::new();
    if let Some(l) = leak {
        wrap.extend(
            [
                // bash: dash takes single-digit descriptors only.
                "bash",
                "-c",
                "exec 40<\"$1\" 41>>\"$2\"; shift 2; exec \"$@\"",
                "bash",
            ]
            .map(String::from),
        );
        wrap.push(l.secret.display().to_string());
        wrap.push(l.sink.display().to_string());
    }
    wrap.extend(who.prefix());
    let mut flags = vec!["--workers".to_string(), workers.to_string()];
    flags.extend(extra.iter().map(|s| s.to_string()));
    Instance::launch_from(&bin_dir(who), &wrap, fresh_dir(tag), flags, &[])
}

/// Writes `source` into a fresh directory as `name` and runs it through `kennel-client run
/// --json` on `inst` with `args`; returns the result document and the client's output.
pub fn run_json(
    inst: &Instance,
    name: &str,
    source: &str,
    args: &[&str],
) -> (serde_json::Value, Output) {
    let dir: PathBuf = fresh_dir("program");
    std::fs::create_dir_all(&dir).expect("program dir");
    let path = dir.join(name);
    std::fs::write(&path, source).expect("program file");
    // By port: the client refuses a runtime directory of another user (it would be `nobody`'s).
    let out = Command::new(bin("kennel-client"))
        .arg("--port")
        .arg(inst.addr.port().to_string())
        .arg("run")
        .arg(&path)
        .arg("--json")
        .args(args)
        .output()
        .expect("kennel-client runs");
    let _ = std::fs::remove_dir_all(&dir);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON result ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out)
}

/// `kennelctl status --json` on `inst`, run as `who` (the runtime directory is theirs).
pub fn status_as(inst: &Instance, who: Who) -> serde_json::Value {
    let mut cmd = match who.prefix().split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin_dir(who).join("kennelctl"));
            c
        }
        None => Command::new(bin("kennelctl")),
    };
    let out = cmd
        .arg("--runtime-dir")
        .arg(&inst.dir)
        .args(["status", "--json"])
        .output()
        .expect("kennelctl runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kennelctl status as {}: {e}: {}",
            who.name(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A Python program sleeping for a minute, sent to `inst` by a `kennel-client` in the
/// background with `marker` as its argument (to find its processes by): the client and the
/// program's directory (the caller removes it).
pub fn start_sleeper(inst: &Instance, marker: &str) -> (std::process::Child, PathBuf) {
    let dir = fresh_dir("sleeper");
    std::fs::create_dir_all(&dir).expect("program dir");
    let program = dir.join("sleep.py");
    std::fs::write(&program, "import time\ntime.sleep(60)\n").expect("program file");
    let client = Command::new(bin("kennel-client"))
        .args(["--port", &inst.addr.port().to_string()])
        .args(["run", "--wall-limit", "30s", "--arg", marker])
        .arg(&program)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kennel-client starts");
    (client, dir)
}

/// The processes whose command line holds `marker` (a run's marker argument).
pub fn processes_with(marker: &str) -> Vec<u32> {
    kennel_common::procfs::pids()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(marker.len()).any(|w| w == marker.as_bytes()))
        })
        .collect()
}
