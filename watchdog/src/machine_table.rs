//! The state × event table of `machine.rs`, checked cell by cell: every phase meets every
//! event once (54 cells), then the conditions inside cells (pid mismatch, deadline not yet
//! due, wanted up or down, quick deaths) have rows of their own.

use super::*;
use crate::policy::RestartPolicy;
use kennel_common::layout::Supervision;

const PID: i32 = 100;

fn rules() -> Rules {
    Rules {
        restart: RestartPolicy::default(),
        start_timeout: Duration::from_secs(5),
        grace: Duration::from_secs(3),
    }
}

fn pid(n: i32) -> Pid {
    Pid::from_raw(n)
}

fn kind(p: &Phase) -> &'static str {
    match p {
        Phase::Down => "Down",
        Phase::Starting { .. } => "Starting",
        Phase::Running { .. } => "Running",
        Phase::Stopping { .. } => "Stopping",
        Phase::Backoff { .. } => "Backoff",
        Phase::Fatal { .. } => "Fatal",
    }
}

/// The effects, without the log lines.
fn acts(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Spawn => Some("spawn".to_string()),
            Effect::Signal(p, s) => Some(format!("{}:{}", s.as_str(), p)),
            Effect::MarkDead(x, _) => Some(format!("dead:{x}")),
            Effect::Log(..) => None,
        })
        .collect()
}

/// One life per phase, all dated `t0`; Stopping is an instance stop (wanted down).
fn sample(name: &str, t0: Instant) -> Life {
    let phase = match name {
        "Down" => Phase::Down,
        "Starting" => Phase::Starting {
            pid: pid(PID),
            since: t0,
        },
        "Running" => Phase::Running {
            pid: pid(PID),
            since: t0,
            ready: t0,
        },
        "Stopping" => Phase::Stopping {
            pid: pid(PID),
            since: t0,
            started: t0,
            why: StopReason::Requested,
            killed: false,
        },
        "Backoff" => Phase::Backoff { until: t0 },
        "Fatal" => Phase::Fatal {
            until: t0,
            reason: FatalReason::TooManyRestarts,
        },
        other => panic!("no sample for {other}"),
    };
    Life {
        phase,
        want_up: name != "Stopping",
        started_once: name != "Down",
        ..Life::default()
    }
}

fn event(name: &str) -> Event {
    match name {
        "Deadline" => Event::Deadline,
        "Spawned" => Event::Spawned { pid: pid(200) },
        "SpawnFailed" => Event::SpawnFailed,
        "Ready" => Event::Ready { pid: pid(PID) },
        "Exited" => Event::Exited {
            pid: pid(PID),
            exit: ExitCode::Signaled(9),
        },
        "Hung" => Event::Hung { silent_ms: 5000 },
        "Stop" => Event::Stop,
        "Vacate" => Event::Vacate,
        "Start" => Event::Start,
        other => panic!("no event {other}"),
    }
}

const KILL: &str = "SIGKILL:100";
const TERM: &str = "SIGTERM:100";
const DEAD: &str = "dead:signal 9 (SIGKILL)";

