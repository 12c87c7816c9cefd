//! Judge0's `callback_url`: when a run ends, its answer is sent there with `PUT` (base64,
//! the default fields), as Judge0 does. A callback is a request the gateway makes on a
//! client's say-so, so only to hosts the operator lists (`--http-callback-allow`; none by
//! default — Judge0's own callbacks could reach any address behind it, CVE-2024-29021), over
//! plain `http://`, each try bounded in time and the answer's size, a few tries at most.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::config::{CALLBACK_TIMEOUT_S, CALLBACK_TRIES};

/// A callback URL split: `host[:port]` and the path.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Where `url` points, if it is a plain `http://` URL.
pub fn parse(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// callbacks are made (the gateway has no TLS client)")?;
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("is not a URL (too long, or holds spaces or control characters)".into());
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') || authority.is_empty() {
        return Err("needs a host, without user information".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| "has a bad port")?)
        }
        _ => (authority, 80),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Ok(Target {
        host: host.to_ascii_lowercase(),
        port,
        path,
    })
}

/// Whether `url` may be called back: `http://`, to a host the operator allows.
pub fn allowed(url: &str, allow: &[String]) -> Result<Target, String> {
    let t = parse(url)?;
    let ok = allow.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == t.host || a == format!("{}:{}", t.host, t.port)
    });
    if ok {
        Ok(t)
    } else if allow.is_empty() {
        Err(
            "setting callback is not allowed (the operator allows no host: --http-callback-allow)"
                .into(),
        )
    } else {
        Err(format!(
            "callbacks to {}:{} are not allowed (--http-callback-allow)",
            t.host, t.port
        ))
    }
}

/// Sends `body` (JSON) with `PUT`; tries `CALLBACK_TRIES` times. Blocks.
pub fn deliver(t: &Target, body: &str) {
    for attempt in 1..=CALLBACK_TRIES {
        match put(t, body) {
            Ok(status) if (200..300).contains(&status) => return,
            Ok(status) => log::info!(
                "callback to {}:{}{} answered {status} (try {attempt})",
                t.host,
                t.port,
                t.path
            ),
            Err(e) => log::info!(
                "callback to {}:{}{} failed: {e} (try {attempt})",
                t.host,
                t.port,
                t.path
            ),
        }
        std::thread::sleep(Duration::from_millis(500 * u64::from(attempt)));
    }
}

/// One `PUT`; returns the answer's status code.
fn put(t: &Target, body: &str) -> std::io::Result<u16> {
    let timeout = Duration::from_secs_f64(CALLBACK_TIMEOUT_S);
    let addr = (t.host.trim_matches(['[', ']']), t.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the host has no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let host = if t.port == 80 {
        t.host.clone()
    } else {
        format!("{}:{}", t.host, t.port)
    };
    write!(
        s,
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kennel-gateway\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        t.path,
        body.len()
    )?;
    let mut head = Vec::new();
    s.take(1024).read_to_end(&mut head)?;
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("the answer is not HTTP"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_http_hosts() {
        let allow = vec!["127.0.0.1:9000".to_string(), "hooks.example".to_string()];
        let t = allowed("http://127.0.0.1:9000/done?x=1", &allow).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9000, "/done?x=1")
        );
        assert!(allowed("http://HOOKS.example:8080", &allow).is_ok());
        assert!(allowed("http://127.0.0.1:9001/", &allow)
            .unwrap_err()
            .contains("not allowed"));
        assert!(allowed("http://169.254.169.254/latest/meta-data", &allow).is_err());
        assert!(allowed("https://hooks.example/", &allow)
            .unwrap_err()
            .contains("http://"));
        assert!(allowed("http://u:p@hooks.example/", &allow).is_err());
        assert!(allowed("http://hooks.example/", &[])
            .unwrap_err()
            .contains("--http-callback-allow"));
        assert!(parse("http://a:99999/").is_err());
    }
}
