//! The gateway's command line (`kennel_options::gateway::Args`: its own flags, the runner's
//! limits the workers take, `--dispatcher`), turned into validated settings in one place.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kennel_common::runtime::RuntimeDir;
use kennel_options::gateway::{Args, GatewayOptions};
use kennel_options::worker::WorkerOptions;

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub runtime: RuntimeDir,
    pub bind: std::net::IpAddr,
    pub port: u16,
    pub listen_fd: Option<i32>,
    pub dispatcher: SocketAddr,
    pub gateway: GatewayOptions,
    pub worker: WorkerOptions,
    /// The bearer token, read from `--http-token-file`.
    pub token: Option<String>,
    /// How long a client gets to send a request's head, and then its body
    /// (`--http-header-timeout`, both).
    pub header_timeout: Duration,
}

impl Settings {
    pub fn from_args(a: Args) -> Result<Settings, String> {
        a.gateway.validate()?;
        a.worker.validate()?;
        if a.gateway.http_results < a.gateway.http_queue {
            return Err(
                "--http-results must be at least --http-queue (every run keeps a place)".into(),
            );
        }
        let token = a
            .gateway
            .http_token_file
            .as_deref()
            .map(read_token)
            .transpose()?;
        let header_timeout = a.gateway.http_header_timeout;
        Ok(Settings {
            runtime: a.child.runtime.resolve(),
            bind: a.child.shared.bind,
            port: a.port,
            listen_fd: a.child.listen.listen_fd,
            dispatcher: a.dispatcher,
            gateway: a.gateway,
            worker: a.worker,
            token,
            header_timeout,
        })
    }

    /// How long one run may take from the gateway's side: its wall limit, a compile, and the
    /// wait for a worker.
    pub fn run_deadline(&self, wall_ms: u64) -> Duration {
        Duration::from_millis(wall_ms)
            + self.worker.runner.compile_time_limit
            + Duration::from_secs(30)
    }
}

/// Reads the token: the file's first line, at least 16 characters, from a file nobody else
/// may read (a token others can read is no secret).
fn read_token(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{}: readable by others (mode {:o}); chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{}: the token must be at least 16 printable characters on the first line",
            path.display()
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(extra: &[&str]) -> Result<Settings, String> {
        let mut argv = vec!["kennel-gateway"];
        argv.extend_from_slice(extra);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn defaults_and_refusals() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.gateway.http_queue, 64);
        assert!(s.token.is_none());
        assert!(parse(&["--http-queue", "0"]).is_err());
        assert!(parse(&["--http-queue", "50", "--http-results", "10"]).is_err());
        assert!(parse(&["--http-max-body", "10"]).is_err());
        assert!(parse(&["--http-cors-origin", "evil"]).is_err());
        assert!(parse(&["--http-token-file", "/nonexistent/token"]).is_err());
    }

    #[test]
    fn a_token_file_must_be_private_and_long_enough() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("kennel-gw-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("token");
        std::fs::write(&f, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let arg = f.display().to_string();
        assert!(parse(&["--http-token-file", &arg])
            .unwrap_err()
            .contains("readable by others"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            parse(&["--http-token-file", &arg])
                .unwrap()
                .token
                .as_deref(),
            Some("0123456789abcdef0123")
        );
        std::fs::write(&f, "short\n").unwrap();
        assert!(parse(&["--http-token-file", &arg]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
