//! A client that talks as the assignment's student clients do, for the tests that check
//! Kennel serves them unchanged.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A client that speaks exactly as the existing student clients do: the bare type in one
/// write, one recv(1024), the message in one write, one recv(1024), close.
pub struct StudentClient {
    pub control: TcpStream,
}

impl StudentClient {
    pub fn connect(addr: SocketAddr) -> StudentClient {
        let control = TcpStream::connect(addr).expect("connect to the dispatcher");
        control
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        StudentClient { control }
    }

    /// Sends the bare type, returns the raw answer of one recv(1024).
    pub fn ask(&mut self, request_type: &str) -> Vec<u8> {
        self.control.write_all(request_type.as_bytes()).unwrap();
        recv_1024(&mut self.control)
    }

    /// The whole exchange; returns the worker's raw answer.
    pub fn request(&mut self, request_type: &str, message: &str) -> Vec<u8> {
        let answer = self.ask(request_type);
        let text = String::from_utf8(answer.clone()).expect("ASCII answer");
        assert!(
            text.bytes().all(|b| b.is_ascii_digit()),
            "the dispatcher's answer to a bare request must be bare digits, got {text:?}"
        );
        let port: u16 = text.parse().unwrap();
        assert!(port > 0);
        worker_exchange(
            SocketAddr::new(self.control.peer_addr().unwrap().ip(), port),
            message,
        )
    }
}

/// One student-style exchange with a worker.
pub fn worker_exchange(addr: SocketAddr, message: &str) -> Vec<u8> {
    let mut w = TcpStream::connect(addr).expect("connect to the worker");
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    w.write_all(message.as_bytes()).unwrap();
    recv_1024(&mut w)
}

pub fn recv_1024(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).expect("recv");
    buf[..n].to_vec()
}
