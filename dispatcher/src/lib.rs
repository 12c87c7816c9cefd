//! The Kennel dispatcher: listens on the control port; for each request type a client sends,
//! claims an idle worker slot in shared memory (ping), notices the worker through its FIFO and
//! answers the worker's port. The control connection stays open for the next request.
//!
//! One thread, one event loop (epoll through `mio`): the listener, every control connection,
//! the pong FIFO and the shutdown descriptor. A slow or silent client costs a few hundred
//! bytes and nothing else; a request that finds no idle worker joins a first-come-first-served
//! queue, served the moment a worker frees up (see `queue`).
//!
//! | module | what |
//! |---|---|
//! | `settings` | the command line (`kennel_options::dispatcher`) → validated settings |
//! | `state` | `Dispatcher`: context, FIFOs, connection caps, tokens |
//! | `event_loop` | `run(listener, dispatcher, shutdown)`: the mio event loop |
//! | `accept` | accepting within the caps; running out of descriptors gracefully |
//! | `conn` | one control connection: request lines in, answers out, in order, deadlines |
//! | `assign` | claiming an idle worker, the answer, the ping |
//! | `queue` | the requests waiting for a worker |
//! | `proxy` | the PROXY protocol v1 header (`--proxy-protocol`, behind HAProxy) |
//! | `reservations` | the bound on workers one connection holds unused |

#![forbid(unsafe_code)]

pub mod accept;
pub mod assign;
pub mod conn;
pub mod event_loop;
pub mod proxy;
pub mod queue;
pub mod reservations;
pub mod settings;
pub mod state;

pub use event_loop::run;
pub use state::Dispatcher;

use std::sync::Arc;

use kennel_common::child::{self, Placement};
use kennel_common::segment::RecordId;

use crate::settings::Settings;
use kennel_options::dispatcher::Args;

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    child::main_with(
        "kennel-dispatcher",
        Settings::from_args(args),
        |s| Placement {
            name: "dispatcher".into(),
            runtime: s.runtime.clone(),
            id: RecordId::Dispatcher,
            bind: s.bind,
            port: s.port,
            listen_fd: s.listen_fd,
        },
        |ctx, settings| Dispatcher::open(ctx, settings).map(Arc::new),
        |listener, dispatcher, shutdown| run(listener, dispatcher, &shutdown),
    )
}
