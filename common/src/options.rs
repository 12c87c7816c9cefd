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

/// Options the dispatcher and the workers share, and the watchdog hands to both.
#[derive(Debug, Clone, Args)]
pub struct SharedOptions {
    /// Address to listen on: the dispatcher's and the workers' (the watchdog binds them all
    /// there); a child started by hand without --listen-fd binds its own --port there.
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
    // Plain comments, not doc comments: documented values would switch every tool's --help
    // to clap's long layout, unlike the other binaries' (the flag's own help says it all).
    // For people (`table` is accepted too).
    #[value(alias = "table")]
    Text,
    // JSON, for scripts.
    Json,
}

/// `--format text|json` (and `--json`, its short form): one flag for every tool, global to
/// every subcommand.
#[derive(Debug, Clone, Args)]
pub struct FormatOption {
    /// Output format: text for people (`table` too), json for scripts.
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

/// The HTTP gateway's options (`kennel-gateway`, issue 12): the watchdog takes them all,
/// binds `--http` itself, and hands the rest to the gateway with `to_args`. Defined here,
/// beside the other shared groups, so the watchdog needs no HTTP stack to parse them.
#[derive(Debug, Clone, Args)]
pub struct GatewayOptions {
    /// Serve the HTTP API and the browser playground at this address (off unless given):
    /// 127.0.0.1:8080, localhost:8080, or a bare port (8080: loopback). Keep it on loopback
    /// unless a token file is set.
    #[arg(long, value_parser = parse_http_addr)]
    pub http: Option<std::net::SocketAddr>,
    /// Require `Authorization: Bearer <token>` on the API, the token being this file's first
    /// line (the file must not be readable by others).
    #[arg(long)]
    pub http_token_file: Option<PathBuf>,
    /// Allow this origin to call the API from another site's pages (CORS; repeatable). Off
    /// unless given.
    #[arg(long = "http-cors-origin")]
    pub http_cors_origins: Vec<String>,
    /// Submissions one client address may make per second, sustained (a burst of twice
    /// that is allowed); more answer 429 with Retry-After.
    #[arg(long, default_value_t = 20)]
    pub http_rate: u32,
    /// Runs the gateway holds at once, running or waiting (the global queue); more answer
    /// 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub http_queue: usize,
    /// Open HTTP connections at most (checked against the descriptor limit at start).
    #[arg(long, default_value_t = 12_000)]
    pub http_max_connections: usize,
    /// Time a client gets to send a request's head, and a keep-alive connection may stay
    /// idle (slow or silent clients are closed after it).
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse_duration)]
    pub http_header_timeout: std::time::Duration,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    pub http_max_body: usize,
    /// Finished runs kept for `GET /api/v1/runs/{id}`: at most this many…
    #[arg(long, default_value_t = 1000)]
    pub http_results: usize,
    /// …for at most this long…
    #[arg(long, default_value = "10m", value_parser = crate::duration::parse_duration)]
    pub http_result_ttl: std::time::Duration,
    /// …and taking at most this many bytes together (outputs counted whole; a result may
    /// hold up to 2 MiB of stdout and stderr).
    #[arg(long, default_value_t = 256 << 20)]
    pub http_results_bytes: usize,
}

impl GatewayOptions {
    /// Checks the values that are not checked by their type.
    pub fn validate(&self) -> Result<(), String> {
        if self.http_rate == 0 || self.http_queue == 0 || self.http_results == 0 {
            return Err("--http-rate, --http-queue and --http-results must be at least 1".into());
        }
        if !(64..=1_000_000).contains(&self.http_max_connections) {
            return Err("--http-max-connections must be between 64 and 1000000".into());
        }
        if !(1024..=(256 << 20)).contains(&self.http_max_body) {
            return Err("--http-max-body must be between 1 KiB and 256 MiB".into());
        }
        if self.http_header_timeout < std::time::Duration::from_millis(100)
            || self.http_header_timeout > std::time::Duration::from_secs(300)
        {
            return Err("--http-header-timeout must be between 100ms and 300s".into());
        }
        if self.http_result_ttl < std::time::Duration::from_secs(1) {
            return Err("--http-result-ttl must be at least 1s".into());
        }
        if self.http_results_bytes < (1 << 20) {
            return Err("--http-results-bytes must be at least 1 MiB (1048576)".into());
        }
        for o in &self.http_cors_origins {
            if !(o.starts_with("http://") || o.starts_with("https://"))
                || o.contains(char::is_whitespace)
            {
                return Err(format!(
                    "--http-cors-origin {o:?} is not an origin (http://host[:port])"
                ));
            }
        }
        Ok(())
    }

    /// The flags that hand these options to the gateway (`--http` itself is the listener the
    /// gateway inherits).
    pub fn to_args(&self) -> Vec<String> {
        let mut v = vec![
            "--http-rate".into(),
            self.http_rate.to_string(),
            "--http-queue".into(),
            self.http_queue.to_string(),
            "--http-max-connections".into(),
            self.http_max_connections.to_string(),
            "--http-header-timeout".into(),
            duration_arg(self.http_header_timeout),
            "--http-max-body".into(),
            self.http_max_body.to_string(),
            "--http-results".into(),
            self.http_results.to_string(),
            "--http-result-ttl".into(),
            duration_arg(self.http_result_ttl),
            "--http-results-bytes".into(),
            self.http_results_bytes.to_string(),
        ];
        if let Some(p) = &self.http_token_file {
            v.push("--http-token-file".into());
            v.push(p.display().to_string());
        }
        for o in &self.http_cors_origins {
            v.push("--http-cors-origin".into());
            v.push(o.clone());
        }
        v
    }
}
