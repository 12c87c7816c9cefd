//! The browser playground: its static files compiled into the binary (no CDN, no request
//! leaves the page's origin — the Content-Security-Policy says so to the browser too).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

const INDEX: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const WORDS_JS: &str = include_str!("../static/words.js");
const POOL_JS: &str = include_str!("../static/pool.js");
const CONSOLE_JS: &str = include_str!("../static/console.js");
const HISTORY_JS: &str = include_str!("../static/history.js");
/// CodeMirror 6, bundled by scripts/build-editor.sh (MIT; static/vendor/NOTICE lists it).
const EDITOR_JS: &str = include_str!("../static/vendor/editor.js");
const STYLE: &str = include_str!("../static/style.css");

/// Only this origin, no inline script, no frames.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/words.js",
            get(|| async { file("text/javascript; charset=utf-8", WORDS_JS) }),
        )
        .route(
            "/pool.js",
            get(|| async { file("text/javascript; charset=utf-8", POOL_JS) }),
        )
        .route(
            "/history.js",
            get(|| async { file("text/javascript; charset=utf-8", HISTORY_JS) }),
        )
        .route(
            "/console.js",
            get(|| async { file("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/vendor/editor.js",
            get(|| async { file("text/javascript; charset=utf-8", EDITOR_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
}