/// (phase, event, next phase, effects, wanted up afterwards). Events arrive 10 s after `t0`:
/// every timer is due, and a death is after a stable run (restart at once).
#[rustfmt::skip]
const TABLE: &[(&str, &str, &str, &[&str], bool)] = &[
    ("Down", "Deadline", "Down", &["spawn"], true),
    ("Down", "Spawned", "Starting", &[], true),
    ("Down", "SpawnFailed", "Backoff", &[], true),
    ("Down", "Ready", "Down", &[], true),
    ("Down", "Exited", "Down", &[], true),
    ("Down", "Hung", "Down", &[], true),
    ("Down", "Stop", "Down", &[], false),
    ("Down", "Vacate", "Down", &[], false),
    ("Down", "Start", "Down", &["spawn"], true),

    ("Starting", "Deadline", "Stopping", &[KILL], true),
    ("Starting", "Spawned", "Starting", &[], true),
    ("Starting", "SpawnFailed", "Starting", &[], true),
    ("Starting", "Ready", "Running", &[], true),
    ("Starting", "Exited", "Down", &[DEAD, "spawn"], true),
    ("Starting", "Hung", "Starting", &[], true),
    ("Starting", "Stop", "Stopping", &[TERM], false),
    ("Starting", "Vacate", "Stopping", &[TERM], false),
    ("Starting", "Start", "Starting", &[], true),

    ("Running", "Deadline", "Running", &[], true),
    ("Running", "Spawned", "Running", &[], true),
    ("Running", "SpawnFailed", "Running", &[], true),
    ("Running", "Ready", "Running", &[], true),
    ("Running", "Exited", "Down", &[DEAD, "spawn"], true),
    ("Running", "Hung", "Stopping", &[KILL], true),
    ("Running", "Stop", "Stopping", &[TERM], false),
    ("Running", "Vacate", "Stopping", &[TERM], false),
    ("Running", "Start", "Running", &[], true),

    ("Stopping", "Deadline", "Stopping", &[KILL], false),
    ("Stopping", "Spawned", "Stopping", &[], false),
    ("Stopping", "SpawnFailed", "Stopping", &[], false),
    ("Stopping", "Ready", "Stopping", &[], false),
    ("Stopping", "Exited", "Down", &[DEAD], false),
    ("Stopping", "Hung", "Stopping", &[], false),
    ("Stopping", "Stop", "Stopping", &[], false),
    ("Stopping", "Vacate", "Stopping", &[], false),
    ("Stopping", "Start", "Stopping", &[], true),

    ("Backoff", "Deadline", "Down", &["spawn"], true),
    ("Backoff", "Spawned", "Backoff", &[], true),
    ("Backoff", "SpawnFailed", "Backoff", &[], true),
    ("Backoff", "Ready", "Backoff", &[], true),
    ("Backoff", "Exited", "Backoff", &[], true),
    ("Backoff", "Hung", "Backoff", &[], true),
    ("Backoff", "Stop", "Down", &[], false),
    ("Backoff", "Vacate", "Down", &[], false),
    ("Backoff", "Start", "Down", &["spawn"], true),

    ("Fatal", "Deadline", "Down", &["spawn"], true),
    ("Fatal", "Spawned", "Fatal", &[], true),
    ("Fatal", "SpawnFailed", "Fatal", &[], true),
    ("Fatal", "Ready", "Fatal", &[], true),
    ("Fatal", "Exited", "Fatal", &[], true),
    ("Fatal", "Hung", "Fatal", &[], true),
    ("Fatal", "Stop", "Down", &[], false),
    ("Fatal", "Vacate", "Down", &[], false),
    ("Fatal", "Start", "Down", &["spawn"], true),
];

const PHASES: [&str; 6] = [
    "Down", "Starting", "Running", "Stopping", "Backoff", "Fatal",
];
const EVENTS: [&str; 9] = [
    "Deadline",
    "Spawned",
    "SpawnFailed",
    "Ready",
    "Exited",
    "Hung",
    "Stop",
    "Vacate",
    "Start",
];

#[test]
fn the_table_has_every_cell_exactly_once() {
    for p in PHASES {
        for e in EVENTS {
            let n = TABLE.iter().filter(|r| r.0 == p && r.1 == e).count();
            assert_eq!(n, 1, "cell ({p}, {e}) appears {n} times");
        }
    }
    assert_eq!(TABLE.len(), PHASES.len() * EVENTS.len());
}

