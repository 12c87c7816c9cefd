//! `POST /api/v1/runs` and `GET /api/v1/runs/{id}`.
//!
//! A submission is admitted in this order, each step able to refuse it: the client's rate
//! (429), the body (400/413/415/422, by axum's JSON extractor and `submit::check`), a place in
//! the global queue (503 + Retry-After), a place in the results table. Only then does it go
//! to the runner, on tokio's blocking pool; the run's place in the queue is released when the
//! run ends, even if the HTTP client has gone.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::{answer, AppState};
use crate::store::{valid_id, RunDoc, RunState};
use crate::submit::{check, Checked, RunRequest};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// Answer with the result (true) or at once with the run's id (false, the default).
    #[serde(default)]
    pub wait: bool,
}

pub async fn create(
    State(app): State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    query: Result<Query<RunQuery>, QueryRejection>,
    body: Result<Json<RunRequest>, JsonRejection>,
) -> Response {
    let counters = app.clone();
    let r = admit(app, peer, query, body).await;
    if r.is_err() {
        counters.count(false);
    }
    answer(r)
}

async fn admit(
    app: AppState,
    peer: ConnectInfo<SocketAddr>,
    query: Result<Query<RunQuery>, QueryRejection>,
    body: Result<Json<RunRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    crate::state::admit(&app.limiter, crate::guard::peer(&peer))?;
    let Query(q) = query?;
    let Json(req) = body?;
    let checked = check(req, &app.settings, &app.ctx.segment.snapshot())?;
    let (id, task) = start(&app, checked)?;
    if q.wait {
        let state = task.await.unwrap_or_else(|e| {
            RunState::Failed(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the run's task failed: {e}"),
            ))
        });
        return match state {
            RunState::Failed(e) => Err(e),
            s => Ok((StatusCode::OK, Json(RunDoc::new(&id, &s))).into_response()),
        };
    }
    let location = format!("/api/v1/runs/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(RunDoc::new(&id, &RunState::Queued)),
    )
        .into_response())
}

/// Gives a checked submission a place in the queue and in the results table, and starts it
/// on the blocking pool; returns its id and the task that ends with its final state.
pub(crate) fn start(
    app: &AppState,
    checked: Checked,
) -> Result<(String, tokio::task::JoinHandle<RunState>), ApiError> {
    start_with(app, checked, None, None)
}

/// What a compatibility API does once a run has ended and left the queue (Judge0's
/// callback), with the run's id.
pub(crate) type After = Box<dyn FnOnce(&AppState, &str) + Send>;

/// `start`, with an attachment kept beside the run and something to do after it.
pub(crate) fn start_with(
    app: &AppState,
    checked: Checked,
    attachment: Option<(crate::store::Attachment, usize)>,
    after: Option<After>,
) -> Result<(String, tokio::task::JoinHandle<RunState>), ApiError> {
    let permit = app.queue.clone().try_acquire_owned().map_err(|_| {
        ApiError::no_capacity(
            format!(
                "{} runs are already held (--http-queue): try again shortly",
                app.settings.gateway.http_queue
            ),
            1,
        )
    })?;
    let id = app
        .store
        .insert_with(Instant::now(), attachment)
        .ok_or_else(|| {
            ApiError::no_capacity("every result place holds a run not yet finished", 1)
        })?;
    let task = {
        let (app, id) = (app.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            let state = execute(&app, &id, &checked);
            drop(permit);
            if let Some(after) = after {
                after(&app, &id);
            }
            state
        })
    };
    Ok((id, task))
}

/// Runs one checked submission (blocking) and records its end; returns the final state.
fn execute(app: &AppState, id: &str, c: &Checked) -> RunState {
    app.store.set(id, RunState::Running, Instant::now());
    let deadline = app.settings.run_deadline(c.wall_ms);
    let state = match app.executor.run(c.language, &c.wire, deadline) {
        Ok(r) => RunState::Done(std::sync::Arc::new(r)),
        Err(e) => RunState::Failed(e),
    };
    app.count(matches!(state, RunState::Done(_)));
    app.store.set(id, state.clone(), Instant::now());
    state
}

pub async fn fetch(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map(|Path(id)| id).unwrap_or_default();
    if !valid_id(&id) {
        return ApiError::not_found("no such run (ids are 32 hex digits)").into_response();
    }
    match app.store.get(&id, Instant::now()) {
        Some(state) => Json(RunDoc::new(&id, &state)).into_response(),
        None => ApiError::not_found(
            "no such run: unknown, or its result was dropped (--http-result-ttl, --http-results)",
        )
        .into_response(),
    }
}
