//! Kennel's HTTP gateway: a JSON API (`/api/v1`, docs/openapi.yaml), Judge0's and Piston's
//! APIs (docs/openapi-compat.yaml) and a browser playground for the program runner. One more supervised child of the watchdog: it inherits its
//! listening socket, publishes itself in its own record of the segment, beats its heartbeat,
//! and is restarted like any other child. It speaks to the dispatcher and the workers exactly
//! as `kennel-client` does (the same library), so nothing else in Kennel knows HTTP exists.
//!
//! | module | what |
//! |---|---|
//! | `settings` | flags → validated settings (the token read, its file's mode checked) |
//! | `api` | the router, its layers, `languages`, `pool`, `healthz`, the OpenAPI file |
//! | `runs` | `POST /runs` and `GET /runs/{id}`: admission in order, then the runner |
//! | `submit` | the JSON submission and every check before a worker sees it |
//! | `executor` | one run through the dispatcher and a worker (kennel-client's library) |
//! | `store` | finished runs, bounded in count and time |
//! | `guard` | bearer token, the client's address |
//! | `state` | `AppState`, shared by every handler; the per-client rate limit; `answer` |
//! | `serve` | accept loop, per-connection limits, heartbeat |
//! | `playground` | the embedded page |
//! | `toolchains` | the host's toolchain versions and commands, asked once |
//! | `judge0` | Judge0 CE 1.13.1's API at the root (docs/HTTP.md) |
//! | `piston` | Piston v2's API under `/api/v2` |
//! | `operator`, `operator_settings` | the operator's verbs and the settings in force, behind the token |
//! | `error` | the one JSON error shape |

#![forbid(unsafe_code)]

pub mod api;
pub mod batch;
pub mod error;
pub mod executor;
pub mod guard;
pub mod judge0;
pub mod operator;
pub mod operator_settings;
pub mod piston;
pub mod playground;
pub mod request;
pub mod runs;
pub mod serve;
pub mod settings;
pub mod state;
pub mod store;
pub mod submit;
mod submit_grading;
pub mod toolchains;

use std::net::TcpListener;

use kennel_common::child::{self, ChildContext, Placement};
use kennel_common::segment::RecordId;
use kennel_common::shutdown::Shutdown;
use kennel_common::{Error, Result};

use crate::settings::Settings;
use crate::state::AppState;
use kennel_options::gateway::Args;

/// Descriptors kept for everything but connections (segment, FIFOs, control connections to
/// the dispatcher, the blocking pool's sockets).
const RESERVED_FDS: u64 = 256;

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    child::main_with(
        "kennel-gateway",
        Settings::from_args(args),
        |s| Placement {
            name: "gateway".into(),
            runtime: s.runtime.clone(),
            id: RecordId::Gateway,
            bind: s.bind,
            port: s.port,
            listen_fd: s.listen_fd,
        },
        |ctx: ChildContext, settings| Ok(AppState::new(settings, ctx)),
        run,
    )
}

/// Serves `listener` until `shutdown` fires (mini-redis's `run`: the caller binds and stops).
pub fn run(listener: TcpListener, state: AppState, shutdown: Shutdown) -> Result<()> {
    let max_connections = kennel_common::resources::fit_connections(
        state.settings.gateway.http_max_connections,
        RESERVED_FDS,
        "--http-max-connections",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gateway")
        // Runs block a thread each (kennel-client's library); the queue bounds them.
        .max_blocking_threads(state.settings.gateway.http_queue + 4)
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    let endpoint = state.ctx.go_live(&listener)?;
    log::info!(
        "serving the API and the playground on http://{endpoint}/ (dispatcher {}, at most {max_connections} connections{})",
        state.settings.dispatcher,
        if state.settings.token.is_some() { ", token required" } else { "" }
    );
    if !endpoint.ip().is_loopback() && state.settings.token.is_none() {
        log::warn!(
            "the API listens on {endpoint}, beyond loopback, with no token: anyone who reaches \
             it can run programs (set --http-token-file)"
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The termination signals arrive on a descriptor: one plain thread waits on it.
    let watcher = std::thread::Builder::new()
        .name("gateway-stop".into())
        .spawn(move || {
            loop {
                let fd = shutdown.as_fd();
                let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE);
                if let Some(why) = shutdown.requested() {
                    log::info!("received {why}: stopping");
                    break;
                }
            }
            let _ = stop_tx.send(true);
        })
        .map_err(|e| Error::io("starting the stop watcher", e))?;
    let app = api::router(state.clone());
    let result = runtime.block_on(async {
        let beat = tokio::spawn(serve::heartbeat(state.clone(), endpoint, stop_rx.clone()));
        let served =
            serve::accept_loop(listener, app, state.clone(), max_connections, stop_rx).await;
        let _ = beat.await;
        served
    });
    state.ctx.mark_stopping();
    drop(watcher);
    // Runs still on the blocking pool end on their own deadlines; we do not wait for them.
    runtime.shutdown_background();
    result.map_err(|e| Error::io("serving HTTP", e))
}
