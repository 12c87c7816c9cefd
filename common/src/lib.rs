//! Kennel's common library: everything the watchdog, dispatcher, workers, client and kennelctl
//! share. The binaries are thin; the logic they share lives here, each module with one job.
//!
//! `unsafe` is confined to [`sys`]; every other module is safe Rust.

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod calendar;
pub mod cgroup2;
pub mod child;
pub mod clock;
pub mod control;
pub mod control_client;
pub mod duration;
pub mod error;
pub mod health;
pub mod invariants;
pub mod layout;
pub mod limits_mode;
pub mod logging;
pub mod metrics;
pub mod notice;
pub mod owner;
pub mod procfs;
pub mod protocol;
pub mod resources;
pub mod runtime;
pub mod segment;
pub mod shutdown;
pub mod sys;

pub use error::{Error, Result};
