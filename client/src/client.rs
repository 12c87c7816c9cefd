//! Kennel's own client: keeps one control connection to the dispatcher, asks it for a worker,
//! talks to that worker directly, and recovers from what the system is designed to survive —
//! a dispatcher restart (reconnect with backoff), a worker killed mid-request (ask again, for
//! request types that are safe to repeat), a busy pool (`-1`: wait and ask again).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use kennel_common::protocol::{
    frame_request, parse_port_answer, token_line, RequestKind, MAX_LINE,
};

/// How hard the client tries.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The dispatcher.
    pub addr: SocketAddr,
    /// Attempts to open the control connection before giving up.
    pub connect_attempts: u32,
    /// Attempts at one request (new worker each time) before giving up.
    pub request_attempts: u32,
    /// First retry delay; doubled at each attempt, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Limit on any single read or connect.
    pub io_timeout: Duration,
    /// Limit on the wait for a worker's answer (a program's run takes longer than a reply).
    pub answer_timeout: Duration,
    /// Largest answer accepted from a worker.
    pub max_answer: usize,
}

impl ClientConfig {
    pub fn new(addr: SocketAddr) -> ClientConfig {
        ClientConfig {
            addr,
            connect_attempts: 5,
            request_attempts: 5,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            io_timeout: Duration::from_secs(10),
            answer_timeout: Duration::from_secs(10),
            max_answer: 64 << 20,
        }
    }
}

/// A successful exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The worker's host (the one the answer named, or the dispatcher's) and port.
    pub host: std::net::IpAddr,
    pub port: u16,
    pub body: Vec<u8>,
    /// 1 if the first try succeeded.
    pub attempts: u32,
}

