//! Building the command line of each child from the watchdog's settings, and checking at
//! start that the children's binaries are there.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use kennel_common::options::{ListenOption, RuntimeOption};
use kennel_common::segment::RecordId;

use crate::settings::Settings;

/// The command that starts `id`'s process, serving the listening socket the watchdog holds
/// for it (`listen_fd`, inherited; `port` is its port, for `ps` and the logs).
///
/// Children get a process group of their own, so a Ctrl-C in the terminal reaches only the
/// watchdog, which then stops them in order (dispatcher first). Their stderr is the watchdog's,
/// so all logs land in one place; stdin and stdout are closed (stdout carries the watchdog's
/// readiness line, which children must not mix into).
///
/// The gateway is a client of the dispatcher at `dispatcher` (the workers' runner limits are
/// its maxima too, so it refuses what a worker would).
pub fn command(
    s: &Settings,
    id: RecordId,
    listen_fd: i32,
    port: u16,
    dispatcher: std::net::SocketAddr,
) -> Command {
    let mut cmd = match id {
        RecordId::Dispatcher => {
            let mut c = Command::new(s.bin_dir.join(DISPATCHER_BIN));
            c.args(s.dispatcher.to_args());
            c
        }
        RecordId::Worker(k) => {
            let mut c = Command::new(s.bin_dir.join(WORKER_BIN));
            c.args(["--slot", &k.to_string()]).args(s.worker.to_args());
            c
        }
        RecordId::Gateway => {
            let mut c = Command::new(s.bin_dir.join(GATEWAY_BIN));
            c.args(["--dispatcher", &dispatcher.to_string()])
                .args(s.gateway.to_args())
                .args(s.worker.to_args());
            c
        }
    };
    cmd.args(["--port", &port.to_string()])
        .args(ListenOption::args_for(listen_fd))
        .args(s.shared.to_args())
        .args(RuntimeOption::args_for(&s.runtime))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// The dispatcher's binary, in `--bin-dir`.
pub const DISPATCHER_BIN: &str = "kennel-dispatcher";
/// The workers' binary, in `--bin-dir`.
pub const WORKER_BIN: &str = "kennel-worker";
/// The HTTP gateway's binary, in `--bin-dir` (needed only with `--http`).
pub const GATEWAY_BIN: &str = "kennel-gateway";

/// Checks, before anything is created, that the child binaries are there and executable
/// (the gateway's only with `--http`): a missing one is one clear error naming its path, not
/// a crash loop.
pub fn check_binaries(s: &Settings) -> kennel_common::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let gateway = s.gateway.http.map(|_| GATEWAY_BIN);
    for name in [DISPATCHER_BIN, WORKER_BIN].into_iter().chain(gateway) {
        let path = s.bin_dir.join(name);
        let ok = std::fs::metadata(&path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if !ok {
            return Err(kennel_common::Error::Invalid(format!(
                "{} is missing or not executable (pass --bin-dir DIR holding {DISPATCHER_BIN} and {WORKER_BIN})",
                path.display()
            )));
        }
    }
    Ok(())
}
