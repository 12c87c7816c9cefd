//! Running one checked submission through Kennel, exactly as `kennel-client run` does: ask the
//! dispatcher for a worker of the language, send the framed submission to that worker, read
//! the framed result — with kennel-client's own library (`Client`), so retries, backoff and
//! the refusal rules are the same. It blocks, so the async side calls it on tokio's blocking
//! pool, at most `--http-queue` at once.
//!
//! Control connections are kept between runs (a small pool, each idle at most a few seconds,
//! well within the dispatcher's idle timeout), as a long-lived kennel-client keeps its own.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use kennel_client::{Client, ClientConfig, ClientError};
use kennel_runner::{Language, RunResult};

use crate::error::ApiError;

/// A pooled control connection idle longer than this is closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(5);

pub struct Executor {
    cfg: ClientConfig,
    idle: Mutex<Vec<(Client, Instant)>>,
    keep: usize,
}

impl Executor {
    /// `answer_timeout`: the longest any run may take (the largest wall limit, a compile and
    /// a wait for a worker).
    pub fn new(dispatcher: SocketAddr, answer_timeout: Duration, keep: usize) -> Executor {
        let mut cfg = ClientConfig::new(dispatcher);
        cfg.answer_timeout = answer_timeout;
        Executor {
            cfg,
            idle: Mutex::new(Vec::new()),
            keep,
        }
    }

    fn take(&self) -> Result<Client, ClientError> {
        let now = Instant::now();
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|(_, t)| now.duration_since(*t) < MAX_IDLE);
            idle.pop()
        };
        match pooled {
            Some((c, _)) => Ok(c),
            None => Client::connect(self.cfg.clone()),
        }
    }

    fn give_back(&self, c: Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push((c, Instant::now()));
        }
    }

    /// Runs `wire` (an encoded submission) as `lang`; blocks until the result, at most
    /// `deadline` of a worker's silence (at least the executor's own).
    pub fn run(
        &self,
        lang: Language,
        wire: &[u8],
        deadline: Duration,
    ) -> Result<RunResult, ApiError> {
        let mut client = self.take().map_err(failure)?;
        client.set_answer_timeout(deadline.max(self.cfg.answer_timeout));
        let answer = client.request(lang.name(), wire);
        // A client whose exchange failed may hold a broken control connection: not reused.
        let answer = match answer {
            Ok(a) => {
                self.give_back(client);
                a
            }
            Err(e) => return Err(failure(e)),
        };
        RunResult::decode(&answer.body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "bad_result",
                format!("the worker's result could not be read: {e}"),
            )
        })
    }
}

/// What a failed exchange means for an HTTP client.
fn failure(e: ClientError) -> ApiError {
    match e {
        ClientError::Busy { .. } => {
            ApiError::no_capacity("every worker stayed busy: try again shortly", 1)
        }
        ClientError::Refused(m) if m.contains("language unavailable") => ApiError {
            retry_after: Some(2),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "language_unavailable",
                format!("Kennel: {m}"),
            )
        },
        ClientError::Refused(m) => ApiError::unprocessable("refused", format!("refused: {m}")),
        e @ (ClientError::Connect { .. } | ClientError::GaveUp { .. }) => ApiError {
            retry_after: Some(2),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("Kennel could not run it now: {e}"),
            )
        },
    }
}
