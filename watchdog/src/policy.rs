//! When to restart a child that died: at once, after a growing delay, or not until a cool-down
//! (FATAL). Pure logic over timestamps, so every rule is unit-tested.
//!
//! - A child that ran for at least `quick` (1 s) before dying is restarted at once, and its
//!   backoff is reset: it had a stable run.
//! - A child that died sooner is restarted after `base · 2^(n-1)`, capped at `cap`, where n
//!   counts consecutive quick deaths (systemd's and s6's lesson: never spin).
//! - More than `max_restarts` deaths within `window` put the child in FATAL for
//!   `fatal_cooldown`, after which it is tried again with a clean history (supervisord's FATAL,
//!   with the retry its users ask for).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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
    /// Records a death at `now` after running `ran_for`, and decides what comes next.
    pub fn on_death(&mut self, now: Instant, ran_for: Duration, p: &RestartPolicy) -> Next {
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

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn a_stable_child_is_restarted_at_once() {
        let p = RestartPolicy::default();
        let mut h = History::default();
        let t0 = Instant::now();
        assert_eq!(h.on_death(t0, 30 * SEC, &p), Next::RestartNow);
        assert_eq!(h.on_death(t0 + 5 * SEC, 5 * SEC, &p), Next::RestartNow);
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
            .map(|i| h.on_death(t0 + i * SEC, quick, &p))
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
        assert_eq!(h.on_death(t0 + 9 * SEC, 2 * SEC, &p), Next::RestartNow);
        assert_eq!(h.on_death(t0 + 10 * SEC, quick, &p), ms(100));
    }

    #[test]
    fn too_many_deaths_in_the_window_is_fatal_then_history_starts_over() {
        let p = RestartPolicy::default();
        let mut h = History::default();
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(matches!(
                h.on_death(t0 + i * SEC, 2 * SEC, &p),
                Next::RestartNow
            ));
        }
        assert_eq!(
            h.on_death(t0 + 5 * SEC, 2 * SEC, &p),
            Next::Fatal(p.fatal_cooldown)
        );
        assert_eq!(h.recent(), 0);
        assert_eq!(h.on_death(t0 + 40 * SEC, 2 * SEC, &p), Next::RestartNow);
    }

    #[test]
    fn deaths_outside_the_window_are_forgotten() {
        let p = RestartPolicy::default();
        let mut h = History::default();
        let t0 = Instant::now();
        for i in 0..20 {
            // One death every 3 s: never more than 4 in 10 s.
            assert_eq!(h.on_death(t0 + i * 3 * SEC, 3 * SEC, &p), Next::RestartNow);
        }
        assert!(h.recent() <= 4);
    }
}
