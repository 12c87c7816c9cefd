//! The harness Kennel's system tests share (`tests/*.rs` beside this crate): starts a real
//! Kennel instance (the real binaries, real sockets, real IPC objects) in a runtime directory
//! of its own, on ports the kernel picks, so that tests run in parallel. Waits are on
//! conditions (the readiness line, a state in the segment) with a deadline, never bare sleeps.
//! Starting and stopping a watchdog is `kennel_tools::launch`, shared with the chaos tool
//! and the benchmarks.

#![forbid(unsafe_code)]

pub mod as_user;
pub mod browser;
mod sockets;
mod student;
/// The minimal HTTP client lives in kennel-client (its benchmark uses it too).
pub use kennel_tools::http;
pub use sockets::{allow_fds, connect_from};
pub use student::{recv_1024, worker_exchange, StudentClient};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use kennel_tools::launch::Launched;
use std::time::{Duration, Instant};

use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, Segment, Snapshot};
use serde_json::Value;

/// Where cargo put the binaries: next to the `deps` directory of this test executable.
/// Runs the workspace binary `name` with `args` to its end; panics, showing its stderr, unless
/// it succeeded.
pub fn run_ok<I, S>(name: &str, args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(bin(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    for candidate in [dir.join(name), dir.join("examples").join(name)] {
        if candidate.exists() {
            return candidate;
        }
    }
    panic!(
        "{name} not found in {}: build the workspace first (cargo build --workspace --all-targets, \
         or scripts/test.sh)",
        dir.display()
    );
}

/// A fresh runtime directory path for a test (not created: the watchdog creates it 0700).
/// A gateway token file holding `token`, mode 0600 (the gateway refuses a readable one), in a
/// fresh directory of its own.
pub fn token_file(tag: &str, token: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_dir(tag);
    std::fs::create_dir_all(&dir).expect("a directory for the token");
    let file = dir.join("token");
    std::fs::write(&file, format!("{token}\n")).expect("the token file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    file
}

pub fn fresh_dir(tag: &str) -> PathBuf {
    kennel_tools::launch::fresh_runtime_dir(&format!("test-{tag}"))
}

pub struct Instance {
    pub dir: PathBuf,
    pub log: PathBuf,
    pub addr: SocketAddr,
    /// The watchdog; stopped (SIGTERM) when the instance is dropped.
    pub watchdog: Launched,
}

impl Instance {
    /// Starts a watchdog with `workers` workers and extra flags; returns once it printed its
    /// readiness line (every child ready).
    pub fn start(tag: &str, workers: usize, extra: &[&str]) -> Instance {
        Self::start_in(fresh_dir(tag), workers, extra)
    }

    pub fn start_in(dir: PathBuf, workers: usize, extra: &[&str]) -> Instance {
        let mut args = vec!["--workers".to_string(), workers.to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        Self::launch_with(dir, args, &[])
    }

    /// Starts a watchdog with exactly these flags (besides `--port 0`): an elastic pool's
    /// `--min-workers`/`--max-workers` instead of `--workers`.
    pub fn start_flags(tag: &str, flags: &[&str]) -> Instance {
        Self::launch_with(
            fresh_dir(tag),
            flags.iter().map(|a| a.to_string()).collect(),
            &[],
        )
    }

    /// `start_flags` with environment variables for the watchdog (e.g. `NOTIFY_SOCKET`).
    pub fn start_env(tag: &str, flags: &[&str], env: &[(&str, String)]) -> Instance {
        Self::launch_with(
            fresh_dir(tag),
            flags.iter().map(|a| a.to_string()).collect(),
            env,
        )
    }

    fn launch_with(dir: PathBuf, flags: Vec<String>, env: &[(&str, String)]) -> Instance {
        Self::launch_wrapped(&[], dir, flags, env)
    }

    /// Starts a watchdog through the command `wrap` (which ends by executing it: `setpriv`,
    /// a shell opening descriptors first; see `as_user`).
    pub fn launch_wrapped(
        wrap: &[String],
        dir: PathBuf,
        flags: Vec<String>,
        env: &[(&str, String)],
    ) -> Instance {
        let watchdog_bin = bin("kennel-watchdog");
        let bin_dir = watchdog_bin.parent().expect("bin dir").to_path_buf();
        Self::launch_from(&bin_dir, wrap, dir, flags, env)
    }

    /// `launch_wrapped` with the binaries of `bin_dir`.
    pub fn launch_from(
        bin_dir: &Path,
        wrap: &[String],
        dir: PathBuf,
        flags: Vec<String>,
        env: &[(&str, String)],
    ) -> Instance {
        let log = dir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut args: Vec<String> = vec!["--port".into(), "0".into()];
        // Warm toolchain files are built once per machine and user, by the first instance
        // that gets to it; a test instance lives seconds, so one would start building and be
        // stopped, over and over. Tests of the warm files ask for them.
        if !flags.iter().any(|f| f.starts_with("--warm-toolchains")) {
            args.extend(["--warm-toolchains".into(), "none".into()]);
        }
        args.extend(flags);
        let watchdog = kennel_tools::launch::launch_wrapped(
            wrap,
            bin_dir,
            &dir,
            &args,
            Stdio::from(log_file),
            Duration::from_secs(30),
            env,
        )
        .unwrap_or_else(|e| {
            panic!(
                "{e}; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Instance {
            dir,
            log,
            addr: watchdog.addr,
            watchdog,
        }
    }

    pub fn runtime(&self) -> RuntimeDir {
        RuntimeDir::resolve(Some(&self.dir))
    }

    /// A direct, read-only snapshot of the segment.
    pub fn snapshot(&self) -> Snapshot {
        Segment::attach(&self.runtime(), Access::ReadOnly)
            .expect("attach")
            .snapshot()
    }

    /// Two workers and the HTTP gateway on a port the kernel picks, plus `extra` flags;
    /// returns the instance and the gateway's address.
    pub fn start_http(tag: &str, extra: &[&str]) -> (Instance, SocketAddr) {
        let mut flags = vec!["--workers", "2", "--http", "127.0.0.1:0"];
        flags.extend_from_slice(extra);
        let inst = Self::start_flags(tag, &flags);
        let addr = inst.http_addr();
        (inst, addr)
    }

    /// Where the HTTP gateway listens (the instance was started with `--http`).
    pub fn http_addr(&self) -> SocketAddr {
        let snap = self.snapshot();
        snap.gateway()
            .endpoint
            .expect("the gateway published its address (start the instance with --http)")
    }

    /// `kennelctl status --json`, parsed.
    pub fn status(&self) -> Value {
        let out = self.kennelctl(&["status", "--json"]);
        assert!(out.status.success(), "kennelctl failed: {out:?}");
        serde_json::from_slice(&out.stdout).expect("kennelctl printed valid JSON")
    }

    /// Runs `kennelctl check`; panics, showing what it said, unless every invariant holds.
    pub fn assert_check_ok(&self) {
        let check = self.kennelctl(&["check"]);
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }

    pub fn kennelctl(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin("kennelctl"))
            .arg("--runtime-dir")
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run kennelctl")
    }

    /// Waits until `cond` holds on `kennelctl status --json`, or panics after `timeout`.
    pub fn wait_status(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_status_ok(what, timeout, cond)
    }

    /// Like `wait_status`, but tolerates kennelctl failing meanwhile (a segment being repaired
    /// cannot be attached).
    pub fn wait_status_ok(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.kennelctl(&["status", "--json"]);
            if out.status.success() {
                let s: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
                if cond(&s) {
                    return s;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last kennelctl output: {}{}\nlog:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn worker_pid(&self, slot: usize) -> i32 {
        self.status()["workers"][slot]["pid"]
            .as_i64()
            .expect("worker pid") as i32
    }

    pub fn dispatcher_pid(&self) -> i32 {
        self.status()["dispatcher"]["pid"]
            .as_i64()
            .expect("dispatcher pid") as i32
    }

    /// SIGTERM to the watchdog, then waits for it.
    pub fn stop(mut self) -> ExitStatus {
        self.watchdog
            .stop(Duration::from_secs(20))
            .expect("watchdog stopped within 20 s")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.watchdog.stop(Duration::from_secs(10));
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir(&self.dir);
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A child process that is SIGTERMed (then SIGKILLed) when the test ends, even by a panic, so
/// a failing test never leaves a watchdog behind.
pub struct Guarded(pub Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            signal(self.0.id() as i32, nix::sys::signal::Signal::SIGTERM);
            if wait_with_timeout(&mut self.0, Duration::from_secs(10)).is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
}

pub fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).expect("kill");
}

pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True while /proc/<pid> exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    u32::try_from(pid).is_ok_and(kennel_common::procfs::alive)
}

/// Waits until `cond` holds, or panics naming `what`.
pub fn wait_for(what: &str, timeout: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Clients that send echo requests in a loop (each keeping its control connection, as
/// kennel-client does, retries included) until `stop`; every answer checked. For the tests
/// that must lose no request while something is restarted under them.
pub fn echo_load(
    addr: SocketAddr,
    clients: usize,
    stop: &std::sync::atomic::AtomicBool,
    served: &std::sync::atomic::AtomicU64,
    failed: &std::sync::atomic::AtomicU64,
) {
    use std::sync::atomic::Ordering::SeqCst;
    std::thread::scope(|s| {
        for i in 0..clients {
            s.spawn(move || {
                let cfg = kennel_client::ClientConfig::new(addr);
                let mut c = kennel_client::Client::connect(cfg).expect("connect");
                while !stop.load(SeqCst) {
                    let msg = format!("client {i}");
                    match c.request("echo", msg.as_bytes()) {
                        Ok(a) if a.body == msg.as_bytes() => served.fetch_add(1, SeqCst),
                        _ => failed.fetch_add(1, SeqCst),
                    };
                }
            });
        }
    });
}

/// Workers whose supervision is `running` in a `kennelctl status --json` document.
pub fn running_workers(status: &Value) -> usize {
    status["workers"].as_array().map_or(0, |w| {
        w.iter().filter(|w| w["supervision"] == "running").count()
    })
}
