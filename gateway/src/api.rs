//! The HTTP surface: the routes under `/api/v1` (docs/openapi.yaml), the playground's static
//! files at `/`, and the layers every request goes through — body size and time limits, the
//! token check, CORS when configured, and a panic guard that answers a JSON 500 (a bug of
//! ours, never a client's fault).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use governor::DefaultKeyedRateLimiter;
use kennel_common::child::ChildContext;
use kennel_common::layout::Supervision;
use kennel_runner::Language;
use serde::Serialize;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::error::{self, ApiError};
use crate::executor::Executor;
use crate::settings::Settings;
use crate::store::Store;
use crate::{guard, playground, runs};

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
            limiter: Arc::new(guard::limiter(g.http_rate)),
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

/// The whole application.
pub fn router(state: AppState) -> Router {
    let s = state.settings.clone();
    let api = Router::new()
        .route("/api/v1/runs", post(runs::create))
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
}

#[derive(Serialize)]
struct Bound {
    default: u64,
    max: u64,
}

#[derive(Serialize)]
struct LimitsDoc {
    time_limit_ms: Bound,
    wall_limit_ms: Bound,
    memory_limit_kib: Bound,
    compile_time_limit_ms: u64,
    max_processes: u64,
    max_output_bytes: u64,
    max_submission_bytes: usize,
    max_args: usize,
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

/// How the first running worker holds runs to their limits.
fn enforcement(snap: &kennel_common::segment::Snapshot) -> kennel_common::limits_mode::Summary {
    use kennel_common::layout::Supervision;
    use kennel_common::limits_mode::LimitsMode;
    snap.workers()
        .iter()
        .filter(|r| r.supervision() == Some(Supervision::Running) && r.capacity > 0)
        .map(|r| LimitsMode::decode(r.limits))
        .next()
        .unwrap_or(LimitsMode::UNKNOWN)
        .summary()
}

/// `GET /api/v1/languages`: what can be run, and within which limits.
async fn languages(State(app): State<AppState>) -> Json<LanguagesDoc> {
    let snap = app.ctx.segment.snapshot();
    let r = &app.settings.worker.runner;
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    Json(LanguagesDoc {
        languages: Language::ALL
            .into_iter()
            .map(|l| LanguageDoc {
                name: l.name(),
                available: crate::submit::offered(&snap, l),
                compiled: l.compiled(),
                extensions: extensions(l),
            })
            .collect(),
        limits: LimitsDoc {
            time_limit_ms: Bound {
                default: ms(r.time_limit),
                max: ms(r.time_limit_max),
            },
            wall_limit_ms: Bound {
                default: ms(r.wall_limit),
                max: ms(r.wall_limit_max),
            },
            memory_limit_kib: Bound {
                default: r.memory_limit / 1024,
                max: r.memory_limit_max / 1024,
            },
            compile_time_limit_ms: ms(r.compile_time_limit),
            max_processes: r.max_processes,
            max_output_bytes: r.max_output,
            max_submission_bytes: app.settings.worker.max_payload,
            max_args: kennel_runner::submission::MAX_ARGS,
            cpu_percent: r.cpu_max,
            enforcement: enforcement(&snap),
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

/// Turns an `ApiError` result into a response (handlers return either).
pub fn answer(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}
