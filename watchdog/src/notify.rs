//! systemd's readiness protocol, when the watchdog runs under it (`Type=notify`, or s6's
//! `notification-fd` through `s6-notifyoncheck`-style wrappers): `READY=1` once every child
//! wanted up is ready, `STATUS=` whenever the one-line summary changes (`3/4 workers ready`,
//! `worker 2 FATAL: restarted too often (crash loop)`), `WATCHDOG=1` every half
//! `WATCHDOG_USEC` — sent from the main loop only, so a loop that stops turning stops the
//! pings and systemd restarts the service — and `STOPPING=1` when it stops. Without
//! `NOTIFY_SOCKET` every call is a no-op.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::machine::Phase;
use crate::supervisor::Supervisor;

pub struct Notifier {
    enabled: bool,
    /// Half of `WATCHDOG_USEC`, if systemd asked for pings.
    ping_every: Option<Duration>,
    last_ping: Instant,
    last_status: String,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let ping_every = enabled
            .then(watchdog_usec)
            .flatten()
            .map(|usec| Duration::from_micros(usec / 2).max(Duration::from_millis(1)));
        if enabled {
            log::info!(
                "systemd notification socket found{}",
                ping_every.map_or(String::new(), |d| format!(
                    "; watchdog pings every {} ms",
                    d.as_millis()
                ))
            );
        }
        Notifier {
            enabled,
            ping_every,
            last_ping: Instant::now(),
            last_status: String::new(),
        }
    }

    fn send(&self, states: &[NotifyState]) {
        if self.enabled {
            if let Err(e) = sd_notify::notify(false, states) {
                kennel_common::logging::warn_limited(
                    "sd-notify",
                    format_args!("systemd notification not sent: {e}"),
                );
            }
        }
    }

    /// Every child is up: `READY=1` with the status.
    pub fn ready(&mut self, sup: &Supervisor) {
        self.last_status = summary(sup);
        self.send(&[NotifyState::Ready, NotifyState::Status(&self.last_status)]);
    }

    /// One loop turn: the status if it changed, a watchdog ping if one is due.
    pub fn tick(&mut self, sup: &Supervisor, now: Instant) {
        if !self.enabled {
            return;
        }
        let status = summary(sup);
        if status != self.last_status {
            self.send(&[NotifyState::Status(&status)]);
            self.last_status = status;
        }
        if let Some(every) = self.ping_every {
            if now.duration_since(self.last_ping) >= every {
                self.send(&[NotifyState::Watchdog]);
                self.last_ping = now;
            }
        }
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}

/// `WATCHDOG_USEC`, when it is meant for this process: as libsystemd's `sd_watchdog_enabled`,
/// a missing `WATCHDOG_PID` means us (the crate's own check insists on it).
fn watchdog_usec() -> Option<u64> {
    let usec = std::env::var("WATCHDOG_USEC")
        .ok()?
        .parse()
        .ok()
        .filter(|u| *u > 0)?;
    match std::env::var("WATCHDOG_PID").ok().map(|p| p.parse::<u32>()) {
        None => Some(usec),
        Some(Ok(pid)) if pid == std::process::id() => Some(usec),
        Some(_) => None,
    }
}

/// The one-line state of the instance, for `systemctl status`.
pub fn summary(sup: &Supervisor) -> String {
    for id in sup.ids() {
        if let Phase::Fatal { reason, .. } = sup.life(id).phase {
            return format!("{id} FATAL: {}", reason.describe());
        }
    }
    let workers: Vec<_> = sup
        .ids()
        .filter(|id| matches!(id, kennel_common::segment::RecordId::Worker(_)))
        .collect();
    let wanted = workers.iter().filter(|id| sup.life(**id).want_up).count();
    let ready = workers
        .iter()
        .filter(|id| matches!(sup.life(**id).phase, Phase::Running { .. }))
        .count();
    let dispatcher = if matches!(
        sup.life(kennel_common::segment::RecordId::Dispatcher).phase,
        Phase::Running { .. }
    ) {
        ""
    } else {
        "dispatcher not ready; "
    };
    format!("{dispatcher}{ready}/{wanted} workers ready")
}
