//! `kennelctl top`: the assignment's "server window", in the terminal — the pool live, one
//! row per slot, and the operator's keys, each of which is a verb sent to the watchdog over
//! its control socket (the same as `kennelctl restart|stop|start|scale`); what takes a
//! process down or shrinks the pool (`r`, `s`, `-`) asks for a `y` first, `?` shows every
//! key. When stdout is not a terminal it falls back to `kennelctl watch`'s plain table.
//!
//! | module | what |
//! |---|---|
//! | `model` | the snapshot, CPU %, the events seen between refreshes |
//! | `view` | the drawing |

pub(crate) mod model;
mod view;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use kennel_common::control::{Child, Verb};
use kennel_common::layout::Supervision;
use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::RecordId;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};

use crate::ctl::verbs;
use kennel_client::inspect::Inspector;
use model::Model;

pub fn run(inspector: &Inspector, runtime: &RuntimeDir, interval: Duration) -> i32 {
    if !std::io::stdout().is_terminal() {
        return super::watch::run(inspector, interval);
    }
    let mut terminal = ratatui::init();
    let result = serve(&mut terminal, inspector, runtime, interval);
    ratatui::restore();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kennelctl top: {e}");
            1
        }
    }
}

fn serve(
    terminal: &mut ratatui::DefaultTerminal,
    inspector: &Inspector,
    runtime: &RuntimeDir,
    interval: Duration,
) -> std::io::Result<()> {
    let mut m = Model::new(inspector);
    let mut next = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next {
            m.refresh(inspector);
            next = now + interval;
        }
        terminal.draw(|f| view::draw(f, &m))?;
        if !event::poll(next.saturating_duration_since(Instant::now()))? {
            continue;
        }
        let Event::Key(key) = event::read()? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        if m.help {
            m.help = false;
            continue;
        }
        if let Some(v) = m.pending.take() {
            m.message = if key.code == KeyCode::Char('y') {
                next = Instant::now(); // show the effect at once
                send(runtime, &v)
            } else {
                format!("{}: cancelled", v.line())
            };
            continue;
        }
        let verb = match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
            KeyCode::Char('?') => {
                m.help = true;
                None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                m.select(-1);
                None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                m.select(1);
                None
            }
            KeyCode::Char('r') => Some(Verb::Restart(child(m.selected_id()))),
            KeyCode::Char('s') => {
                let r = &m.snap.records[m.selected];
                let down = matches!(
                    r.supervision(),
                    Some(Supervision::Stopped | Supervision::Vacant)
                );
                let c = child(m.selected_id());
                Some(if down { Verb::Start(c) } else { Verb::Stop(c) })
            }
            KeyCode::Char('+') => {
                let v = Verb::Scale(m.active_workers() + 1);
                m.message = send(runtime, &v);
                next = Instant::now();
                None
            }
            KeyCode::Char('-') => Some(Verb::Scale(m.active_workers().saturating_sub(1))),
            _ => None,
        };
        // What takes a process down or shrinks the pool waits for a `y`.
        if let Some(v) = verb {
            m.message = format!("{}? y confirms, any other key cancels", v.line());
            m.pending = Some(v);
        }
    }
}

/// Sends `v` to the watchdog; the answer in words.
fn send(runtime: &RuntimeDir, v: &Verb) -> String {
    match verbs::send(runtime, v) {
        Ok(Ok(done)) => format!("{}: {done}", v.line()),
        Ok(Err(why)) => format!("{}: refused: {why}", v.line()),
        Err(e) => format!("{}: {e}", v.line()),
    }
}
fn child(id: RecordId) -> Child {
    match id {
        RecordId::Dispatcher => Child::Dispatcher,
        RecordId::Gateway => Child::Gateway,
        RecordId::Worker(k) => Child::Worker(k),
    }
}