#[test]
fn every_cell_does_what_the_table_says() {
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(10);
    for &(p, e, want_phase, want_fx, want_up) in TABLE {
        let life = sample(p, t0);
        let (next, fx) = step(&life, event(e), now, &rules());
        let got_fx = acts(&fx);
        assert_eq!(kind(&next.phase), want_phase, "({p}, {e}): next phase");
        assert_eq!(got_fx, want_fx.to_vec(), "({p}, {e}): effects");
        assert_eq!(next.want_up, want_up, "({p}, {e}): wanted up");
        // The published state is a function of the phase, and of want-up when Down: a child
        // wanted down shows `stopped` (kennelctl stop), one waiting to start `down`.
        let (sup, _) = published(&next);
        assert_eq!(next.vacant, e == "Vacate", "({p}, {e}): vacant");
        let want_published = match (want_phase, want_up) {
            ("Down", false) if e == "Vacate" => "vacant".to_string(),
            ("Down", false) => "stopped".to_string(),
            ("Stopping", false) if e == "Vacate" => "draining".to_string(),
            (phase, _) => phase.to_lowercase(),
        };
        assert_eq!(sup.name(), want_published, "({p}, {e}): published");
    }
}

#[test]
fn events_naming_another_pid_are_ignored() {
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(10);
    for p in ["Starting", "Running", "Stopping"] {
        let life = sample(p, t0);
        for e in [
            Event::Ready { pid: pid(7) },
            Event::Exited {
                pid: pid(7),
                exit: ExitCode::Exited(0),
            },
        ] {
            let (next, fx) = step(&life, e, now, &rules());
            assert_eq!(next.phase, life.phase, "({p}, {e:?})");
            assert!(fx.is_empty(), "({p}, {e:?}): {fx:?}");
        }
    }
}

#[test]
fn timers_that_are_not_due_do_nothing() {
    let t0 = Instant::now();
    let early = t0 + Duration::from_millis(1);
    let mut backoff = sample("Backoff", t0);
    backoff.phase = Phase::Backoff {
        until: t0 + Duration::from_secs(1),
    };
    for life in [sample("Starting", t0), sample("Stopping", t0), backoff] {
        let (next, fx) = step(&life, Event::Deadline, early, &rules());
        assert_eq!(next.phase, life.phase);
        assert!(fx.is_empty(), "{fx:?}");
        let due = deadline(&life, early, &rules()).expect("a timer is set");
        let (_, fx) = step(&life, Event::Deadline, due, &rules());
        assert!(
            !acts(&fx).is_empty(),
            "{:?} acts at its deadline",
            life.phase
        );
    }
}

#[test]
fn a_killed_process_is_waited_for_not_killed_again() {
    let t0 = Instant::now();
    let mut life = sample("Stopping", t0);
    life.phase = Phase::Stopping {
        pid: pid(PID),
        since: t0,
        started: t0,
        why: StopReason::Hang,
        killed: true,
    };
    assert_eq!(deadline(&life, t0, &rules()), None);
    let (_, fx) = step(
        &life,
        Event::Deadline,
        t0 + Duration::from_secs(60),
        &rules(),
    );
    assert!(fx.is_empty());
}

#[test]
fn a_hang_kill_is_followed_by_a_restart() {
    let t0 = Instant::now();
    let p = rules();
    let (life, _) = step(
        &sample("Running", t0),
        Event::Hung { silent_ms: 5000 },
        t0,
        &p,
    );
    let exit = Event::Exited {
        pid: pid(PID),
        exit: ExitCode::Signaled(9),
    };
    let (life, fx) = step(&life, exit, t0 + Duration::from_secs(2), &p);
    assert_eq!(acts(&fx), vec![DEAD, "spawn"]);
    let (life, _) = step(&life, Event::Spawned { pid: pid(300) }, t0, &p);
    assert_eq!(
        life.restarts, 1,
        "the first start is not a restart; this one is"
    );
    assert_eq!(life.phase.pid(), Some(pid(300)));
}

