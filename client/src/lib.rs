//! The client side of Kennel: `Client` (one connection to the dispatcher, the worker it
//! names), `ask` (the `kennel-client` command line: services and program runs), and the
//! read-only view of an instance's shared segment (`inspect`, `status`, `status_json`) that
//! `kennelctl` and the HTTP gateway both show. The operator and developer tools (kennelctl,
//! kennel-bench, kennel-chaos) live above this crate, in `kennel-tools`.

#![forbid(unsafe_code)]

pub mod ask;
pub mod client;
pub mod inspect;
pub mod status;
pub mod status_json;

pub use client::{Answer, Client, ClientConfig, ClientError};
