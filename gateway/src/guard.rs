//! What stands between a request and the runner besides the submission's own checks: the
//! optional bearer token (`--http-token-file`), and the per-client rate limit on submissions
//! (`--http-rate`, GCRA from the `governor` crate, keyed by the client's address).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Middleware on the API: with a token configured, every request but `GET /api/v1/healthz`
/// (a probe) must carry `Authorization: Bearer <token>`.
pub async fn authenticate(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = app.settings.token.as_deref() else {
        return next.run(req).await;
    };
    if req.uri().path() == "/api/v1/healthz" {
        return next.run(req).await;
    }
    if bearer_is(req.headers(), token) {
        next.run(req).await
    } else {
        unauthorized("this API needs Authorization: Bearer <token>")
    }
}

/// Whether `Authorization: Bearer` carries `token`.
pub fn bearer_is(headers: &axum::http::HeaderMap, token: &str) -> bool {
    bearer(headers).is_some_and(|g| same(g.as_bytes(), token.as_bytes()))
}

/// The 401 answer, with its `WWW-Authenticate: Bearer`.
pub fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

/// Whether a request carries the gateway's token (or none is set), as the compatibility
/// APIs take it: `X-Auth-Token` (Judge0's header) or `Authorization: Bearer`.
pub fn token_ok(app: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let Some(token) = app.settings.token.as_deref() else {
        return true;
    };
    let given = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| bearer(headers));
    given.is_some_and(|g| same(g.as_bytes(), token.as_bytes()))
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Compares in time that depends only on the lengths (no early exit on the first difference).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client's address, from the connection (the gateway sits on loopback or behind a
/// proxy the operator runs; a proxy's X-Forwarded-For is not trusted by default).
pub fn peer(info: &ConnectInfo<SocketAddr>) -> IpAddr {
    info.0.ip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abcdef", b"abcdef"));
        assert!(!same(b"abcdef", b"abcdeg"));
        assert!(!same(b"abc", b"abcdef"));
    }
}
