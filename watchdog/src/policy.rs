//! When to restart a child that died: at once, after a growing delay, or not until a cool-down
//! (FATAL). Pure logic over timestamps, so every rule is unit-tested.
//!
//! A crash loop is a child that cannot stay up, not a child that is killed often (`judge`):
//! only a *failure* counts toward backoff and FATAL — a death before the child was ready, a
//! kill by the watchdog for a hang or a start timeout, or a death by its own hand (an exit, a
//! crash signal) within `quick` of readiness. A child that was ready and is killed from
//! outside (SIGKILL, SIGTERM, …) or fails after a stable run is restarted at once, every
//! time, and counts for nothing. supervisord draws the same line with `startsecs` (a death
//! before it is a failed start); systemd's `StartLimitBurst` counts every start, so a service
//! killed by hand six times in ten seconds is refused — Kennel does not do that.
//!
//! For failures:
//! - One after a run of at least `quick` (1 s) is restarted at once, and the backoff is reset.
//! - A child that died sooner is restarted after `base · 2^(n-1)`, capped at `cap`, where n
//!   counts consecutive quick deaths (systemd's and s6's lesson: never spin).
//! - More than `max_restarts` deaths within `window` put the child in FATAL for
//!   `fatal_cooldown`, after which it is tried again with a clean history (supervisord's FATAL,
//!   with the retry its users ask for).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kennel_common::layout::ExitCode;
use nix::sys::signal::Signal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub max_restarts: u32,
    pub window: Duration,
    pub quick: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub fatal_cooldown: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 5,
            window: Duration::from_secs(10),
            quick: Duration::from_secs(1),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            fatal_cooldown: Duration::from_secs(30),
        }
    }
}

/// How a death is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    /// The child could not stay up: counts toward backoff and FATAL.
    Failure,
    /// Killed from outside after readiness, or a failure after a stable run: restart at once.
    Ordinary,
}

/// Signals that only come from outside (a person, a tool, the OOM killer): a child does not
/// die of them by its own fault.
const FROM_OUTSIDE: [Signal; 8] = [
    Signal::SIGKILL,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
];

/// Judges a death: `ready_for` is how long the child had been ready (None: never),
/// `failed_check` whether the watchdog itself killed it for a hang or a start timeout.
pub fn judge(
    ready_for: Option<Duration>,
    exit: ExitCode,
    failed_check: bool,
    p: &RestartPolicy,
) -> Death {
    let Some(ready_for) = ready_for else {
        return Death::Failure;
    };
    if failed_check {
        return Death::Failure;
    }
    let from_outside = matches!(exit, ExitCode::Signaled(s)
        if FROM_OUTSIDE.iter().any(|f| *f as i32 == i32::from(s)));
    if from_outside || ready_for >= p.quick {
        Death::Ordinary
    } else {
        Death::Failure
    }
}

/// What to do after a death.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    RestartNow,
    RestartAfter(Duration),
    Fatal(Duration),
}

/// One child's recent deaths.
#[derive(Debug, Default, Clone)]
pub struct History {
    deaths: VecDeque<Instant>,
    quick_streak: u32,
}

impl History {
    /// Records a death at `now` after running `ran_for`, judged `death`, and decides what
    /// comes next. An ordinary death is not recorded: restart at once.
    pub fn on_death(
        &mut self,
        now: Instant,
        ran_for: Duration,
        death: Death,
        p: &RestartPolicy,
    ) -> Next {
        if death == Death::Ordinary {
            if ran_for >= p.quick {
                self.quick_streak = 0;
            }
            return Next::RestartNow;
        }
        self.deaths.push_back(now);
        while let Some(first) = self.deaths.front() {
            if now.duration_since(*first) > p.window {
                self.deaths.pop_front();
            } else {
                break;
            }
        }
        if self.deaths.len() > p.max_restarts as usize {
            self.deaths.clear();
            self.quick_streak = 0;
            return Next::Fatal(p.fatal_cooldown);
        }
        if ran_for >= p.quick {
            self.quick_streak = 0;
            return Next::RestartNow;
        }
        self.quick_streak += 1;
        let factor = 1u32 << (self.quick_streak - 1).min(16);
        Next::RestartAfter((p.backoff_base * factor).min(p.backoff_cap))
    }

