//! Every flag of every Kennel daemon, defined once (ripgrep's lesson: one definition per flag,
//! everything else derived from it).
//!
//! Each option group is a clap `Args` struct written with [`option_group!`]; from it come the
//! command line and its `--help`, the man pages and completions (`kennelctl man`,
//! `kennelctl completions`), the keys of the watchdog's `--config` file (a key is its flag's
//! name), the argv the watchdog hands each child ([`flag::Group::to_args`]) and what a reload
//! does when a value changed ([`flag::Reload`]). The crate sits just above `kennel-common`, so
//! the watchdog reads its children's flags without depending on the children.
//!
//! Adding a flag is one edit here (a field with its clap attributes and its reload class) plus
//! its use; `tests.rs` checks that every group's argv parses back to the same value.

#![forbid(unsafe_code)]

pub mod alias;
pub mod dispatcher;
pub mod flag;
pub mod gateway;
pub mod runner;
pub mod shared;
pub mod watchdog;
pub mod worker;

#[cfg(test)]
mod tests;

pub use flag::{duration_arg, Change, Group, Reload};
