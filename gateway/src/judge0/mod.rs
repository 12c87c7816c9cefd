//! Judge0 CE 1.13.1's API at the gateway's root, so a client configured with just
//! `http://HOST:PORT` works unchanged: its language ids, statuses, configuration, and
//! submission routes, answered by Kennel's runner (docs/HTTP.md, "Judge0").
//!
//! | module | what |
//! |---|---|
//! | `languages` | the language ids, `/languages`, `/statuses`, `/about`, `/version` |
//! | `config` | `/config_info` (Kennel's limits in Judge0's units), `/workers` |
//! | `request` | a submission's JSON fields read, base64 decoded |
//! | `submission` | the fields checked against Kennel's limits, made a `Submission` |
//! | `files` | `additional_files`, a bounded zip |
//! | `answer` | a run shown as a Judge0 submission |
//! | `handlers` | the submission routes |
//! | `callback` | `callback_url`, to allowed hosts only |
//! | `reply` | Judge0's error shapes |

pub mod answer;
pub mod callback;
pub mod config;
pub mod files;
pub mod handlers;
pub mod languages;
pub mod reply;
pub mod request;
pub mod submission;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::state::AppState;

/// The routes, each also with a trailing slash (some clients send `/submissions/`).
pub fn routes(state: AppState) -> Router<AppState> {
    let table: [(&str, MethodRouter<AppState>); 14] = [
        ("/submissions", post(handlers::create).get(handlers::index)),
        (
            "/submissions/batch",
            post(handlers::batch_create).get(handlers::batch_show),
        ),
        (
            "/submissions/{token}",
            get(handlers::show).delete(handlers::delete),
        ),
        ("/languages", get(languages::list)),
        ("/languages/all", get(languages::list)),
        ("/languages/{id}", get(languages::show)),
        ("/statuses", get(languages::statuses)),
        ("/about", get(languages::about)),
        ("/version", get(languages::version)),
        ("/config_info", get(config::config_info)),
        ("/workers", get(config::workers)),
        ("/authenticate", post(authenticate)),
        ("/authorize", post(authorize)),
        ("/system_info", get(system_info)),
    ];
    let mut r = Router::new();
    for (path, route) in table {
        r = r
            .route(path, route.clone())
            .route(&format!("{path}/"), route);
    }
    r.layer(middleware::from_fn_with_state(state, require_token))
}

/// With a token set, every Judge0 route needs it; without, Judge0 answers 401 and no body.
async fn require_token(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if crate::guard::token_ok(&app, req.headers()) {
        next.run(req).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// `POST /authenticate`: 200 when the token is right (the layer answered 401 otherwise).
async fn authenticate() -> StatusCode {
    StatusCode::OK
}

/// `POST /authorize`: `X-Auth-User` must hold the token too (Judge0's second secret; Kennel
/// has one).
async fn authorize(State(app): State<AppState>, headers: HeaderMap) -> StatusCode {
    let Some(token) = app.settings.token.as_deref() else {
        return StatusCode::OK;
    };
    let user = headers.get("x-auth-user").and_then(|v| v.to_str().ok());
    if user.is_some_and(|u| crate::guard::same(u.as_bytes(), token.as_bytes())) {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    }
}

/// `GET /system_info`: the host's CPUs and memory, as Judge0 gives them (a few of lscpu's
/// keys and `Mem`).
async fn system_info() -> axum::Json<serde_json::Value> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .unwrap_or_default();
    axum::Json(serde_json::json!({
        "Architecture": std::env::consts::ARCH,
        "CPU(s)": cpus.to_string(),
        "Mem": format!("{mem} kB"),
    }))
}