    /// Deaths counted in the current window.
    pub fn recent(&self) -> usize {
        self.deaths.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl History {
        fn on_death_failure(&mut self, now: Instant, ran_for: Duration, p: &RestartPolicy) -> Next {
            self.on_death(now, ran_for, Death::Failure, p)
        }
    }

    #[test]
    fn only_a_child_that_cannot_stay_up_is_judged_a_failure() {
        let p = RestartPolicy::default();
        let ms = Duration::from_millis;
        let kill = ExitCode::Signaled(Signal::SIGKILL as u8);
        let segv = ExitCode::Signaled(Signal::SIGSEGV as u8);
        let exit1 = ExitCode::Exited(1);
        // Never ready: whatever the cause.
        assert_eq!(judge(None, kill, false, &p), Death::Failure);
        // Killed by the watchdog for a hang or a start timeout.
        assert_eq!(judge(Some(ms(5000)), kill, true, &p), Death::Failure);
        // Its own fault, soon after readiness.
        assert_eq!(judge(Some(ms(10)), segv, false, &p), Death::Failure);
        assert_eq!(judge(Some(ms(10)), exit1, false, &p), Death::Failure);
        // Killed from outside, however soon; or its own fault after a stable run.
        assert_eq!(judge(Some(ms(1)), kill, false, &p), Death::Ordinary);
        assert_eq!(
            judge(
                Some(ms(1)),
                ExitCode::Signaled(Signal::SIGTERM as u8),
                false,
                &p
            ),
            Death::Ordinary
        );
        assert_eq!(judge(Some(ms(1500)), segv, false, &p), Death::Ordinary);
    }

    #[test]
    fn ordinary_deaths_restart_at_once_however_many() {
        let p = RestartPolicy::default();
        let mut h = History::default();
        let t0 = Instant::now();
        for i in 0..100 {
            let at = t0 + Duration::from_millis(i * 10);
            assert_eq!(
                h.on_death(at, Duration::from_millis(5), Death::Ordinary, &p),
                Next::RestartNow
            );
        }
        assert_eq!(h.recent(), 0);
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn a_stable_child_is_restarted_at_once() {
        let p = RestartPolicy::default();
        let mut h = History::default();
        let t0 = Instant::now();
        assert_eq!(h.on_death_failure(t0, 30 * SEC, &p), Next::RestartNow);
        assert_eq!(
            h.on_death_failure(t0 + 5 * SEC, 5 * SEC, &p),
            Next::RestartNow
        );
    }

    #[test]
    fn quick_deaths_back_off_exponentially_up_to_the_cap_and_reset_after_a_stable_run() {
        let p = RestartPolicy {
            max_restarts: 100,
            ..RestartPolicy::default()
        };
        let mut h = History::default();
        let t0 = Instant::now();
        let quick = Duration::from_millis(10);
        let delays: Vec<Next> = (0..8)
            .map(|i| h.on_death_failure(t0 + i * SEC, quick, &p))
            .collect();
        let ms = |n| Next::RestartAfter(Duration::from_millis(n));
        assert_eq!(
            delays,
            vec![
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(3200),
                ms(5000),
                ms(5000)
            ]
        );
        assert_eq!(
            h.on_death_failure(t0 + 9 * SEC, 2 * SEC, &p),
            Next::RestartNow
        );
        assert_eq!(h.on_death_failure(t0 + 10 * SEC, quick, &p), ms(100));
    }

    #[test]
    fn too_many_deaths_in_the_window_is_fatal_then_history_starts_over() {
        let p = RestartPolicy::default();
        let mut h = History::default();
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(matches!(
                h.on_death_failure(t0 + i * SEC, 2 * SEC, &p),
                Next::RestartNow
            ));
        }
        assert_eq!(
            h.on_death_failure(t0 + 5 * SEC, 2 * SEC, &p),
            Next::Fatal(p.fatal_cooldown)
        );
        assert_eq!(h.recent(), 0);
        assert_eq!(
            h.on_death_failure(t0 + 40 * SEC, 2 * SEC, &p),
            Next::RestartNow
        );
    }

    #[test]
    fn deaths_outside_the_window_are_forgotten() {
        let p = RestartPolicy::default();
        let mut h = History::default();
        let t0 = Instant::now();
        for i in 0..20 {
            // One death every 3 s: never more than 4 in 10 s.
            assert_eq!(
                h.on_death_failure(t0 + i * 3 * SEC, 3 * SEC, &p),
                Next::RestartNow
            );
        }
        assert!(h.recent() <= 4);
    }
}
