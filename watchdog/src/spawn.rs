//! Building the command line of each child from the watchdog's settings.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

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
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    let mut cmd = match id {
        RecordId::Dispatcher => {
            let mut c = Command::new(s.bin_dir.join("kennel-dispatcher"));
            c.args(["--bind", &s.bind.to_string()])
                .args(["--port", &dispatcher_port.unwrap_or(s.port).to_string()])
                .args(["--queue-timeout-ms", &ms(s.queue_timeout)])
                .args(["--idle-timeout-ms", &ms(s.idle_timeout)])
                .args(["--max-connections", &s.max_connections.to_string()])
                .args(["--max-per-source", &s.max_per_source.to_string()]);
            if s.require_token {
                c.arg("--require-token");
            }
            c
        }
        RecordId::Worker(k) => {
            let mut c = Command::new(s.bin_dir.join("kennel-worker"));
            c.args(["--slot", &k.to_string()])
                .args(["--bind", &s.bind.to_string()])
                .args(["--port", &s.worker_port(k).to_string()])
                .args(["--client-timeout-ms", &ms(s.client_timeout)])
                .args(["--max-payload", &s.max_payload.to_string()]);
            if s.require_token {
                c.arg("--require-token");
            }
            c
        }
    };
    cmd.arg("--runtime-dir")
        .arg(s.runtime.path())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}
