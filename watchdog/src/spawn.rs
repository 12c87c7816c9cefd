//! Building the command line of each child from the watchdog's settings, and checking at
//! start that the children's binaries are there.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use kennel_common::segment::RecordId;
use kennel_options::shared::{ChildOptions, ListenOption, RuntimeOption};
use kennel_options::{dispatcher, gateway, worker, Group};

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
    // Each child's own command line, built as the typed value its flags parse to, and written
    // back as argv by the one definition of those flags.
    let child = ChildOptions {
        runtime: RuntimeOption::naming(&s.runtime),
        shared: s.shared.clone(),
        listen: ListenOption {
            listen_fd: Some(listen_fd),
        },
    };
    let (binary, argv) = match id {
        RecordId::Dispatcher => {
            let args = dispatcher::Args {
                child,
                port,
                options: s.dispatcher.clone(),
            };
            (DISPATCHER_BIN, args.to_args())
        }
        RecordId::Worker(slot) => {
            let args = worker::Args {
                child,
                slot,
                port,
                standby_fd: None,
                options: s.worker.clone(),
            };
            (WORKER_BIN, args.to_args())
        }
        RecordId::Gateway => {
            let args = gateway::Args {
                child,
                gateway: s.gateway.clone(),
                worker: s.worker.clone(),
                dispatcher,
                port,
            };
            (GATEWAY_BIN, args.to_args())
        }
    };
    let mut cmd = Command::new(s.bin_dir.join(binary));
    cmd.args(argv)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// The command that starts a standby worker (`spare.rs`): the workers' flags, no slot yet
/// (`--slot 0 --port 0` are placeholders), and the socket its slot will come on at `fd`.
pub fn standby_command(s: &Settings, fd: i32) -> Command {
    let args = worker::Args {
        child: ChildOptions {
            runtime: RuntimeOption::naming(&s.runtime),
            shared: s.shared.clone(),
            listen: ListenOption { listen_fd: None },
        },
        slot: 0,
        port: 0,
        standby_fd: Some(fd),
        options: s.worker.clone(),
    };
    let mut cmd = Command::new(s.bin_dir.join(WORKER_BIN));
    cmd.args(args.to_args())
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
