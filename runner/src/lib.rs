//! Kennel's program runner: compiles and runs a submitted program (Python, C, C++, Java) in a
//! bubblewrap sandbox with limits, and says what became of it as a verdict built from facts.
//! docs/RUNNER.md is the design; docs/SECURITY.md what the sandbox stops.
//!
//! | module | what |
//! |---|---|
//! | `runner` | `Runner::run`: compile (or reuse the cache), run, judge |
//! | `describe` | what a runner says about itself: offers, the log line, what is missing |
//! | `language` | the languages, their commands, the toolchains this host offers |
//! | `limits` | the flags (`RunnerOptions`) and the limits of one run |
//! | `sandbox` | bwrap's arguments: the sandbox as a list of named kernel features |
//! | `seccomp` | the system-call filter bwrap installs |
//! | `execute` | one sandboxed step: descriptors, output caps, wall limit |
//! | `helper` | `kennel-run`, the measuring init inside the sandbox |
//! | `budget` | one CPU and memory budget for a run's whole process tree, kept by `kennel-run` |
//! | `watch` | the thread of `kennel-run` that keeps the budget |
//! | `facts` | the line `kennel-run` reports |
//! | `verdict` | the verdict from the facts |
//! | `cgroup` | one cgroup per run where cgroups are usable |
//! | `cache` | the compile cache |
//! | `archive` | files across the sandbox's wall |
//! | `fields`, `submission`, `outcome` | the submission and the result on the wire |

#![forbid(unsafe_code)]

pub mod archive;
pub mod budget;
pub mod cache;
pub mod cgroup;
mod describe;
pub mod execute;
pub mod facts;
pub mod fields;
pub mod helper;
pub mod language;
pub mod limits;
pub mod outcome;
pub mod runner;
pub mod sandbox;
pub mod seccomp;
pub mod submission;
pub mod verdict;
pub mod watch;

pub use kennel_options::runner::RunnerOptions;
pub use language::Language;
pub use outcome::{RunResult, TimeKind, Verdict};
pub use runner::Runner;
pub use submission::Submission;
