//! Options that more than one binary takes: which instance (`--runtime-dir`), the inherited
//! listener (`--listen-fd`), what the dispatcher and the workers share (`--bind`,
//! `--require-token`), and how a tool prints (`--format`).

use std::net::IpAddr;
use std::path::PathBuf;

use kennel_common::runtime::{RuntimeDir, ENV_RUNTIME_DIR};

use crate::option_group;

option_group! {
    /// `--runtime-dir`: which instance (every binary).
    #[derive(Default, clap::Args)]
    pub struct RuntimeOption {
        /// Runtime directory of the instance (default: $XDG_RUNTIME_DIR/kennel, else
        /// /tmp/kennel-<uid>).
        #[arg(long, env = ENV_RUNTIME_DIR, global = true)]
        [Keep] pub runtime_dir: Option<PathBuf>,
    }
}

impl RuntimeOption {
    pub fn resolve(&self) -> RuntimeDir {
        RuntimeDir::resolve(self.runtime_dir.as_deref())
    }

    /// The option that names `resolved` to a child.
    pub fn naming(resolved: &RuntimeDir) -> RuntimeOption {
        RuntimeOption {
            runtime_dir: Some(resolved.path().to_path_buf()),
        }
    }
}

option_group! {
    /// `--listen-fd N`: serve the listening socket inherited as descriptor N (the watchdog
    /// binds every port once, at start, and hands each child its own), instead of binding
    /// `--port`.
    #[derive(Default, clap::Args)]
    pub struct ListenOption {
        /// Serve the listening socket inherited as this descriptor instead of binding --port.
        #[arg(long)]
        [Child] pub listen_fd: Option<i32>,
    }
}

/// `--http`'s value: `ADDR:PORT`, `localhost:PORT` (loopback, never a name looked up), or a
/// bare `PORT` (loopback).
pub fn parse_http_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    let loopback = std::net::Ipv4Addr::LOCALHOST;
    if let Ok(port) = s.parse::<u16>() {
        return Ok((loopback, port).into());
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        return port
            .parse::<u16>()
            .map(|p| (loopback, p).into())
            .map_err(|_| format!("{port:?} is not a port"));
    }
    s.parse().map_err(|_| {
        format!("{s:?} is not an address: give 127.0.0.1:8080, localhost:8080 or a port alone")
    })
}

option_group! {
    /// Options the dispatcher and the workers share, and the watchdog hands to both.
    #[derive(clap::Args)]
    pub struct SharedOptions {
        /// Address to listen on: the dispatcher's and the workers' (the watchdog binds them all
        /// there); a child started by hand without --listen-fd binds its own --port there.
        #[arg(long, default_value = "127.0.0.1")]
        [Keep] pub bind: IpAddr,
        /// The dispatcher answers `PORT TOKEN` and workers serve only the client presenting
        /// that one-time token (`TOKEN <hex>\n`). Clients that parse a bare port cannot use
        /// this mode.
        #[arg(long)]
        [Keep] pub require_token: bool,
    }
}

option_group! {
    /// What every child of the watchdog takes besides its own tunables: which instance, the
    /// shared options, and the listener it inherits.
    #[derive(clap::Args)]
    pub struct ChildOptions {
        #[command(flatten)]
        [Child] pub runtime: RuntimeOption,
        #[command(flatten)]
        [Child] pub shared: SharedOptions,
        #[command(flatten)]
        [Child] pub listen: ListenOption,
    }
}

/// How a command-line tool prints: for people or for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    // Plain comments, not doc comments: documented values would switch every tool's --help
    // to clap's long layout, unlike the other binaries' (the flag's own help says it all).
    // For people (`table` is accepted too).
    #[value(alias = "table")]
    Text,
    // JSON, for scripts.
    Json,
}

crate::value_enum_arg!(Format);

option_group! {
    /// `--format text|json` (and `--json`, its short form): one flag for every tool, global to
    /// every subcommand.
    #[derive(clap::Args)]
    pub struct FormatOption {
        /// Output format: text for people (`table` too), json for scripts.
        #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
        [Live] pub format: Format,
        /// Same as --format json.
        #[arg(long, global = true)]
        [Live] pub json: bool,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_addresses_as_people_type_them() {
        let lo = |p: u16| -> std::net::SocketAddr { (std::net::Ipv4Addr::LOCALHOST, p).into() };
        assert_eq!(parse_http_addr("8080"), Ok(lo(8080)));
        assert_eq!(parse_http_addr("localhost:8080"), Ok(lo(8080)));
        assert_eq!(parse_http_addr("127.0.0.1:0"), Ok(lo(0)));
        assert_eq!(
            parse_http_addr("[::1]:9"),
            Ok("[::1]:9".parse::<std::net::SocketAddr>().unwrap())
        );
        for bad in ["", "localhost", "localhost:x", "example.com:80", "99999"] {
            assert!(parse_http_addr(bad).is_err(), "{bad:?}");
        }
    }
}
