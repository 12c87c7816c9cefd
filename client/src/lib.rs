//! The client side of Kennel: the library behind `kennel-client` (talking to the system) and
//! `kennelctl` (reading the shared segment, read-only, for people and scripts).

#![forbid(unsafe_code)]

pub mod ask;
pub mod bench;
pub mod chaos;
pub mod chaos_cli;
pub mod client;
pub mod ctl;
pub mod http;
pub mod inspect;
pub mod lab;
pub mod launch;
pub mod status;
pub mod status_json;

pub use client::{Answer, Client, ClientConfig, ClientError};
