//! Kennel's operator and developer tools, above the client library: `kennelctl` (status,
//! events, top, control verbs, man pages and completions), `kennel-bench` (every figure in
//! docs/PERFORMANCE.md), `kennel-chaos` (killing and vandalising a running instance), and what
//! they share: starting a throwaway instance (`launch`), a multi-host lab (`lab`), and a small
//! HTTP client (`http`).

#![forbid(unsafe_code)]

pub mod bench;
pub mod chaos;
pub mod chaos_cli;
pub mod ctl;
pub mod http;
pub mod lab;
pub mod launch;
