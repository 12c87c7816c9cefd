//! Starting a whole Kennel instance from another program (the chaos tool, the benchmarks):
//! spawn `kennel-watchdog` in a fresh private runtime directory, wait for its readiness line,
//! stop it with SIGTERM. A launched instance is stopped when the handle is dropped, so a
//! failing tool never leaves one behind.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A running instance started by `launch`.
pub struct Launched {
    pub child: Child,
    /// The dispatcher's address, from the readiness line.
    pub addr: SocketAddr,
    pub runtime_dir: PathBuf,
}

/// The directory holding this program's sibling binaries (kennel-watchdog, …).
pub fn bin_dir() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| io::Error::other("the executable has no directory"))
}

/// A fresh runtime directory path under the temporary directory (not created: the watchdog
/// creates it 0700). Unique within this process (a counter) and across processes (the pid).
pub fn fresh_runtime_dir(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("kennel-{tag}-{}-{n}-{nanos}", std::process::id()))
}

/// Starts `kennel-watchdog` from `bin_dir` with `args` (plus `--runtime-dir`), its log going
/// to `stderr`, and waits up to `timeout` for it to report the system up.
pub fn launch(
    bin_dir: &Path,
    runtime_dir: &Path,
    args: &[String],
    stderr: Stdio,
    timeout: Duration,
) -> io::Result<Launched> {
    launch_env(bin_dir, runtime_dir, args, stderr, timeout, &[])
}

/// `launch`, with these environment variables added (e.g. `NOTIFY_SOCKET`).
pub fn launch_env(
    bin_dir: &Path,
    runtime_dir: &Path,
    args: &[String],
    stderr: Stdio,
    timeout: Duration,
    env: &[(&str, String)],
) -> io::Result<Launched> {
    launch_wrapped(&[], bin_dir, runtime_dir, args, stderr, timeout, env)
}

/// `launch_env` through the command `wrap` (e.g. `setpriv --reuid nobody …`, or a shell that
/// opens descriptors first), which must end by executing the watchdog in its own process so
/// the pid stays the watchdog's.
pub fn launch_wrapped(
    wrap: &[String],
    bin_dir: &Path,
    runtime_dir: &Path,
    args: &[String],
    stderr: Stdio,
    timeout: Duration,
    env: &[(&str, String)],
) -> io::Result<Launched> {
    let watchdog = bin_dir.join("kennel-watchdog");
    let mut cmd = match wrap.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&watchdog);
            c
        }
        None => Command::new(&watchdog),
    };
    let mut child = cmd
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .arg("--runtime-dir")
        .arg(runtime_dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(timeout).unwrap_or_default();
    let addr = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|a| a.parse().ok());
    let mut launched = Launched {
        child,
        addr: "0.0.0.0:0".parse().expect("literal"),
        runtime_dir: runtime_dir.to_path_buf(),
    };
    match addr {
        Some(a) => {
            launched.addr = a;
            Ok(launched)
        }
        None => Err(io::Error::other(format!(
            "kennel-watchdog did not report ready within {} s (got {line:?})",
            timeout.as_secs()
        ))),
    }
}

impl Launched {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits up to `timeout` (SIGKILL after that).
    pub fn stop(&mut self, timeout: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                return self.child.wait();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.stop(Duration::from_secs(10));
    }
}

/// A watchdog for a benchmark: the binaries next to this one, a fresh runtime directory
/// tagged `tag`, `--port 0` and `args`, its log discarded; ready when this returns.
pub fn launch_for_bench(tag: &str, args: &[&str]) -> Result<Launched, String> {
    let mut all = vec!["--port".to_string(), "0".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    launch(
        &bin_dir().map_err(|e| e.to_string())?,
        &fresh_runtime_dir(tag),
        &all,
        std::process::Stdio::null(),
        std::time::Duration::from_secs(30),
    )
    .map_err(|e| e.to_string())
}
