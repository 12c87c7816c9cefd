//! Judge0's submission routes: `POST /submissions` (`wait`, `base64_encoded`, `fields`),
//! `GET` and `DELETE /submissions/{token}`, `POST /submissions/batch`,
//! `GET /submissions/batch?tokens=`. A submission is admitted exactly as `/api/v1/runs`
//! admits one — the client's rate, Kennel's checks (`submit::finish`), a place in the queue
//! and in the results table — and is the same run: its token is the run's id as a UUID.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::answer::{document, requested, NotUtf8};
use super::reply::{error, not_found, Refusal};
use super::{callback, request, submission};
use crate::state::AppState;
use crate::store::{id_of_uuid, uuid_of, RunState};

type Params = Query<HashMap<String, String>>;

const CONVERSION: &str = "some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter";

/// The fields `fields=` asks for, or Judge0's 400 naming the unknown ones.
fn asked(q: &HashMap<String, String>) -> Result<Vec<&'static str>, Refusal> {
    requested(q.get("fields").map(String::as_str)).map_err(Refusal::bad_request)
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v == "true")
}

/// The body as one JSON object, or Judge0's 400.
fn object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, Refusal> {
    let body = body.map_err(|r| {
        let status = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            r.status()
        } else {
            StatusCode::BAD_REQUEST
        };
        Refusal::with(
            status,
            format!("the body could not be read: {}", r.body_text()),
        )
    })?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Refusal::with(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
        Err(e) => Err(Refusal::with(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// Checks one submission and starts it; returns its run id and task.
fn submit(
    app: &AppState,
    peer: &ConnectInfo<SocketAddr>,
    obj: &Map<String, Value>,
    base64: bool,
) -> Result<(String, tokio::task::JoinHandle<RunState>), Refusal> {
    crate::state::admit(&app.limiter, crate::guard::peer(peer))?;
    let mut fields = request::read(obj, base64)?;
    let (sub, lang, callback) = submission::build(&mut fields, &app.settings)?;
    let checked = crate::submit::finish(
        sub,
        lang.language,
        &app.settings,
        &app.ctx.segment.snapshot(),
    )?;
    let after = callback.map(|target| -> crate::runs::After {
        Box::new(move |app: &AppState, id: &str| {
            let Some(rec) = app.store.record(id, Instant::now()) else {
                return;
            };
            let fields = super::answer::DEFAULT_FIELDS;
            let Ok(doc) = document(id, &rec, &fields, true) else {
                return;
            };
            let body = Value::Object(doc).to_string();
            std::thread::spawn(move || callback::deliver(&target, &body));
        })
    });
    let size = [
        &fields.source_code,
        &fields.stdin,
        &fields.expected_output,
        &fields.additional_files,
    ]
    .iter()
    .map(|b| b.as_ref().map_or(0, Vec::len))
    .sum::<usize>();
    let attachment: crate::store::Attachment = Arc::new(fields);
    Ok(crate::runs::start_with(
        app,
        checked,
        Some((attachment, size)),
        after,
    )?)
}

/// `POST /submissions`.
pub async fn create(
    State(app): State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    Query(q): Params,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fields = match asked(&q) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let obj = match object(body) {
        Ok(o) => o,
        Err(r) => return r.into_response(),
    };
    let base64 = flag(&q, "base64_encoded");
    let (id, task) = match submit(&app, &peer, &obj, base64) {
        Ok(started) => started,
        Err(refusal) => {
            app.count(false);
            return refusal.into_response();
        }
    };
    if !flag(&q, "wait") {
        return (StatusCode::CREATED, Json(json!({"token": uuid_of(&id)}))).into_response();
    }
    let _ = task.await;
    let Some(rec) = app.store.record(&id, Instant::now()) else {
        return not_found();
    };
    match document(&id, &rec, &fields, base64) {
        Ok(doc) => (StatusCode::CREATED, Json(Value::Object(doc))).into_response(),
        Err(NotUtf8) => (
            StatusCode::CREATED,
            Json(json!({"error": CONVERSION, "token": uuid_of(&id)})),
        )
            .into_response(),
    }
}

/// `GET /submissions/{token}`.
pub async fn show(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(q): Params,
) -> Response {
    let fields = match asked(&q) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Some(id) = id_of_uuid(&token) else {
        return not_found();
    };
    let Some(rec) = app.store.record(&id, Instant::now()) else {
        return not_found();
    };
    match document(&id, &rec, &fields, flag(&q, "base64_encoded")) {
        Ok(doc) => Json(Value::Object(doc)).into_response(),
        Err(NotUtf8) => error(StatusCode::BAD_REQUEST, CONVERSION),
    }
}

/// `DELETE /submissions/{token}`: a finished submission is forgotten and answered (in base64,
/// so the answer is always whole); one still queued or running cannot be.
pub async fn delete(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(q): Params,
) -> Response {
    let fields = match asked(&q) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Some(id) = id_of_uuid(&token) else {
        return not_found();
    };
    match app.store.remove_finished(&id, Instant::now()) {
        None => not_found(),
        Some(Err(state)) => {
            let s = super::answer::status(&state);
            let name = if s == 1 { "In Queue" } else { "Processing" };
            error(
                StatusCode::BAD_REQUEST,
                format!("submission cannot be deleted because its status is {s} ({name})"),
            )
        }
        Some(Ok(rec)) => match document(&id, &rec, &fields, true) {
            Ok(doc) => Json(Value::Object(doc)).into_response(),
            Err(NotUtf8) => error(StatusCode::BAD_REQUEST, CONVERSION),
        },
    }
}

/// Judge0's bound on a batch, in its words.
fn batch_size(n: usize) -> Result<(), Refusal> {
    let max = crate::batch::MAX_BATCH;
    if n == 0 {
        return Err(Refusal::with(
            StatusCode::BAD_REQUEST,
            "there should be at least one submission in a batch",
        ));
    }
    if n > max {
        return Err(Refusal::with(
            StatusCode::BAD_REQUEST,
            format!("number of submissions in a batch should be less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// `POST /submissions/batch`: each submission admitted on its own; 201 if any was taken.
pub async fn batch_create(
    State(app): State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    Query(q): Params,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let obj = match object(body) {
        Ok(o) => o,
        Err(r) => return r.into_response(),
    };
    let list = match obj.get("submissions") {
        Some(Value::Array(a)) => a,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "submissions must be an array of submissions",
            )
        }
    };
    if let Err(r) = batch_size(list.len()) {
        return r.into_response();
    }
    let base64 = flag(&q, "base64_encoded");
    let mut taken = false;
    let answers: Vec<Value> = list
        .iter()
        .map(|s| {
            let Value::Object(s) = s else {
                return json!({"error": "a submission must be a JSON object"});
            };
            match submit(&app, &peer, s, base64) {
                Ok((id, _)) => {
                    taken = true;
                    json!({"token": uuid_of(&id)})
                }
                Err(r) => {
                    app.count(false);
                    r.to_json()
                }
            }
        })
        .collect();
    let status = if taken {
        StatusCode::CREATED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(Value::Array(answers))).into_response()
}

/// `GET /submissions/batch?tokens=a,b` (or a `tokens` header): each in its place, `null` for
/// one unknown.
pub async fn batch_show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let fields = match asked(&q) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let tokens = headers
        .get("tokens")
        .and_then(|v| v.to_str().ok())
        .or(q.get("tokens").map(String::as_str))
        .unwrap_or("");
    let tokens: Vec<&str> = tokens.trim().split(',').filter(|t| !t.is_empty()).collect();
    if let Err(r) = batch_size(tokens.len()) {
        return r.into_response();
    }
    let base64 = flag(&q, "base64_encoded");
    let mut out = Vec::new();
    for t in tokens {
        let rec = id_of_uuid(t).and_then(|id| Some((app.store.record(&id, Instant::now())?, id)));
        match rec {
            None => out.push(Value::Null),
            Some((rec, id)) => match document(&id, &rec, &fields, base64) {
                Ok(doc) => out.push(Value::Object(doc)),
                Err(NotUtf8) => return error(StatusCode::BAD_REQUEST, "some attributes for one or more submissions cannot be converted to UTF-8, use base64_encoded=true query parameter"),
            },
        }
    }
    Json(json!({"submissions": out})).into_response()
}

/// `GET /submissions`: Judge0 lists every submission to an authorized user; Kennel keeps each
/// one readable only by its token.
pub async fn index() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "listing submissions is not offered: read each one by its token (GET /submissions/{token})",
    )
}
