//! How a worker's runs are held to their limits, published in its slot (one word) so that
//! `kennelctl status`, `GET /api/v1/languages` and the startup log say the same thing, and say
//! which limits are exact and which approximate.
//!
//! | mode | memory, processes, CPU share | whole-run CPU time |
//! |---|---|---|
//! | cgroup v2 (as root, or delegated to an ordinary user) | the run's cgroup: exact | `kennel-run`'s budget |
//! | cgroup v1 (as root) | the run's cgroups: exact | `kennel-run`'s budget |
//! | none (an ordinary user without a delegated cgroup-v2 subtree) | memory: `kennel-run`'s budget, sampled (approximate); processes: `RLIMIT_NPROC`, per uid; CPU share: not enforced | `kennel-run`'s budget |

/// `LimitsMode::summary`, as `kennelctl status --json` and `GET /api/v1/languages` show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub mode: String,
    pub exact: Vec<&'static str>,
    pub approximate: Vec<&'static str>,
}

/// The kind of enforcement in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Not published yet (a worker that has not started its runner).
    Unknown = 0,
    /// No cgroup: rlimits and `kennel-run`'s budget.
    Budget = 1,
    CgroupV1 = 2,
    CgroupV2Root = 3,
    CgroupV2Delegated = 4,
}

/// Controllers of a run's cgroup, one bit each (above the kind's byte).
pub const MEMORY: u32 = 1 << 8;
pub const PIDS: u32 = 1 << 9;
pub const CPU: u32 = 1 << 10;

/// The mode: its kind and the controllers each run gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsMode {
    pub kind: Kind,
    pub controllers: u32,
}

impl LimitsMode {
    pub const UNKNOWN: LimitsMode = LimitsMode {
        kind: Kind::Unknown,
        controllers: 0,
    };
    pub const BUDGET: LimitsMode = LimitsMode {
        kind: Kind::Budget,
        controllers: 0,
    };

    pub fn encode(self) -> u32 {
        self.kind as u32 | (self.controllers & (MEMORY | PIDS | CPU))
    }

    /// Decodes a slot's word; anything unknown reads as `UNKNOWN` (a corrupted word is not
    /// trusted).
    pub fn decode(word: u32) -> LimitsMode {
        let kind = match word & 0xff {
            1 => Kind::Budget,
            2 => Kind::CgroupV1,
            3 => Kind::CgroupV2Root,
            4 => Kind::CgroupV2Delegated,
            _ => return LimitsMode::UNKNOWN,
        };
        LimitsMode {
            kind,
            controllers: word & (MEMORY | PIDS | CPU),
        }
    }

    fn has(self, c: u32) -> bool {
        self.controllers & c != 0
    }

    /// The controllers' names, space-separated.
    pub fn controller_names(self) -> String {
        [(MEMORY, "memory"), (PIDS, "pids"), (CPU, "cpu")]
            .into_iter()
            .filter(|(c, _)| self.has(*c))
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One short line: `cgroup v1 as root: memory pids cpu`, `cgroup v2 delegated: …`,
    /// `none: limits per run by kennel-run`.
    pub fn describe(self) -> String {
        match self.kind {
            Kind::Unknown => "unknown".into(),
            Kind::Budget => "none: limits per run by kennel-run".into(),
            Kind::CgroupV1 => format!("cgroup v1 as root: {}", self.controller_names()),
            Kind::CgroupV2Root => format!("cgroup v2 as root: {}", self.controller_names()),
            Kind::CgroupV2Delegated => {
                format!("cgroup v2 delegated: {}", self.controller_names())
            }
        }
    }

    /// Each limit and how it is held: `(limit, how, exact)`.
    pub fn enforcement(self) -> Vec<(&'static str, &'static str, bool)> {
        let cg = matches!(
            self.kind,
            Kind::CgroupV1 | Kind::CgroupV2Root | Kind::CgroupV2Delegated
        );
        let mut v = vec![(
            "cpu_time",
            "every process of the run together, kennel-run's budget (and RLIMIT_CPU per process)",
            true,
        )];
        v.push(if cg && self.has(MEMORY) {
            (
                "memory",
                "the run's memory cgroup (processes and tmpfs pages)",
                true,
            )
        } else {
            (
                "memory",
                "kennel-run's budget: processes, tmpfs and memfds, sampled every 10 ms",
                false,
            )
        });
        v.push(if cg && self.has(PIDS) {
            ("processes", "the run's pids cgroup", true)
        } else {
            (
                "processes",
                "RLIMIT_NPROC: counted per uid, so other processes of the user count too",
                false,
            )
        });
        v.push(if cg && self.has(CPU) {
            ("cpu_share", "the run's cpu cgroup quota (--cpu-max)", true)
        } else {
            ("cpu_share", "not enforced: no CPU controller", false)
        });
        v.push(("wall_time", "the worker's clock (a pidfd in poll)", true));
        v.push(("output", "the worker stops reading and kills the run", true));
        v.push(("file_size", "RLIMIT_FSIZE and the size of each tmpfs", true));
        v
    }

    /// The mode for a JSON document: its description and each limit, exact or approximate.
    pub fn summary(self) -> Summary {
        let e = self.enforcement();
        let pick = |x: bool| e.iter().filter(|l| l.2 == x).map(|l| l.0).collect();
        Summary {
            mode: self.describe(),
            exact: pick(true),
            approximate: pick(false),
        }
    }

    /// `exact: cpu_time memory …; approximate: …` for a log line.
    pub fn exactness(self) -> String {
        let pick = |exact: bool| {
            self.enforcement()
                .into_iter()
                .filter(|e| e.2 == exact)
                .map(|e| e.0)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let approx = pick(false);
        if approx.is_empty() {
            format!("exact: {}", pick(true))
        } else {
            format!("exact: {}; approximate: {approx}", pick(true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_says_what_is_exact() {
        let v1 = LimitsMode {
            kind: Kind::CgroupV1,
            controllers: MEMORY | PIDS | CPU,
        };
        assert_eq!(LimitsMode::decode(v1.encode()), v1);
        assert_eq!(v1.describe(), "cgroup v1 as root: memory pids cpu");
        assert!(
            !v1.exactness().contains("approximate"),
            "{}",
            v1.exactness()
        );
        let none = LimitsMode::BUDGET;
        assert_eq!(LimitsMode::decode(none.encode()), none);
        assert!(
            none.exactness()
                .ends_with("approximate: memory processes cpu_share"),
            "{}",
            none.exactness()
        );
        assert_eq!(LimitsMode::decode(0xdead_00ff), LimitsMode::UNKNOWN);
    }
}
