//! `POST /api/v1/runs/batch` and `GET /api/v1/runs?ids=…`: several submissions in one
//! request (at most `MAX_BATCH`, Judge0's default), answered in order. Each submission is
//! admitted on its own — its rate, its checks, its place in the queue — and a refused one
//! gets its error in its place without stopping the others.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::request::RunRequest;
use crate::state::{answer, AppState};
use crate::store::{valid_id, ErrorDoc, RunDoc};
use crate::submit::check;

/// Most submissions in one batch, and most ids in one query.
pub const MAX_BATCH: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Each one a `RunRequest` (an object), read on its own so one bad entry does not refuse
    /// the rest.
    submissions: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// One place of a batch's answer: the run's id, or why that submission was refused.
#[derive(Serialize)]
struct Placed {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDoc>,
}

pub async fn create(
    State(app): State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Response {
    answer(place_all(&app, peer, body).map(|placed| {
        (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "runs": placed })),
        )
            .into_response()
    }))
}

fn place_all(
    app: &AppState,
    peer: ConnectInfo<SocketAddr>,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<Vec<Placed>, ApiError> {
    let Json(batch) = body?;
    if batch.submissions.is_empty() || batch.submissions.len() > MAX_BATCH {
        return Err(ApiError::unprocessable(
            "invalid_request",
            format!(
                "{} submissions: a batch holds 1 to {MAX_BATCH}",
                batch.submissions.len()
            ),
        ));
    }
    let peer = crate::guard::peer(&peer);
    let placed = batch
        .submissions
        .into_iter()
        .map(|value| {
            let r = place_one(app, peer, value);
            if r.is_err() {
                app.count(false);
            }
            match r {
                Ok(id) => Placed {
                    id: Some(id),
                    error: None,
                },
                Err(e) => Placed {
                    id: None,
                    error: Some(ErrorDoc {
                        code: e.code,
                        message: e.message,
                    }),
                },
            }
        })
        .collect();
    Ok(placed)
}

fn place_one(
    app: &AppState,
    peer: std::net::IpAddr,
    value: serde_json::Map<String, serde_json::Value>,
) -> Result<String, ApiError> {
    crate::state::admit(&app.limiter, peer)?;
    let req: RunRequest = serde_json::from_value(serde_json::Value::Object(value))
        .map_err(|e| ApiError::unprocessable("invalid_request", format!("the submission: {e}")))?;
    let checked = check(req, &app.settings, &app.ctx.segment.snapshot())?;
    crate::runs::start(app, checked).map(|(id, _task)| id)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdsQuery {
    /// Run ids separated by commas.
    ids: String,
}

/// `GET /api/v1/runs?ids=a,b`: each run's document, in the order asked (an unknown id gets
/// `status: "unknown"` and an error in its place).
pub async fn fetch(
    State(app): State<AppState>,
    query: Result<Query<IdsQuery>, QueryRejection>,
) -> Response {
    let r = query.map_err(ApiError::from).and_then(|Query(q)| {
        let ids: Vec<&str> = q.ids.split(',').collect();
        if ids.len() > MAX_BATCH || !ids.iter().all(|id| valid_id(id)) {
            return Err(ApiError::unprocessable(
                "invalid_request",
                format!("ids: 1 to {MAX_BATCH} run ids (32 hex digits each), separated by commas"),
            ));
        }
        let now = Instant::now();
        let docs: Vec<serde_json::Value> = ids
            .into_iter()
            .map(|id| match app.store.get(id, now) {
                Some(state) => serde_json::to_value(RunDoc::new(id, &state)),
                None => Ok(serde_json::json!({
                    "id": id,
                    "status": "unknown",
                    "error": {"code": "not_found", "message": "no such run: unknown, or its result was dropped"},
                })),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
        Ok(Json(serde_json::json!({ "runs": docs })).into_response())
    });
    answer(r)
}
