//! Building the command line of each child from the watchdog's settings.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use kennel_common::options::RuntimeOption;
use kennel_common::segment::RecordId;

use crate::settings::Settings;

/// The command that starts `id`'s process.
///
/// Children get a process group of their own, so a Ctrl-C in the terminal reaches only the
/// watchdog, which then stops them in order (dispatcher first). Their stderr is the watchdog's,
/// so all logs land in one place; stdin and stdout are closed (stdout carries the watchdog's
/// readiness line, which children must not mix into).
///
/// `dispatcher_port` overrides `--port`: once the dispatcher has bound a port (possibly an
/// ephemeral one, with `--port 0`), every restart reuses it, so clients find it again.
pub fn command(s: &Settings, id: RecordId, dispatcher_port: Option<u16>) -> Command {
    let mut cmd = match id {
        RecordId::Dispatcher => {
            let mut c = Command::new(s.bin_dir.join("kennel-dispatcher"));
            c.args(["--port", &dispatcher_port.unwrap_or(s.port).to_string()])
                .args(s.dispatcher.to_args());
            c
        }
        RecordId::Worker(k) => {
            let mut c = Command::new(s.bin_dir.join("kennel-worker"));
            c.args(["--slot", &k.to_string()])
                .args(["--port", &s.worker_port(k).to_string()])
                .args(s.worker.to_args());
            c
        }
    };
    cmd.args(s.shared.to_args())
        .args(RuntimeOption::args_for(&s.runtime))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}
