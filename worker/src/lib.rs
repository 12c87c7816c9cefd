//! The Kennel worker: owns one TCP port, publishes it in its slot, serves the one client the
//! dispatcher assigned to it, then writes the pong marker and tells the dispatcher it is free.
//!
//! Up to `--max-tasks` clients at once, each on a thread of its own: the slot shows
//! `tasks/capacity`, and the dispatcher sends a client only to a slot with room.
//!
//! | module | what |
//! |---|---|
//! | `settings` | the command line (`kennel_options::worker`) → validated settings |
//! | `state` | `Worker`: its context, FIFOs, pong notices |
//! | `standby` | a worker started in advance, waiting for the slot of a worker that dies |
//! | `accept_pool` | `run(listener, worker, shutdown)`: `--max-tasks` + 2 threads blocking in `accept` |
//! | `serve` | one client connection, from admission to the pong |
//! | `session` | a built-in service's connection: message after message until the client ends it |
//! | `services` | what each built-in request type answers (the UTC date and time from `kennel_common::calendar`) |
//! | `programs` | the program runner's languages: submission in, result out |
//! | `wire` | `Conn`: a client connection's reads, writes, buffer and deadline |

#![forbid(unsafe_code)]

pub mod accept_pool;
pub mod programs;
pub mod serve;
pub mod services;
pub mod session;
pub mod settings;
pub mod standby;
pub mod state;
pub mod wire;

pub use accept_pool::run;
pub use state::Worker;

use kennel_common::child::{self, Placement};
use kennel_common::segment::RecordId;

use crate::settings::Settings;
use kennel_options::worker::Args;

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    if let Some(fd) = args.standby_fd {
        return match Settings::from_args(args) {
            Ok(s) => standby::main(s, fd),
            Err(e) => {
                eprintln!("kennel-worker: {e}");
                child::EXIT_START
            }
        };
    }
    child::main_with(
        "kennel-worker",
        Settings::from_args(args),
        |s| Placement {
            name: format!("worker {}", s.slot),
            runtime: s.runtime.clone(),
            id: RecordId::Worker(s.slot),
            bind: s.bind,
            port: s.port,
            listen_fd: s.listen_fd,
        },
        Worker::open,
        |listener, worker, shutdown| run(listener, &worker, &shutdown),
    )
}
