//! A verdict and the clock of a time limit, by name: what a run's result and each of its
//! tests say, on the wire and in JSON.

use serde::Serialize;

/// What became of a submission. Decided from facts (`verdict.rs`), never guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    CompileError,
    RuntimeError,
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    WrongAnswer,
    /// The sandbox could not run the program: never for anything the program did.
    InternalError,
    /// A test not run: an earlier one failed and the submission asked to stop there.
    Skipped,
}

impl Verdict {
    pub const ALL: [Verdict; 9] = [
        Verdict::Accepted,
        Verdict::CompileError,
        Verdict::RuntimeError,
        Verdict::TimeLimit,
        Verdict::MemoryLimit,
        Verdict::OutputLimit,
        Verdict::WrongAnswer,
        Verdict::InternalError,
        Verdict::Skipped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::CompileError => "compile_error",
            Verdict::RuntimeError => "runtime_error",
            Verdict::TimeLimit => "time_limit",
            Verdict::MemoryLimit => "memory_limit",
            Verdict::OutputLimit => "output_limit",
            Verdict::WrongAnswer => "wrong_answer",
            Verdict::InternalError => "internal_error",
            Verdict::Skipped => "skipped",
        }
    }

    pub fn from_name(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.name() == s)
    }

    /// `kennel-client run`'s exit status for this verdict (docs/RUNNER.md). 1 and 2 are the
    /// client's own failures and usage errors.
    pub fn exit_status(self) -> i32 {
        match self {
            Verdict::Accepted => 0,
            Verdict::TimeLimit => 3,
            Verdict::MemoryLimit => 4,
            Verdict::OutputLimit => 5,
            Verdict::RuntimeError => 6,
            Verdict::CompileError => 7,
            Verdict::WrongAnswer => 8,
            Verdict::InternalError => 9,
            Verdict::Skipped => 10,
        }
    }
}

/// Which clock a time limit was hit on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeKind {
    Cpu,
    Wall,
}

impl TimeKind {
    pub fn name(self) -> &'static str {
        match self {
            TimeKind::Cpu => "cpu",
            TimeKind::Wall => "wall",
        }
    }

    pub fn from_name(s: &str) -> Option<TimeKind> {
        match s {
            "cpu" => Some(TimeKind::Cpu),
            "wall" => Some(TimeKind::Wall),
            _ => None,
        }
    }
}

pub(crate) fn lossy<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}
