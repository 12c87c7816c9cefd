//! A checker's or an interactor's program: one file in any language Kennel runs, compiled
//! and run by the runner in a sandbox of its own.

use kennel_common::protocol::kind::Language;

/// A checker or an interactor: a one-file program in any language Kennel runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideProgram {
    pub language: Language,
    pub source: Vec<u8>,
}
