//! The PROXY protocol, version 1 (HAProxy's `send-proxy`): with `--proxy-protocol`, every
//! control connection starts with one line naming the client the proxy is relaying,
//! `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (or `TCP6`, or `UNKNOWN`), at most 107 bytes.
//! The dispatcher records that client, not the proxy, in the assignment, so the worker admits
//! the client that connects to it directly, whatever front its request came through.

use std::net::{IpAddr, SocketAddr};

/// Longest v1 header, terminator included (the specification's bound).
pub const MAX_HEADER: usize = 107;

/// Reads a v1 header at the start of `buf`: `Ok(None)` if it is not complete yet; else the
/// relayed client (`None` for `UNKNOWN`: the connection's own peer stands) and the header's
/// length. Anything else is an error naming what is wrong.
pub fn parse_v1(buf: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, String> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() >= MAX_HEADER || !b"PROXY ".starts_with(&buf[..buf.len().min(6)]) {
            return Err("expected a PROXY protocol v1 header".into());
        }
        return Ok(None);
    };
    if end + 2 > MAX_HEADER {
        return Err("PROXY header longer than 107 bytes".into());
    }
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| "PROXY header not ASCII")?;
    let words: Vec<&str> = line.split(' ').collect();
    match words.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(Some((None, end + 2))),
        ["PROXY", family @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let ip: IpAddr = src
                .parse()
                .map_err(|_| format!("bad source address {src:?}"))?;
            if ip.is_ipv4() != (*family == "TCP4") {
                return Err(format!("{family} with address {src}"));
            }
            let port: u16 = sport
                .parse()
                .map_err(|_| format!("bad source port {sport:?}"))?;
            Ok(Some((Some(SocketAddr::new(ip, port)), end + 2)))
        }
        _ => Err("malformed PROXY header".into()),
    }
}

/// A header being received, byte by byte if the proxy sends it so.
#[derive(Debug, Default)]
pub struct Header(Vec<u8>);

impl Header {
    /// Adds received bytes; once the header is whole, the client it names and how many bytes
    /// of `data` it took (the rest are requests).
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, String> {
        let before = self.0.len();
        let take = data.len().min(MAX_HEADER.saturating_sub(before));
        self.0.extend_from_slice(&data[..take]);
        match parse_v1(&self.0)? {
            None if take < data.len() => Err("PROXY header longer than 107 bytes".into()),
            None => Ok(None),
            Some((client, len)) => Ok(Some((client, len - before))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v1_headers_and_refuses_anything_else() {
        let h = b"PROXY TCP4 10.77.0.2 10.77.0.11 40000 2222\r\nrequetetype1\n";
        let (client, used) = parse_v1(h).unwrap().unwrap();
        assert_eq!(client, Some("10.77.0.2:40000".parse().unwrap()));
        assert_eq!(&h[used..], b"requetetype1\n");
        let v6 = b"PROXY TCP6 ::1 ::1 5 6\r\n";
        assert_eq!(
            parse_v1(v6).unwrap().unwrap().0,
            Some("[::1]:5".parse().unwrap())
        );
        assert_eq!(parse_v1(b"PROXY UNKNOWN\r\n").unwrap(), Some((None, 15)));
        assert_eq!(parse_v1(b"PROXY TCP4 10.0").unwrap(), None, "incomplete");
        assert_eq!(parse_v1(b"PRO").unwrap(), None, "incomplete");
        assert!(parse_v1(b"requetetype1\n").is_err(), "no header");
        assert!(
            parse_v1(b"PROXY TCP4 ::1 ::1 5 6\r\n").is_err(),
            "family mismatch"
        );
        assert!(parse_v1(b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n").is_err());
        assert!(parse_v1(&[b'P'; 200]).is_err(), "too long");
        assert!(parse_v1(b"PROXY TCP4 a b c d\r\n").is_err());
    }

    #[test]
    fn a_header_fed_in_pieces_gives_back_what_follows_it() {
        let mut h = Header::default();
        assert_eq!(h.feed(b"PROXY TCP4 10.0.0.2 ").unwrap(), None);
        let (client, used) = h.feed(b"10.0.0.1 5 6\r\necho\n").unwrap().unwrap();
        assert_eq!(client, Some("10.0.0.2:5".parse().unwrap()));
        assert_eq!(used, b"10.0.0.1 5 6\r\n".len());
        assert!(Header::default().feed(&[b'P'; 200]).is_err());
    }
}
