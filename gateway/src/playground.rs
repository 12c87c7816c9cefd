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

/// Every file of the page: its path, content type and body.
const FILES: [(&str, &str, &str); 8] = [
    ("/", "text/html; charset=utf-8", INDEX),
    ("/app.js", JS, APP_JS),
    ("/words.js", JS, WORDS_JS),
    ("/pool.js", JS, POOL_JS),
    ("/history.js", JS, HISTORY_JS),
    ("/console.js", JS, CONSOLE_JS),
    ("/vendor/editor.js", JS, EDITOR_JS),
    ("/style.css", "text/css; charset=utf-8", STYLE),
];

const JS: &str = "text/javascript; charset=utf-8";

pub fn routes() -> Router<AppState> {
    FILES
        .iter()
        .fold(Router::new(), |r, &(path, content_type, body)| {
            r.route(path, get(move || async move { file(content_type, body) }))
        })
}
