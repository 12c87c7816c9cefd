//! Kennel's program runner: compiles and runs a submitted program (Python, C, C++, Java) in a
//! bubblewrap sandbox with limits, and says what became of it as a verdict built from facts.
//! docs/RUNNER.md is the design; docs/SECURITY.md what the sandbox stops.
//!
//! | module | what |
//! |---|---|
//! | `grade` | `Runner::run`: refuse what cannot run, compile once, run each test, conclude |
//! | `runner` | the runner's host facts, and its primitives: compile (or reuse the cache), one step |
//! | `program` | a program as the sandbox holds it: files, entry, options |
//! | `compile_options` | the compiler options a submission may give, per language |
//! | `java_main` | the Java class with `main`, found in the sources |
//! | `plan` | what a submission's tests share; a test's run spec and its result from a step |
//! | `checker`, `custom_checker`, `side` | how an output is compared: built-in checkers, a checker program |
//! | `interact` | an interactive test: the program and an interactor joined by pipes |
//! | `describe` | what a runner says about itself: offers, the log line, what is missing |
//! | `language` | the languages, their commands, the toolchains this host offers |
//! | `limits` | the flags (`RunnerOptions`) and the limits of one run |
//! | `sandbox` | bwrap's arguments: the sandbox as a list of named kernel features |
//! | `seccomp` | the system-call filter bwrap installs |
//! | `maker` | what making a sandbox takes: bwrap, `kennel-run`, cgroups, the warm directory |
//! | `pool`, `refill` | sandboxes made in advance and kept, off the request path, and the threads that make and retire them |
//! | `zygote` | a sandbox kept for many runs, and the next run's init made in it |
//! | `prefork` | a sandbox ready for one run, and the run handed to it |
//! | `fresh` | the run's own filesystems, mounted by its init |
//! | `execute` | one sandboxed step's descriptors, output caps, wall limit |
//! | `standby` | `kennel-run` as the sandbox's zygote: a run's init per run, each in fresh namespaces |
//! | `helper` | `kennel-run`, the measuring init inside the sandbox |
//! | `budget` | one CPU and memory budget for a run's whole process tree, kept by `kennel-run` |
//! | `watch` | the thread of `kennel-run` that keeps the budget |
//! | `facts` | the line `kennel-run` reports |
//! | `verdict` | the verdict from the facts |
//! | `cgroup` | one cgroup per run where cgroups are usable |
//! | `cache` | the compile cache |
//! | `warm`, `warm_build` | warm toolchains: precompiled headers, javac's class archive, shared read-only |
//! | `archive` | files across the sandbox's wall |
//! | `fields`, `submission`, `submission_decode`, `outcome`, `status`, `test_result` | the submission and the result on the wire |

#![forbid(unsafe_code)]

pub mod archive;
pub mod budget;
pub mod cache;
pub mod cgroup;
pub mod checker;
pub mod compile_options;
mod custom_checker;
mod describe;
pub mod execute;
pub mod facts;
pub mod fields;
pub mod fresh;
pub mod grade;
pub mod helper;
mod interact;
mod java_main;
pub mod language;
pub mod limits;
pub mod maker;
pub mod outcome;
mod plan;
pub mod pool;
pub mod prefork;
pub mod program;
mod refill;
pub mod runner;
pub mod sandbox;
pub mod seccomp;
pub mod side;
pub mod standby;
pub mod status;
pub mod submission;
mod submission_decode;
pub mod test_result;
pub mod verdict;
pub mod warm;
mod warm_build;
pub mod watch;
pub mod zygote;

pub use checker::Checker;
pub use kennel_options::runner::RunnerOptions;
pub use language::Language;
pub use outcome::{RunResult, TimeKind, Verdict};
pub use runner::Runner;
pub use side::SideProgram;
pub use submission::{SourceFile, Submission, TestCase};
pub use test_result::TestResult;
