//! The operator's routes (`/api/v1/operator/…`, docs/HTTP.md): every `kennelctl` verb over
//! HTTP, each one exchange on the watchdog's control socket (`common::control_client`), and
//! the settings in force. They act on the instance, so they are guarded harder than the runs:
//!
//! | check | answer |
//! |---|---|
//! | no token configured (`--http-token-file`) | 403 `operator_disabled`: never open on loopback alone, which every local user reaches |
//! | no or a wrong `Authorization: Bearer` | 401 |
//! | an `Origin` other than the gateway's own | 403 `cross_origin` (the token is a header, which a cross-site form cannot send; this refuses a page that got hold of it) |
//! | the watchdog refuses (a verb during a rolling restart, a worker that does not exist) | 409 `refused`, with its words |
//! | the watchdog cannot be reached | 503 |

use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kennel_common::control::{Child, Verb};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// The longest a verb may take (a rolling restart of many workers).
const VERB_TIMEOUT: Duration = Duration::from_secs(600);

/// The routes, behind their guard.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/operator/settings", get(settings))
        .route("/api/v1/operator/usage", get(usage))
        .route("/api/v1/operator/workers/restart", post(rolling_restart))
        .route("/api/v1/operator/workers/{slot}/{action}", post(worker))
        .route("/api/v1/operator/dispatcher/restart", post(dispatcher))
        .route("/api/v1/operator/gateway/restart", post(gateway))
        .route("/api/v1/operator/scale", post(scale))
        .route("/api/v1/operator/reload", post(reload))
        .layer(middleware::from_fn_with_state(state, guard))
}

/// The operator routes' guard (the table above).
async fn guard(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = app.settings.token.as_deref() else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "operator_disabled",
            "operator routes need a token: start the gateway with --http-token-file \
             (loopback alone is no protection: every local user reaches it)",
        )
        .into_response();
    };
    if !crate::guard::bearer_is(req.headers(), token) {
        return crate::guard::unauthorized("operator routes need Authorization: Bearer <token>");
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let own = host.is_some_and(|h| {
            origin.to_str().is_ok_and(|o| {
                o.strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"))
                    == Some(h)
            })
        });
        if !own {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "operator routes answer only pages of this gateway (the Origin differs)",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// What a verb did.
#[derive(Serialize)]
struct Done {
    verb: String,
    message: String,
}

/// Sends `verb` to the watchdog and answers what it said.
async fn act(app: &AppState, verb: Verb) -> Response {
    let runtime = app.settings.runtime.clone();
    let line = verb.line();
    let exchanged = tokio::task::spawn_blocking(move || {
        kennel_common::control_client::exchange(&runtime, &verb, VERB_TIMEOUT)
    })
    .await;
    match exchanged {
        Ok(Ok(Ok(message))) => {
            log::info!("operator over HTTP: {line}: {message}");
            Json(Done {
                verb: line,
                message,
            })
            .into_response()
        }
        Ok(Ok(Err(why))) => ApiError::new(StatusCode::CONFLICT, "refused", why).into_response(),
        Ok(Err(e)) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "watchdog_unreachable", e)
            .into_response(),
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the verb's task: {e}"),
        )
        .into_response(),
    }
}

async fn worker(
    State(app): State<AppState>,
    Path((slot, action)): Path<(String, String)>,
) -> Response {
    let Ok(k) = slot.parse::<usize>() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{slot:?} is not a worker slot"),
        )
        .into_response();
    };
    let verb = match action.as_str() {
        "restart" => Verb::Restart(Child::Worker(k)),
        "stop" => Verb::Stop(Child::Worker(k)),
        "start" => Verb::Start(Child::Worker(k)),
        other => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{other:?} is not an action on a worker (restart, stop, start)"),
            )
            .into_response()
        }
    };
    act(&app, verb).await
}

async fn rolling_restart(State(app): State<AppState>) -> Response {
    act(&app, Verb::RollingRestart).await
}

async fn dispatcher(State(app): State<AppState>) -> Response {
    act(&app, Verb::Restart(Child::Dispatcher)).await
}

async fn reload(State(app): State<AppState>) -> Response {
    act(&app, Verb::Reload).await
}

/// The gateway cannot wait for its own restart: the answer is 202, and the verb leaves once
/// it is given (the old gateway finishes answering before it stops: graceful drain).
async fn gateway(State(app): State<AppState>) -> Response {
    let runtime = app.settings.runtime.clone();
    std::thread::spawn(move || {
        let verb = Verb::Restart(Child::Gateway);
        if let Err(e) = kennel_common::control_client::exchange(&runtime, &verb, VERB_TIMEOUT) {
            log::warn!("operator over HTTP: restart gateway: {e}");
        }
    });
    (
        StatusCode::ACCEPTED,
        Json(Done {
            verb: "restart gateway".into(),
            message: "the gateway restarts: this connection's server goes away".into(),
        }),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleBody {
    workers: usize,
}

async fn scale(State(app): State<AppState>, body: axum::body::Bytes) -> Response {
    // An object, not whatever serde could read a struct from (`[2]` is a sequence).
    let parsed = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
        .and_then(|m| serde_json::from_value::<ScaleBody>(serde_json::Value::Object(m)));
    match parsed {
        Ok(b) => act(&app, Verb::Scale(b.workers)).await,
        Err(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("expected {{\"workers\": N}}: {e}"),
        )
        .into_response(),
    }
}

/// Each process's CPU ticks and memory, for the console's charts.
async fn usage(State(app): State<AppState>) -> Response {
    Json(crate::operator_settings::usage(&app)).into_response()
}

/// The settings in force, for the console.
async fn settings(State(app): State<AppState>) -> Response {
    Json(crate::operator_settings::document(&app)).into_response()
}
