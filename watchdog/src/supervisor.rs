//! The supervisor's hands: feeds events to the pure machine (`machine.rs`) and performs the
//! effects it returns — spawn, signal, record a death, log — then publishes the child's
//! supervision state, derived from its life by `machine::published`, once per transition.
//!
//! Deaths are learned at once from SIGCHLD (the caller reaps with `waitpid` and calls
//! `on_exit`); the periodic poll is the backstop, the PID report and the hang check. The
//! watchdog only ever signals PIDs of its own unreaped children, which the kernel cannot give
//! to anyone else, never a PID read from shared memory.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use kennel_common::clock;
use kennel_common::layout::{ExitCode, KillReason};
use kennel_common::notice::{Notice, NoticeKind, DISPATCHER_SLOT, GATEWAY_SLOT};
use kennel_common::segment::{RecordId, Segment};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::listeners::Listeners;
use crate::machine::{self, Effect, Event, Life, Phase, Rules};
use crate::settings::Settings;
use crate::spare::Spares;
use crate::spawn;

mod published;

/// How long the watchdog waits for the guard. Shorter than the children's `GUARD_TIMEOUT`: a
/// guard held that long means a frozen holder, which the hang check kills; until then the
/// watchdog skips the write (the repair pass makes it good) rather than stall its loop — a
/// stalled loop is one that cannot run that hang check.
const WATCHDOG_GUARD_TIMEOUT: std::time::Duration = kennel_common::child::TICK;

/// Every child's life, and what the driver needs to act on them.
pub struct Supervisor<'a> {
    /// The settings in force (a reload replaces what can change live: `set_settings`).
    settings: Settings,
    segment: &'a Segment,
    rules: Rules,
    /// Indexed by `Segment::index`: the dispatcher, each worker slot, the gateway.
    lives: Vec<Life>,
    /// Every child's listening socket, held for the instance's whole life.
    listeners: &'a Listeners,
    /// The pool size the scaler does not shrink below: `--min-workers`, or the last
    /// `kennelctl scale N`.
    pool_floor: usize,
    /// Workers started in advance, waiting for a slot (`spare.rs`).
    spares: Spares,
}

