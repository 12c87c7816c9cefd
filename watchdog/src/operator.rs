//! The operator's verbs (`kennelctl restart|stop|start|signal|shutdown`), carried out by the
//! main loop on the supervisor: each becomes the `Stop`/`Start` events of the machine (s6's
//! want down / want up) or a signal, so supervision and the operator never disagree — a
//! stopped worker is wanted down and no poll revives it.
//!
//! A rolling restart (`restart workers`) restarts one worker at a time and moves to the next
//! only when the new process is ready; its answer is sent when the last one is (or when one
//! does not come back in time, which stops the roll and says which).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kennel_common::control::{Answer, Child, Verb};
use kennel_common::segment::RecordId;
use nix::sys::signal::Signal;
use std::sync::mpsc::SyncSender;

use crate::control::Request;
use crate::machine::{Event, Phase};
use crate::supervisor::Supervisor;

/// What the main loop must do after a verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Continue,
    /// `shutdown`: stop the instance, as on SIGTERM.
    Shutdown,
}

/// A rolling restart under way.
struct Rolling {
    queue: VecDeque<RecordId>,
    /// The worker being restarted: its restart count before, and when it must be back.
    current: Option<(RecordId, u32, Instant)>,
    done: Vec<usize>,
    /// Where the answer goes (`restart workers`), or nowhere (a reload's restart: the reload
    /// was answered when it began).
    reply: Option<SyncSender<Answer>>,
}

/// The verbs' state between loop turns.
#[derive(Default)]
pub struct Operator {
    rolling: Option<Rolling>,
}

impl Operator {
    /// Carries out one verb; answers it now (or, for a rolling restart, when it ends).
    pub fn execute(&mut self, sup: &mut Supervisor, req: Request, now: Instant) -> After {
        let Request { verb, reply } = req;
        if verb == Verb::RollingRestart && self.rolling.is_none() {
            self.start_rolling(sup, Some(reply), now);
            return After::Continue;
        }
        let answer = self.one(sup, verb, now);
        match &answer {
            Ok(what) => log::info!("control: {what}"),
            Err(why) => log::warn!("control: refused `{}`: {why}", verb.line()),
        }
        let _ = reply.try_send(answer);
        if verb == Verb::Shutdown {
            After::Shutdown
        } else {
            After::Continue
        }
    }

    fn start_rolling(
        &mut self,
        sup: &mut Supervisor,
        reply: Option<SyncSender<Answer>>,
        now: Instant,
    ) {
        let queue = sup
            .ids()
            // The workers only: the gateway is not one (it may even be the caller, over HTTP,
            // whose answer a restart of its own would cut).
            .filter(|id| matches!(id, RecordId::Worker(_)) && sup.life(*id).want_up)
            .collect();
        self.rolling = Some(Rolling {
            queue,
            current: None,
            done: Vec::new(),
            reply,
        });
        self.tick(sup, now);
    }

    /// `kennelctl reload` or SIGHUP: the configuration read again and applied.
    pub fn reload(&mut self, sup: &mut Supervisor, now: Instant) -> Answer {
        if self.rolling.is_some() {
            return Err("a rolling restart is under way: reload when it has ended".into());
        }
        let report = crate::reload::read_args()
            .and_then(|args| crate::reload::apply(sup, args))
            .map_err(|e| format!("nothing changed: {e}"))?;
        if report.restart_dispatcher {
            sup.handle(RecordId::Dispatcher, Event::Stop, now);
            sup.handle(RecordId::Dispatcher, Event::Start, now);
        }
        if report.restart_gateway {
            sup.handle(RecordId::Gateway, Event::Stop, now);
            sup.handle(RecordId::Gateway, Event::Start, now);
        }
        if report.restart_workers {
            self.start_rolling(sup, None, now);
        }
        // A minimum raised (or set back after `scale`) is met now, not at the next burst.
        let (min, active) = (
            sup.settings().min_workers,
            crate::scaler::Scaler::active(sup),
        );
        if active < min {
            let grown = crate::scaler::scale_to(sup, min, now)?;
            return Ok(format!("{}; {grown}", report.text()));
        }
        Ok(report.text())
    }

    /// A verb answered at once. Only `shutdown` and signals pass a rolling restart.
    fn one(&mut self, sup: &mut Supervisor, verb: Verb, now: Instant) -> Answer {
        match verb {
            Verb::RollingRestart => Err("a rolling restart is already under way".into()),
            Verb::Reload => self.reload(sup, now),
            _ if self.rolling.is_some() && !matches!(verb, Verb::Signal(..) | Verb::Shutdown) => {
                Err("a rolling restart is under way: wait for it to end".into())
            }
            Verb::Shutdown => Ok("stopping the instance".into()),
            Verb::Scale(n) => crate::scaler::scale_to(sup, n, now),
            Verb::Restart(c) => restart(sup, resolve(sup, c)?, now),
            Verb::Stop(Child::Dispatcher) => {
                Err("the dispatcher is not stopped alone: use shutdown".into())
            }
            Verb::Stop(c) => stop(sup, resolve(sup, c)?, now),
            Verb::Start(c) => start(sup, resolve(sup, c)?, now),
            Verb::Signal(c, sig) => signal(sup, resolve(sup, c)?, sig),
        }
    }

