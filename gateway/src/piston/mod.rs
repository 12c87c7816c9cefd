//! Piston v2's API (`GET /api/v2/runtimes`, `POST /api/v2/execute`, also under
//! `/api/v2/piston/` as the public instance serves them), answered by Kennel's runner
//! (docs/HTTP.md, "Piston"). Bodies are read as JSON whatever their content type: Piston's
//! clients send `text/plain` bodies that hold JSON.
//!
//! | module | what |
//! |---|---|
//! | `runtimes` | the runtimes of this host, found by name, alias and version range |
//! | `version` | npm version ranges, on the `semver` crate |
//! | `request` | the body checked in Piston's words, made a `Submission` |
//! | `answer` | a run as Piston's `run` and `compile` stages |

pub mod answer;
pub mod request;
pub mod runtimes;
pub mod version;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::RunState;
use crate::toolchains;

pub fn routes(state: AppState) -> Router<AppState> {
    let mut r = Router::new();
    for prefix in ["/api/v2", "/api/v2/piston"] {
        r = r
            .route(&format!("{prefix}/runtimes"), get(list))
            .route(&format!("{prefix}/execute"), post(execute));
    }
    r.layer(axum::middleware::from_fn_with_state(state, require_token))
}

/// With a token set, Piston's routes need it too (`Authorization: Bearer` or `X-Auth-Token`;
/// Piston itself has none, so a client that cannot send a header cannot use a guarded
/// gateway).
async fn require_token(
    State(app): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if crate::guard::token_ok(&app, req.headers()) {
        next.run(req).await
    } else {
        refuse(
            StatusCode::UNAUTHORIZED,
            "this gateway needs its token (Authorization: Bearer <token>)",
        )
    }
}

/// `{"message": ...}` with `status`, Piston's error shape.
fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "message": message.into() }))).into_response()
}

fn from_api(e: ApiError) -> Response {
    let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        e.status
    };
    crate::error::with_retry_after(refuse(status, e.message), e.retry_after)
}

/// `GET /api/v2/runtimes`.
async fn list() -> Json<Vec<runtimes::Runtime>> {
    Json(runtimes::all(toolchains::get().await))
}

/// `POST /api/v2/execute`: one run, answered when it ends.
async fn execute(
    State(app): State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = run(&app, &peer, body).await;
    if r.is_err() {
        app.count(false);
    }
    r.unwrap_or_else(|e| e)
}

async fn run(
    app: &AppState,
    peer: &ConnectInfo<SocketAddr>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    crate::state::admit(&app.limiter, crate::guard::peer(peer)).map_err(from_api)?;
    let body = body.map_err(|r| refuse(r.status(), r.body_text()))?;
    let obj = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object",
            ))
        }
        Err(e) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            ))
        }
    };
    let (sub, rt) = request::build(&obj, toolchains::get().await, &app.settings)
        .map_err(|m| refuse(StatusCode::BAD_REQUEST, m))?;
    let checked = crate::submit::finish(sub, rt.kennel, &app.settings, &app.ctx.segment.snapshot())
        .map_err(from_api)?;
    let (_, task) = crate::runs::start(app, checked).map_err(from_api)?;
    match task.await {
        Ok(RunState::Done(r)) => Ok(Json(answer::document(&rt, &r)).into_response()),
        Ok(RunState::Failed(e)) => Err(from_api(e)),
        Ok(_) | Err(_) => Err(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the run's task failed",
        )),
    }
}
