//! Command-line options that more than one binary takes, each defined once as a clap `Args`
//! group: binaries `#[command(flatten)]` them, and the watchdog turns the ones it passes on
//! back into argv with `to_args`, so a flag's name, default and unit live in one place.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;

use crate::runtime::{RuntimeDir, ENV_RUNTIME_DIR};

/// `--runtime-dir`: which instance (every binary).
#[derive(Debug, Clone, Default, Args)]
pub struct RuntimeOption {
    /// Runtime directory of the instance (default: $XDG_RUNTIME_DIR/kennel, else
    /// /tmp/kennel-<uid>).
    #[arg(long, env = ENV_RUNTIME_DIR, global = true)]
    pub runtime_dir: Option<PathBuf>,
}

impl RuntimeOption {
    pub fn resolve(&self) -> RuntimeDir {
        RuntimeDir::resolve(self.runtime_dir.as_deref())
    }

    /// The flag that names `resolved` to a child.
    pub fn args_for(resolved: &RuntimeDir) -> Vec<String> {
        vec![
            "--runtime-dir".into(),
            resolved.path().display().to_string(),
        ]
    }
}

/// `--listen-fd N`: serve the listening socket inherited as descriptor N (the watchdog binds
/// every port once, at start, and hands each child its own), instead of binding `--port`.
#[derive(Debug, Clone, Default, Args)]
pub struct ListenOption {
    /// Serve the listening socket inherited as this descriptor instead of binding --port.
    #[arg(long)]
    pub listen_fd: Option<i32>,
}

impl ListenOption {
    /// The flag that hands descriptor `fd` to a child.
    pub fn args_for(fd: i32) -> Vec<String> {
        vec!["--listen-fd".into(), fd.to_string()]
    }
}

/// Options the dispatcher and the workers share, and the watchdog hands to both.
#[derive(Debug, Clone, Args)]
pub struct SharedOptions {
    /// Address the dispatcher and the workers listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The dispatcher answers `PORT TOKEN` and workers serve only the client presenting that
    /// one-time token (`TOKEN <hex>\n`). Clients that parse a bare port cannot use this mode.
    #[arg(long)]
    pub require_token: bool,
}

impl SharedOptions {
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec!["--bind".into(), self.bind.to_string()];
        if self.require_token {
            v.push("--require-token".into());
        }
        v
    }
}

/// How a command-line tool prints: for people or for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people (`table` is accepted too).
    #[value(alias = "table")]
    Text,
    /// JSON, for scripts.
    Json,
}

/// `--format text|json` (and `--json`, its short form): one flag for every tool, global to
/// every subcommand.
#[derive(Debug, Clone, Args)]
pub struct FormatOption {
    /// Output format: text for people, json for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
    /// Same as --format json.
    #[arg(long, global = true)]
    pub json: bool,
}

impl FormatOption {
    pub fn resolve(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format
        }
    }
}

/// What every child of the watchdog takes besides its own tunables: which instance, the
/// shared options, and the listener it inherits.
#[derive(Debug, Clone, Args)]
pub struct ChildOptions {
    #[command(flatten)]
    pub runtime: RuntimeOption,
    #[command(flatten)]
    pub shared: SharedOptions,
    #[command(flatten)]
    pub listen: ListenOption,
}

/// A duration as a flag value that `duration::parse_duration` reads back exactly.
pub fn duration_arg(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_round_trip_through_argv() {
        for ms in [0, 1, 250, 2000, 86_400_000] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&duration_arg(d)), Ok(d));
        }
    }
}