#[derive(Debug)]
pub enum ClientError {
    /// The dispatcher could not be reached.
    Connect {
        addr: SocketAddr,
        attempts: u32,
        last: io::Error,
    },
    /// The dispatcher answered `-1` to every attempt.
    Busy { attempts: u32 },
    /// The dispatcher or the worker answered an `ERR` line that retrying cannot fix.
    Refused(String),
    /// Every attempt failed; the last reason.
    GaveUp { attempts: u32, last: String },
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connect {
                addr,
                attempts,
                last,
            } => write!(
                f,
                "cannot reach the dispatcher at {addr} after {attempts} attempts: {last} \
                 (is kennel-watchdog running? try scripts/run.sh)"
            ),
            ClientError::Busy { attempts } => {
                write!(
                    f,
                    "every worker stayed busy ({attempts} attempts answered -1)"
                )
            }
            ClientError::Refused(m) => write!(f, "refused: {m}"),
            ClientError::GaveUp { attempts, last } => {
                write!(f, "gave up after {attempts} attempts; last error: {last}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// What the dispatcher said to one request line.
enum Reply {
    /// A worker (its host when the answer names one), with the one-time token when the
    /// server requires one.
    Port(kennel_common::protocol::PortAnswer),
    Busy,
    Err(String),
}

/// A client with its control connection.
pub struct Client {
    cfg: ClientConfig,
    control: Option<BufReader<TcpStream>>,
}

impl Client {
    /// Opens the control connection (retrying with backoff).
    pub fn connect(cfg: ClientConfig) -> Result<Client, ClientError> {
        let mut c = Client { cfg, control: None };
        c.ensure_control()?;
        Ok(c)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        (self.cfg.backoff * (1u32 << attempt.min(16))).min(self.cfg.max_backoff)
    }

    fn ensure_control(&mut self) -> Result<&mut BufReader<TcpStream>, ClientError> {
        if self.control.is_none() {
            let mut last = None;
            for attempt in 0..self.cfg.connect_attempts {
                if attempt > 0 {
                    std::thread::sleep(self.backoff(attempt - 1));
                }
                match TcpStream::connect_timeout(&self.cfg.addr, self.cfg.io_timeout) {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        let _ = s.set_read_timeout(Some(self.cfg.io_timeout));
                        self.control = Some(BufReader::new(s));
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if self.control.is_none() {
                return Err(ClientError::Connect {
                    addr: self.cfg.addr,
                    attempts: self.cfg.connect_attempts,
                    last: last.unwrap_or_else(|| io::Error::other("no attempt made")),
                });
            }
        }
        Ok(self.control.as_mut().expect("just set"))
    }

    /// Sends one request type and reads the dispatcher's line.
    fn ask(&mut self, request_type: &str) -> io::Result<Reply> {
        let control = self
            .ensure_control()
            .map_err(|e| io::Error::new(io::ErrorKind::NotConnected, e.to_string()))?;
        control
            .get_mut()
            .write_all(format!("{request_type}\n").as_bytes())?;
        let line = read_line(control)?;
        if line == "-1" {
            return Ok(Reply::Busy);
        }
        if let Some(msg) = line.strip_prefix("ERR ") {
            return Ok(Reply::Err(msg.to_string()));
        }
        match parse_port_answer(&line) {
            Some(a) => Ok(Reply::Port(a)),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected dispatcher answer {line:?}"),
            )),
        }
    }

    /// How long the next exchanges wait for a worker's answer (a graded submission of many
    /// tests takes longer than one run).
    pub fn set_answer_timeout(&mut self, d: std::time::Duration) {
        self.cfg.answer_timeout = d;
    }

    /// One full exchange: ask, get redirected, send `payload` to the worker, read its answer.
    /// Retries on a lost dispatcher, a busy pool, or (for request types safe to repeat) a
    /// worker that failed mid-request.
    pub fn request(&mut self, request_type: &str, payload: &[u8]) -> Result<Answer, ClientError> {
        let repeatable = RequestKind::from_name(request_type.as_bytes())
            .map(|t| t.is_idempotent())
            .unwrap_or(false);
        let mut last = String::from("no attempt made");
        let mut busy = 0;
        for attempt in 1..=self.cfg.request_attempts {
            if attempt > 1 {
                std::thread::sleep(self.backoff(attempt - 2));
            }
            let (host, port, token) = match self.ask(request_type) {
                Ok(Reply::Port(a)) => (a.addr.unwrap_or(self.cfg.addr.ip()), a.port, a.token),
                Ok(Reply::Busy) => {
                    busy += 1;
                    last = "all workers busy (-1)".into();
                    continue;
                }
                Ok(Reply::Err(m)) => return Err(ClientError::Refused(m)),
                Err(e) => {
                    // The dispatcher is gone or confused: reconnect on the next attempt.
                    self.control = None;
                    last = format!("dispatcher: {e}");
                    continue;
                }
            };
            match self.talk_to_worker(SocketAddr::new(host, port), token, payload) {
                Err(WorkerError::Refused(why)) => return Err(ClientError::Refused(why)),
                Ok(body) => {
                    return Ok(Answer {
                        host,
                        port,
                        body,
                        attempts: attempt,
                    })
                }
                Err(WorkerError::Io(e)) => {
                    last = format!("worker at {host}:{port}: {e}");
                    if !repeatable {
                        return Err(ClientError::GaveUp {
                            attempts: attempt,
                            last,
                        });
                    }
                }
            }
        }
        if busy == self.cfg.request_attempts {
            return Err(ClientError::Busy { attempts: busy });
        }
        Err(ClientError::GaveUp {
            attempts: self.cfg.request_attempts,
            last,
        })
    }

    /// The exchange with the worker at `addr` (the host the dispatcher named, or its own).
    fn talk_to_worker(
        &self,
        addr: SocketAddr,
        token: Option<u64>,
        payload: &[u8],
    ) -> Result<Vec<u8>, WorkerError> {
        let mut s = TcpStream::connect_timeout(&addr, self.cfg.io_timeout)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(self.cfg.answer_timeout))?;
        let mut request = token.map(token_line).unwrap_or_default();
        request.extend_from_slice(&frame_request(payload));
        s.write_all(&request)?;
        // One message on this connection: said at once (half-close), so the worker's session
        // ends with its answer and the slot is free without waiting for our close.
        s.shutdown(std::net::Shutdown::Write)?;
        let mut r = BufReader::new(s);
        let header = read_line(&mut r)?;
        if let Some(why) = header.strip_prefix("ERR refused: ") {
            return Err(WorkerError::Refused(why.to_string()));
        }
        if let Some(msg) = header.strip_prefix("ERR ") {
            return Err(io::Error::other(format!("ERR {msg}")).into());
        }
        let len = header
            .strip_prefix("LEN ")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= self.cfg.max_answer)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unexpected worker answer {header:?}"),
                )
            })?;
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        Ok(body)
    }
}

/// How a worker exchange failed: a refusal of what was sent (`ERR refused: …`: sending it
/// again cannot help), or anything else (the worker died, a restart raced us: worth a retry).
enum WorkerError {
    Refused(String),
    Io(io::Error),
}

impl From<io::Error> for WorkerError {
    fn from(e: io::Error) -> Self {
        WorkerError::Io(e)
    }
}

/// Reads one `\n`-terminated line (at most `MAX_LINE` bytes), without the terminator.
fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "line too long or cut",
        ));
    }
    line.pop();
    String::from_utf8(line).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}
