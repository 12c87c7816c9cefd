//! What every handler shares (`AppState`: the settings, the instance, the result store, the
//! executor, the global queue and the per-client rate limiter), and the one way a handler's
//! result becomes a response. Below every route module: they all depend on it, it on none.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kennel_common::child::ChildContext;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::executor::Executor;
use crate::settings::Settings;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The instance: the segment to read the pool from.
    pub ctx: Arc<ChildContext>,
    pub store: Arc<Store>,
    pub executor: Arc<Executor>,
    /// The global bound on runs held at once (`--http-queue`).
    pub queue: Arc<Semaphore>,
    pub limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AppState {
    pub fn new(settings: Settings, ctx: ChildContext) -> AppState {
        let g = &settings.gateway;
        let deadline =
            settings.run_deadline(settings.worker.runner.wall_limit_max.as_millis() as u64);
        AppState {
            store: Arc::new(Store::new(
                g.http_results,
                g.http_results_bytes,
                g.http_result_ttl,
            )),
            executor: Arc::new(Executor::new(settings.dispatcher, deadline, g.http_queue)),
            queue: Arc::new(Semaphore::new(g.http_queue)),
            limiter: Arc::new(limiter(g.http_rate)),
            ctx: Arc::new(ctx),
            settings: Arc::new(settings),
        }
    }
}

impl AppState {
    /// Counts a submission in our record: `served` when it got a result, else `failed`
    /// (refused at admission, or no result could be had). One word each, no guard needed.
    pub fn count(&self, served: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        let r = self.ctx.segment.record(self.ctx.id);
        if served {
            r.served.fetch_add(1, SeqCst);
        } else {
            r.failed.fetch_add(1, SeqCst);
        }
    }
}

/// The per-client limiter: `rate` submissions a second, bursts of twice that.
pub fn limiter(rate: u32) -> DefaultKeyedRateLimiter<IpAddr> {
    let per_sec = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.saturating_mul(2)).unwrap_or(per_sec);
    RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst))
}

/// Takes one submission from `peer`'s allowance, or says when to come back.
pub fn admit(limiter: &DefaultKeyedRateLimiter<IpAddr>, peer: IpAddr) -> Result<(), ApiError> {
    limiter.check_key(&peer).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError {
            retry_after: Some(wait.as_secs().max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many submissions from {peer}: try again in {} ms",
                    wait.as_millis().max(1)
                ),
            )
        }
    })
}

/// Turns an `ApiError` result into a response (handlers return either).
pub fn answer(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_a_burst_then_refuses_with_a_retry_after() {
        let l = limiter(2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..4 {
            admit(&l, ip).unwrap();
        }
        let e = admit(&l, ip).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(1));
        admit(&l, other).expect("another client has its own allowance");
    }
}
