//! The HTTP surface: the routes under `/api/v1` (docs/openapi.yaml), the playground's static
//! files at `/`, and the layers every request goes through — body size and time limits, the
//! token check, CORS when configured, and a panic guard that answers a JSON 500 (a bug of
//! ours, never a client's fault).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use kennel_common::layout::Supervision;
use kennel_runner::Language;
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::error::{self, ApiError};
use crate::state::AppState;
use crate::{batch, guard, playground, runs};

/// The whole application.
pub fn router(state: AppState) -> Router {
    crate::toolchains::ask();
    let s = state.settings.clone();
    let api = Router::new()
        .route("/api/v1/runs", post(runs::create).get(batch::fetch))
        .route("/api/v1/runs/batch", post(batch::create))
        .route("/api/v1/runs/{id}", get(runs::fetch))
        .route("/api/v1/languages", get(languages))
        .route("/api/v1/pool", get(pool))
        .route("/api/v1/healthz", get(healthz))
        .route("/api/v1/openapi.yaml", get(openapi))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::authenticate,
        ));
    let mut app = Router::new()
        .merge(api)
        .merge(crate::judge0::routes(state.clone()))
        .merge(crate::piston::routes(state.clone()))
        .merge(crate::operator::routes(state.clone()))
        .merge(playground::routes())
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(middleware::from_fn(limit_head))
        .layer(DefaultBodyLimit::max(s.gateway.http_max_body))
        .layer(RequestBodyTimeoutLayer::new(s.header_timeout))
        .layer(CatchPanicLayer::custom(error::panicked))
        .with_state(state);
    if !s.gateway.http_cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = s
            .gateway
            .http_cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
        );
    }
    app
}

/// Largest request head (target and headers) the API takes. hyper bounds what it buffers
/// (`serve::MAX_HEAD`), but a head that arrives whole in one read can be parsed past that
/// bound; this makes the limit exact.
pub const MAX_HEAD: usize = 64 << 10;

async fn limit_head(req: axum::extract::Request, next: middleware::Next) -> Response {
    let size = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if size > MAX_HEAD {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "head_too_large",
            format!("the request's target and headers exceed {MAX_HEAD} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

#[derive(Serialize)]
struct LanguagesDoc {
    languages: Vec<LanguageDoc>,
    limits: LimitsDoc,
}

#[derive(Serialize)]
struct LanguageDoc {
    name: &'static str,
    /// A running worker offers it now.
    available: bool,
    compiled: bool,
    extensions: &'static [&'static str],
    /// The toolchain's version on this host (`null` until it has been asked, at start).
    version: Option<String>,
    /// The compiler options a submission may give (`-DNAME` stands for any name).
    compile_options: Vec<String>,
}

#[derive(Serialize)]
struct LimitsDoc {
    time_limit_ms: crate::operator_settings::Bound,
    wall_limit_ms: crate::operator_settings::Bound,
    memory_limit_kib: crate::operator_settings::Bound,
    compile_time_limit_ms: u64,
    max_processes: u64,
    max_output_bytes: u64,
    max_submission_bytes: usize,
    max_args: usize,
    max_files: usize,
    max_tests: u32,
    /// The checkers a submission may name (`float:EPS` with a number for EPS).
    checkers: [&'static str; 6],
    cpu_percent: u32,
    /// How the runs are held to these limits (the first running worker's mode; `unknown`
    /// while none runs).
    enforcement: kennel_common::limits_mode::Summary,
}

fn extensions(l: Language) -> &'static [&'static str] {
    match l {
        Language::Python => &[".py"],
        Language::C => &[".c"],
        Language::Cpp => &[".cpp", ".cc", ".cxx"],
        Language::Java => &[".java"],
    }
}

/// `GET /api/v1/languages`: what can be run, and within which limits.
async fn languages(State(app): State<AppState>) -> Json<LanguagesDoc> {
    let snap = app.ctx.segment.snapshot();
    let r = &app.settings.worker.runner;
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    let bounds = crate::operator_settings::Bounds::of(r);
    Json(LanguagesDoc {
        languages: Language::ALL
            .into_iter()
            .map(|l| LanguageDoc {
                name: l.name(),
                available: crate::submit::offered(&snap, l),
                compiled: l.compiled(),
                extensions: extensions(l),
                version: crate::toolchains::known()
                    .and_then(|t| crate::toolchains::of(t, l).version.clone()),
                compile_options: kennel_runner::compile_options::allowed(l),
            })
            .collect(),
        limits: LimitsDoc {
            time_limit_ms: bounds.time_limit_ms,
            wall_limit_ms: bounds.wall_limit_ms,
            memory_limit_kib: bounds.memory_limit_kib,
            compile_time_limit_ms: ms(r.compile_time_limit),
            max_processes: r.max_processes,
            max_output_bytes: r.max_output,
            max_submission_bytes: app.settings.worker.max_payload,
            max_args: kennel_runner::submission::MAX_ARGS,
            max_files: kennel_runner::submission::MAX_FILES,
            max_tests: r.max_tests,
            checkers: kennel_runner::checker::NAMES,
            cpu_percent: r.cpu_max,
            enforcement: crate::operator_settings::enforcement(&snap),
        },
    })
}

/// `GET /api/v1/pool`: the same document as `kennelctl status --json`.
async fn pool(State(app): State<AppState>) -> Response {
    let seg = &app.ctx.segment;
    let ctx = kennel_client::status::Context {
        runtime_dir: app.ctx.runtime.path().display().to_string(),
        segment_name: seg.name().to_string(),
        watchdog: if seg.owner_alive() {
            kennel_client::status::WatchdogLiveness::Alive
        } else {
            kennel_client::status::WatchdogLiveness::Gone
        },
    };
    let body = kennel_client::status_json::status(&seg.snapshot(), &ctx);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Serialize)]
struct Health {
    ready: bool,
    dispatcher: bool,
    workers_ready: usize,
    /// Why not ready, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// `GET /api/v1/healthz`: 200 when a request can be served now (the dispatcher and at least
/// one worker ready, the watchdog alive), else 503 with the reason.
async fn healthz(State(app): State<AppState>) -> Response {
    let seg = &app.ctx.segment;
    let snap = seg.snapshot();
    let verdict = kennel_common::health::serving(&snap, seg.owner_alive());
    let doc = Health {
        ready: verdict.is_ok(),
        dispatcher: snap.dispatcher().supervision() == Some(Supervision::Running),
        workers_ready: verdict.unwrap_or(0),
        reason: verdict.err().map(String::from),
    };
    let status = if doc.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(doc)).into_response()
}

/// The API's description, shipped in the repository and served as it is.
pub const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}
