//! The HTTP gateway's flags (`kennel-gateway`, issue 12): the watchdog takes them all, binds
//! `--http` itself, and hands them to the gateway with the runner limits the workers take.

use std::net::SocketAddr;
use std::path::PathBuf;

use kennel_common::duration::parse_duration;

use crate::option_group;
use crate::shared::{parse_http_addr, ChildOptions};
use crate::worker::WorkerOptions;

option_group! {
    /// The HTTP gateway's own options (`--http` is kept for the life of the instance: the
    /// watchdog binds it once and hands the socket over).
    #[derive(clap::Args)]
    pub struct GatewayOptions {
        /// Serve the HTTP API and the browser playground at this address (off unless given):
        /// 127.0.0.1:8080, localhost:8080, or a bare port (8080: loopback). Keep it on loopback
        /// unless a token file is set.
        #[arg(long, value_parser = parse_http_addr)]
        [Keep] pub http: Option<std::net::SocketAddr>,
        /// Require `Authorization: Bearer <token>` on the API, the token being this file's first
        /// line (the file must not be readable by others).
        #[arg(long)]
        [Child] pub http_token_file: Option<PathBuf>,
        /// Allow this origin to call the API from another site's pages (CORS; repeatable). Off
        /// unless given.
        #[arg(long = "http-cors-origin")]
        [Child] pub http_cors_origins: Vec<String>,
        /// Submissions one client address may make per second, sustained (a burst of twice
        /// that is allowed); more answer 429 with Retry-After.
        #[arg(long, default_value_t = 20)]
        [Child] pub http_rate: u32,
        /// Runs the gateway holds at once, running or waiting (the global queue); more answer
        /// 503 with Retry-After.
        #[arg(long, default_value_t = 64)]
        [Child] pub http_queue: usize,
        /// Open HTTP connections at most (checked against the descriptor limit at start).
        #[arg(long, default_value_t = 12_000)]
        [Child] pub http_max_connections: usize,
        /// Time a client gets to send a request's head, and a keep-alive connection may stay
        /// idle (slow or silent clients are closed after it).
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        [Child] pub http_header_timeout: std::time::Duration,
        /// Largest request body, in bytes.
        #[arg(long, default_value_t = 4 << 20)]
        [Child] pub http_max_body: usize,
        /// Finished runs kept for `GET /api/v1/runs/{id}`: at most this many…
        #[arg(long, default_value_t = 1000)]
        [Child] pub http_results: usize,
        /// …for at most this long…
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        [Child] pub http_result_ttl: std::time::Duration,
        /// …and taking at most this many bytes together (outputs counted whole; a result may
        /// hold up to 2 MiB of stdout and stderr).
        #[arg(long, default_value_t = 256 << 20)]
        [Child] pub http_results_bytes: usize,
        /// Judge0's `callback_url` may name this host (`host` or `host:port`; repeatable).
        /// None by default: a callback is a request the gateway makes on a client's say-so
        /// (Judge0's own were an SSRF hole, CVE-2024-29021).
        #[arg(long = "http-callback-allow")]
        [Child] pub http_callback_allow: Vec<String>,
    }
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
        for h in &self.http_callback_allow {
            if h.is_empty() || h.contains(['/', '@', '?', '#']) || h.contains(char::is_whitespace) {
                return Err(format!(
                    "--http-callback-allow {h:?} is not a host (host or host:port)"
                ));
            }
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
}

option_group! {
    /// `kennel-gateway`'s command line.
    #[derive(clap::Parser)]
    #[command(
        next_line_help = true,
        name = "kennel-gateway",
        version,
        about = "Kennel's HTTP API and browser playground (started by kennel-watchdog --http)"
    )]
    pub struct Args {
        #[command(flatten)]
        [Child] pub child: ChildOptions,
        #[command(flatten)]
        [Child] pub gateway: GatewayOptions,
        /// The runner's limits: what a submission may ask for is checked here first.
        #[command(flatten)]
        [Child] pub worker: WorkerOptions,
        /// The dispatcher's address (the watchdog passes its own socket's).
        #[arg(long, default_value = "127.0.0.1:2222")]
        [Child] pub dispatcher: SocketAddr,
        /// Port to bind when run by hand (the watchdog passes --listen-fd instead).
        #[arg(long, default_value_t = 8080)]
        [Child] pub port: u16,
    }
}