    /// Moves a rolling restart on: the next worker once the current one is ready again.
    pub fn tick(&mut self, sup: &mut Supervisor, now: Instant) {
        let Some(r) = self.rolling.as_mut() else {
            return;
        };
        loop {
            if let Some((id, before, until)) = r.current {
                let life = sup.life(id);
                if matches!(life.phase, Phase::Running { .. }) && life.restarts > before {
                    if let RecordId::Worker(k) = id {
                        r.done.push(k);
                    }
                    r.current = None;
                } else if now > until {
                    let answer = Err(format!(
                        "{id} was not ready again within {} ms: rolling restart stopped (restarted: {:?})",
                        until_budget(sup).as_millis(),
                        r.done
                    ));
                    log::warn!("control: {}", answer.as_ref().unwrap_err());
                    if let Some(reply) = &r.reply {
                        let _ = reply.try_send(answer);
                    }
                    self.rolling = None;
                    return;
                } else {
                    return;
                }
            }
            let Some(id) = r.queue.pop_front() else {
                let what = format!("restarted workers {:?}, one at a time", r.done);
                log::info!("control: {what}");
                if let Some(reply) = &r.reply {
                    let _ = reply.try_send(Ok(what));
                }
                self.rolling = None;
                return;
            };
            if !sup.life(id).want_up {
                continue; // stopped meanwhile: nothing to restart
            }
            let before = sup.life(id).restarts;
            sup.handle(id, Event::Stop, now);
            sup.handle(id, Event::Start, now);
            r.current = Some((id, before, now + until_budget(sup)));
        }
    }
}

/// How long one worker of a rolling restart may take: stop, grace, start.
fn until_budget(sup: &Supervisor) -> Duration {
    sup.settings().grace + sup.settings().start_timeout + Duration::from_secs(2)
}

/// The record of `c`, if it exists.
fn resolve(sup: &Supervisor, c: Child) -> Result<RecordId, String> {
    match c {
        Child::Dispatcher => Ok(RecordId::Dispatcher),
        Child::Gateway if sup.settings().gateway.http.is_some() => Ok(RecordId::Gateway),
        Child::Gateway => Err("this instance has no HTTP gateway (start it with --http)".into()),
        Child::Worker(k) if k < sup.settings().workers => Ok(RecordId::Worker(k)),
        Child::Worker(k) => Err(format!(
            "there is no worker {k}: this instance has workers 0 to {}",
            sup.settings().workers - 1
        )),
    }
}

/// How long the control thread waits for a rolling restart of `workers` to answer.
pub fn answer_timeout(workers: usize, grace: Duration, start_timeout: Duration) -> Duration {
    (grace + start_timeout + Duration::from_secs(2)) * workers as u32 + Duration::from_secs(5)
}

/// `restart CHILD`: stopped and started again (it finishes what it serves first).
fn restart(sup: &mut Supervisor, id: RecordId, now: Instant) -> Answer {
    let life = sup.life(id);
    if !life.want_up {
        return Err(format!("{id} is stopped: start it instead"));
    }
    let pid = life.phase.pid();
    sup.handle(id, Event::Stop, now);
    sup.handle(id, Event::Start, now);
    Ok(match pid {
        Some(p) => format!("restarting {id} (pid {p}): it finishes what it serves"),
        None => format!("starting {id} now (it was waiting to be started)"),
    })
}

/// `stop CHILD`: wanted down until started (supervision never revives it).
fn stop(sup: &mut Supervisor, id: RecordId, now: Instant) -> Answer {
    if !sup.life(id).want_up {
        return Ok(format!("{id} is already stopped"));
    }
    let pid = sup.life(id).phase.pid();
    sup.handle(id, Event::Stop, now);
    Ok(match pid {
        Some(p) => format!("stopping {id} (pid {p}); it stays stopped until started"),
        None => format!("{id} stopped; it stays stopped until started"),
    })
}

/// `start CHILD`: wanted up again.
fn start(sup: &mut Supervisor, id: RecordId, now: Instant) -> Answer {
    let life = sup.life(id);
    if life.want_up && matches!(life.phase, Phase::Running { .. } | Phase::Starting { .. }) {
        return Ok(format!("{id} is already running"));
    }
    sup.handle(id, Event::Start, now);
    Ok(format!("starting {id}"))
}

/// `signal CHILD SIG`: sent as it is, for the lab (the machine sees what follows).
fn signal(sup: &Supervisor, id: RecordId, sig: Signal) -> Answer {
    let pid = sup
        .life(id)
        .phase
        .pid()
        .ok_or_else(|| format!("{id} has no process now"))?;
    nix::sys::signal::kill(pid, sig).map_err(|e| format!("{sig} to {id} (pid {pid}): {e}"))?;
    Ok(format!("sent {} to {id} (pid {pid})", sig.as_str()))
}
