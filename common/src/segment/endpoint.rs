//! Endpoint cells: an IP address and a port in five atomic words (IPv4 stored IPv4-mapped), so
//! that a reader never sees a torn address outside a seqlock retry.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering::SeqCst;

use crate::layout::EndpointCell;

/// Stores an endpoint (IPv4 as IPv4-mapped IPv6).
pub fn store_endpoint(cell: &EndpointCell, addr: Option<SocketAddr>) {
    let (ip, port) = match addr {
        Some(a) => {
            let v6 = match a.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            (v6.octets(), a.port())
        }
        None => ([0; 16], 0),
    };
    for (i, word) in cell.ip.iter().enumerate() {
        let b = [ip[4 * i], ip[4 * i + 1], ip[4 * i + 2], ip[4 * i + 3]];
        word.store(u32::from_be_bytes(b), SeqCst);
    }
    cell.port.store(u32::from(port), SeqCst);
}

/// Loads an endpoint; `None` if no port is set or the port is out of range.
pub fn load_endpoint(cell: &EndpointCell) -> Option<SocketAddr> {
    let port = u16::try_from(cell.port.load(SeqCst))
        .ok()
        .filter(|p| *p != 0)?;
    let mut bytes = [0u8; 16];
    for (i, word) in cell.ip.iter().enumerate() {
        bytes[4 * i..4 * i + 4].copy_from_slice(&word.load(SeqCst).to_be_bytes());
    }
    let v6 = Ipv6Addr::from(bytes);
    let ip = match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn endpoints_round_trip_v4_and_v6() {
        let cell = EndpointCell {
            ip: Default::default(),
            port: AtomicU32::new(0),
            reserved: AtomicU32::new(0),
        };
        assert_eq!(load_endpoint(&cell), None);
        for a in ["127.0.0.1:2223", "[::1]:4000", "10.1.2.3:65535"] {
            let addr: SocketAddr = a.parse().unwrap();
            store_endpoint(&cell, Some(addr));
            assert_eq!(load_endpoint(&cell), Some(addr));
        }
        cell.port.store(70_000, SeqCst);
        assert_eq!(load_endpoint(&cell), None, "out-of-range port is rejected");
    }
}