impl<'a> Supervisor<'a> {
    pub fn new(
        settings: &Settings,
        segment: &'a Segment,
        listeners: &'a Listeners,
    ) -> Supervisor<'a> {
        Supervisor {
            settings: settings.clone(),
            segment,
            rules: Rules {
                restart: settings.policy,
                start_timeout: settings.start_timeout,
                grace: settings.grace,
            },
            // An elastic pool starts at its minimum: the slots beyond it are vacant.
            lives: segment
                .ids()
                .map(|id| match id {
                    RecordId::Worker(k) if k >= settings.min_workers => Life {
                        want_up: false,
                        vacant: true,
                        ..Life::default()
                    },
                    // Without --http the gateway's record stays vacant for good.
                    RecordId::Gateway if settings.gateway.http.is_none() => Life {
                        want_up: false,
                        vacant: true,
                        ..Life::default()
                    },
                    _ => Life::default(),
                })
                .collect(),
            listeners,
            pool_floor: settings.min_workers,
            spares: Spares::default(),
        }
    }

    /// Puts reloaded settings in force: the restart policy, the timeouts, and the pool's
    /// floor (also published in the segment's bounds word, which `kennelctl` shows).
    pub fn set_settings(&mut self, new: Settings) {
        let min_changed = new.min_workers != self.settings.min_workers;
        self.rules.restart = new.policy;
        self.rules.start_timeout = new.start_timeout;
        self.rules.grace = new.grace;
        self.settings = new;
        // A standby was started with the old flags: replaced by new ones at the next turn.
        self.spares.discard();
        if min_changed {
            self.set_pool(self.settings.min_workers, self.settings.min_workers);
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The instance's shared segment.
    pub fn segment(&self) -> &'a Segment {
        self.segment
    }

    /// The pool size the scaler does not shrink below.
    pub fn pool_floor(&self) -> usize {
        self.pool_floor
    }

    /// Sets the pool's minimum (until a reload sets it again) and the scaler's floor, and
    /// publishes the bounds in the segment, where `kennelctl` reads them.
    pub fn set_pool(&mut self, min: usize, floor: usize) {
        self.settings.min_workers = min;
        self.pool_floor = floor;
        self.publish_bounds();
    }

    /// Every child's record id.
    pub fn ids(&self) -> impl Iterator<Item = RecordId> + 'a {
        self.segment.ids()
    }

    pub fn life(&self, id: RecordId) -> &Life {
        &self.lives[self.segment.index(id)]
    }

    /// Feeds `event` to `id`'s machine and performs what it asks, including the events the
    /// effects themselves produce (a spawn's outcome).
    pub fn handle(&mut self, id: RecordId, event: Event, now: Instant) {
        let mut pending = Some(event);
        while let Some(event) = pending.take() {
            let before = self.lives[self.segment.index(id)].phase;
            let (life, effects) =
                machine::step(&self.lives[self.segment.index(id)], event, now, &self.rules);
            self.lives[self.segment.index(id)] = life;
            // Acts first (a death is recorded before the state derived from it is published),
            // then the published state, then what is said about it: whoever reads a log line
            // finds the segment already saying the same.
            let (said, acts): (Vec<Effect>, Vec<Effect>) = effects
                .into_iter()
                .partition(|e| matches!(e, Effect::Log(..)));
            for effect in acts {
                if let Some(follow_up) = self.perform(id, effect) {
                    pending = Some(follow_up);
                }
            }
            if self.lives[self.segment.index(id)].phase != before {
                self.publish(id);
            }
            for effect in said {
                self.perform(id, effect);
            }
            if let (Phase::Starting { .. }, Phase::Running { pid, since, .. }) =
                (before, self.lives[self.segment.index(id)].phase)
            {
                self.on_ready(id, pid, since);
            }
        }
    }

    /// Performs one effect; returns the event it produced, if any.
    fn perform(&mut self, id: RecordId, effect: Effect) -> Option<Event> {
        match effect {
            Effect::Spawn => Some(self.spawn(id)),
            Effect::Signal(pid, sig) => {
                if let Err(e) = kill(pid, sig) {
                    log::warn!("{id}: sending {} to pid {pid}: {e}", sig.as_str());
                }
                None
            }
            Effect::MarkDead(exit, killed_for) => {
                self.mark_dead(id, exit, killed_for);
                None
            }
            Effect::Log(level, msg) => {
                log::log!(level, "{id} {msg}");
                None
            }
        }
    }

    /// Resets the record and starts the process.
    fn spawn(&mut self, id: RecordId) -> Event {
        let restarts = self.life(id).restarts;
        match self.segment.lock(WATCHDOG_GUARD_TIMEOUT) {
            Ok(g) => g.reset_for_spawn(id, clock::monotonic_ms(), restarts),
            Err(e) => log::error!("{id}: could not reset its record before the start: {e}"),
        }
        let port = self.listeners.addr(id).port();
        if let Some(pid) = self.take_standby(id, port) {
            if let Ok(g) = self.segment.lock(WATCHDOG_GUARD_TIMEOUT) {
                g.set_pid(id, pid.as_raw() as u32);
            }
            return Event::Spawned { pid };
        }
        let spawned = self
            .listeners
            .inheritable(id, |fd| {
                spawn::command(&self.settings, id, fd, port, self.dispatcher_addr()).spawn()
            })
            .and_then(|r| r.map_err(|e| kennel_common::Error::io("spawn", e)));
        match spawned {
            Ok(process) => {
                let pid = Pid::from_raw(process.id() as i32);
                // We reap with waitpid(-1); the std handle is not needed (dropping it neither
                // waits nor kills).
                drop(process);
                if let Ok(g) = self.segment.lock(WATCHDOG_GUARD_TIMEOUT) {
                    g.set_pid(id, pid.as_raw() as u32);
                }
                Event::Spawned { pid }
            }
            Err(e) => {
                log::error!("{id}: cannot spawn: {e}");
                Event::SpawnFailed
            }
        }
    }

    /// A worker slot's process from a ready standby worker, if there is one.
    fn take_standby(&mut self, id: RecordId, port: u16) -> Option<Pid> {
        let RecordId::Worker(slot) = id else {
            return None;
        };
        let listener = self.listeners.get(id).ok()?;
        let pid = self.spares.assign(slot, port, listener)?;
        log::info!("{id}: given to standby worker {pid}");
        Some(pid)
    }

    /// Starts the standby workers `--standby-workers` asks for, once no worker is starting
    /// (a standby's start would compete with it for the CPU).
    pub fn tend_spares(&mut self, now: Instant) {
        let starting = self
            .ids()
            .any(|id| matches!(self.life(id).phase, Phase::Starting { .. }));
        if !starting {
            let s = &self.settings;
            self.spares
                .tend(s.standby_workers, now, |fd| spawn::standby_command(s, fd));
        }
    }

    /// The standby workers' pids.
    pub fn spare_pids(&self) -> Vec<Pid> {
        self.spares.pids()
    }

    /// Ends the standby workers (the instance stops).
    pub fn discard_spares(&mut self) {
        self.spares.discard();
    }

    /// Where the gateway reaches the dispatcher: its socket's address, loopback when it is
    /// bound to every address.
    fn dispatcher_addr(&self) -> std::net::SocketAddr {
        let mut a = self.listeners.addr(RecordId::Dispatcher);
        if a.ip().is_unspecified() {
            a.set_ip(match a.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        a
    }

    fn mark_dead(&self, id: RecordId, exit: ExitCode, killed_for: KillReason) {
        match self.segment.lock(WATCHDOG_GUARD_TIMEOUT) {
            Ok(g) => {
                g.mark_dead(id, exit, killed_for);
                for (id, why) in g.repair_damaged() {
                    log::warn!("repaired {id}'s record, {why}");
                }
            }
            Err(e) => log::error!("{id} died but its record could not be updated: {e}"),
        }
    }

    fn on_ready(&mut self, id: RecordId, pid: Pid, since: Instant) {
        let endpoint = self.segment.read(id).endpoint;
        let endpoint = endpoint.map_or_else(|| "?".into(), |e| e.to_string());
        log::info!(
            "{id} ready (pid {pid}, {endpoint}) {:.1} ms after its start",
            since.elapsed().as_secs_f64() * 1000.0
        );
    }

    /// A ready notice arrived on the watchdog FIFO.
    pub fn on_notice(&mut self, n: &Notice) {
        let id = match n.slot {
            DISPATCHER_SLOT => Some(RecordId::Dispatcher),
            GATEWAY_SLOT => Some(RecordId::Gateway),
            k => self.segment.worker_id(u64::from(k)),
        };
        let (Some(id), NoticeKind::Ready) = (id, n.kind) else {
            kennel_common::logging::warn_limited(
                "watchdog-fifo",
                format_args!("ignoring an unexpected notice on the watchdog FIFO: {n:?}"),
            );
            return;
        };
        let pid = Pid::from_raw(i32::try_from(n.pid).unwrap_or(-1));
        if !matches!(self.life(id).phase, Phase::Starting { pid: p, .. } if p == pid) {
            kennel_common::logging::warn_limited(
                "watchdog-fifo-pid",
                format_args!(
                    "ignoring a ready notice from pid {} for {id}: not the process being started",
                    n.pid
                ),
            );
            return;
        }
        self.handle(id, Event::Ready { pid }, Instant::now());
    }

    /// A child was reaped.
    pub fn on_exit(&mut self, pid: Pid, exit: ExitCode) {
        if self.spares.on_exit(pid, Instant::now()) {
            log::debug!("reaped standby worker {pid} ({exit})");
            return;
        }
        let Some(id) = self.id_of_pid(pid) else {
            // An orphan a dead child left, adopted and killed by us (orphans.rs).
            log::debug!("reaped pid {pid} ({exit}), adopted from a dead child");
            return;
        };
        self.handle(id, Event::Exited { pid, exit }, Instant::now());
    }

    fn id_of_pid(&self, pid: Pid) -> Option<RecordId> {
        self.ids()
            .find(|id| self.life(*id).phase.pid() == Some(pid))
    }

    /// Sends a `Deadline` event to every child whose timer is due.
    pub fn run_deadlines(&mut self, now: Instant) {
        for id in self.segment.ids() {
            if machine::deadline(self.life(id), now, &self.rules).is_some_and(|d| d <= now) {
                self.handle(id, Event::Deadline, now);
            }
        }
    }

    /// The earliest instant at which `run_deadlines` has something to do.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        self.ids()
            .filter_map(|id| machine::deadline(self.life(id), now, &self.rules))
            .min()
    }

    /// Sends `Hung` to every running child whose heartbeat is older than the hang timeout.
    pub fn check_hangs(&mut self, now: Instant) {
        let limit = self.settings.hang_timeout.as_millis() as u64;
        let now_ms = clock::monotonic_ms();
        for id in self.segment.ids() {
            if !matches!(self.life(id).phase, Phase::Running { .. }) {
                continue;
            }
            let beat = self.segment.record(id).heartbeat_ms.load(SeqCst);
            let age = now_ms.saturating_sub(beat);
            if age > limit {
                self.handle(id, Event::Hung { silent_ms: age }, now);
            }
        }
    }

    /// True when every child wanted up is Running.
    pub fn all_running(&self) -> bool {
        self.lives
            .iter()
            .all(|l| !l.want_up || matches!(l.phase, Phase::Running { .. }))
    }

    /// The children in `which` whose process is still alive.
    pub fn live(&self, which: impl Fn(RecordId) -> bool) -> Vec<RecordId> {
        self.ids()
            .filter(|id| which(*id) && self.life(*id).phase.pid().is_some())
            .collect()
    }
}