#[test]
fn quick_deaths_back_off_then_go_fatal_and_publish_why() {
    let t0 = Instant::now();
    let p = rules();
    let mut life = sample("Down", t0);
    let mut now = t0;
    let mut phases = Vec::new();
    for n in 0..7 {
        let (l, _) = step(&life, Event::Spawned { pid: pid(500 + n) }, now, &p);
        now += Duration::from_millis(10);
        let exit = Event::Exited {
            pid: pid(500 + n),
            exit: ExitCode::Exited(1),
        };
        let (l, _) = step(&l, exit, now, &p);
        phases.push(kind(&l.phase));
        life = Life {
            phase: Phase::Down,
            ..l
        };
    }
    assert_eq!(
        phases,
        ["Backoff", "Backoff", "Backoff", "Backoff", "Backoff", "Fatal", "Backoff"]
    );
    let (_, fx) = step(&sample("Down", t0), Event::SpawnFailed, t0, &p);
    assert!(fx.iter().all(|e| !matches!(e, Effect::Spawn)));
    let fatal = Life {
        phase: Phase::Fatal {
            until: t0,
            reason: FatalReason::SpawnFailed,
        },
        ..Life::default()
    };
    assert_eq!(
        published(&fatal),
        (Supervision::Fatal, FatalReason::SpawnFailed)
    );
}

#[test]
fn a_child_stopped_while_stopping_then_started_is_restarted_when_it_exits() {
    let t0 = Instant::now();
    let p = rules();
    let (life, _) = step(&sample("Stopping", t0), Event::Start, t0, &p);
    let exit = Event::Exited {
        pid: pid(PID),
        exit: ExitCode::Exited(0),
    };
    let (life, fx) = step(&life, exit, t0 + Duration::from_secs(5), &p);
    assert_eq!(acts(&fx), vec!["dead:exit 0", "spawn"]);
    assert!(life.want_up);
}

#[test]
fn a_ready_child_killed_from_outside_is_restarted_at_once_every_time() {
    let t0 = Instant::now();
    let p = rules();
    // The first start, as the driver does it: Deadline asks for a spawn.
    let (mut life, fx) = step(&sample("Down", t0), Event::Deadline, t0, &p);
    assert_eq!(acts(&fx), vec!["spawn"]);
    let mut now = t0;
    for n in 0..20 {
        let child = pid(700 + n);
        let (l, _) = step(&life, Event::Spawned { pid: child }, now, &p);
        now += Duration::from_millis(2);
        let (l, _) = step(&l, Event::Ready { pid: child }, now, &p);
        now += Duration::from_millis(1);
        let exit = Event::Exited {
            pid: child,
            exit: ExitCode::Signaled(9),
        };
        let (l, fx) = step(&l, exit, now, &p);
        assert_eq!(acts(&fx), vec![DEAD, "spawn"], "kill #{n}");
        life = l;
    }
    assert_eq!(life.restarts, 20);
    // The same child failing by itself right after readiness is a crash loop.
    let (l, _) = step(&life, Event::Spawned { pid: pid(900) }, now, &p);
    let (l, _) = step(&l, Event::Ready { pid: pid(900) }, now, &p);
    let exit = Event::Exited {
        pid: pid(900),
        exit: ExitCode::Exited(1),
    };
    let (l, _) = step(&l, exit, now + Duration::from_millis(5), &p);
    assert_eq!(kind(&l.phase), "Backoff");
}

#[test]
fn a_vacated_slot_started_again_is_no_longer_vacant() {
    let t0 = Instant::now();
    let (vacated, _) = step(&sample("Running", t0), Event::Vacate, t0, &rules());
    assert!(vacated.vacant && !vacated.want_up);
    let (started, fx) = step(&sample("Down", t0), Event::Start, t0, &rules());
    assert!(!started.vacant && started.want_up && acts(&fx) == ["spawn"]);
    let mut down = sample("Down", t0);
    down.vacant = true;
    let (started, _) = step(&down, Event::Start, t0, &rules());
    assert!(!started.vacant, "Start clears the mark");
}
