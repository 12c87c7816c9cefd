//! The gateway's life once ready: the accept loop, each connection under hyper's HTTP/1 with
//! its limits, the heartbeat the watchdog watches, and the clean stop.
//!
//! Limits per connection (hostile HTTP): at most `--http-max-connections` open (one more is
//! closed at once, logged, rate-limited); headers must arrive within `header_timeout`
//! (slowloris), and an idle keep-alive connection is closed after the same time; headers are
//! at most 64 KiB; a body must arrive within the same time (layer in `api`). Each connection
//! is a tokio task of a few KiB, so ten thousand idle ones cost tens of MiB at most.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use kennel_common::child::TICK;
use kennel_common::logging::warn_limited;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use crate::state::AppState;

/// What hyper buffers of a request head at most (the exact limit is `api::MAX_HEAD`).
const MAX_HEAD: usize = crate::api::MAX_HEAD;

/// Time in-flight requests get to finish once a stop is asked (the watchdog's grace is
/// longer; SIGKILL follows it).
const DRAIN: Duration = Duration::from_secs(2);

/// Serves `listener` until `stop` turns true.
pub async fn accept_loop(
    listener: std::net::TcpListener,
    app: Router,
    state: AppState,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(Semaphore::new(max_connections));
    let header_timeout = state.settings.header_timeout;
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: the connection stays in the backlog; wait a little
                    // rather than spin on it.
                    warn_limited("gateway-accept", format_args!("accept: {e}"));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            warn_limited(
                "gateway-full",
                format_args!("{max_connections} connections open: closing one from {peer}"),
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, conn).await;
                }
            }
        });
    }
    Ok(())
}

/// Every tick: our heartbeat in the segment (from a task of the runtime that serves the
/// requests, so a wedged runtime goes silent and is restarted), our record's identity, and
/// now and then the rate limiter's memory of quiet clients dropped.
pub async fn heartbeat(state: AppState, endpoint: SocketAddr, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut turns: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let ctx = &state.ctx;
        ctx.segment.heartbeat(ctx.id);
        ctx.verify_identity(endpoint, &ctx.segment.read(ctx.id));
        turns += 1;
        if turns % 40 == 0 {
            state.limiter.retain_recent();
            state.limiter.shrink_to_fit();
        }
    }
}
