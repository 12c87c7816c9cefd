//! A worker's state: its context in the instance, its settings and its two FIFOs, and the
//! pong notices it sends the dispatcher.

use kennel_common::child::ChildContext;
use kennel_common::notice::{Fifo, Notice, NoticeKind};
use kennel_common::runtime::FifoName;
use kennel_common::segment::RecordId;
use kennel_common::Result;
use kennel_runner::Runner;

use crate::settings::Settings;

/// Everything `run` needs besides the listener.
pub struct Worker {
    pub ctx: ChildContext,
    pub settings: Settings,
    /// Ping notices from the dispatcher.
    pub notices: Fifo,
    /// Where our pong notices go.
    pub dispatcher: Fifo,
    /// The program runner (languages, sandbox, compile cache).
    pub runner: Runner,
}

impl Worker {
    pub fn open(ctx: ChildContext, settings: Settings) -> Result<Worker> {
        let runner = Worker::runner_for(&settings);
        Worker::open_with(ctx, settings, runner)
    }

    /// The program runner these settings describe (a standby worker makes it before it has a
    /// slot: nothing in it depends on the slot).
    pub fn runner_for(settings: &Settings) -> Runner {
        Runner::new(
            settings.runner.clone(),
            helper_path(),
            &settings.runtime.compile_cache_path(),
        )
        .with_capacity(settings.max_tasks as usize)
    }

    /// A worker with its runner made already.
    pub fn open_with(ctx: ChildContext, settings: Settings, runner: Runner) -> Result<Worker> {
        let notices = Fifo::open(&ctx.runtime.fifo_path(FifoName::Worker(settings.slot)))?;
        let dispatcher = Fifo::open(&ctx.runtime.fifo_path(FifoName::Dispatcher))?;
        Ok(Worker {
            ctx,
            settings,
            notices,
            dispatcher,
            runner,
        })
    }

    /// The port this worker serves (for results).
    pub fn port(&self) -> u16 {
        self.ctx
            .segment
            .read(self.id())
            .endpoint
            .map_or(0, |e| e.port())
    }

    pub fn id(&self) -> RecordId {
        self.ctx.id
    }

    /// Tells the dispatcher this slot is free again — but only if a request is waiting for a
    /// free worker (the dispatcher's `waiting` gauge): otherwise nobody needs waking, and the
    /// pong marker in the slot says it all. A waiter raises the gauge *before* its last look
    /// at the slots and we read it *after* making the slot idle (both sequentially
    /// consistent), so a waiter either sees this slot idle or gets this notice.
    pub fn send_pong_if_awaited(&self, ping: u64) {
        let waiting = self
            .ctx
            .segment
            .record(RecordId::Dispatcher)
            .waiting
            .load(std::sync::atomic::Ordering::SeqCst);
        if waiting > 0 {
            self.send_pong(ping);
        }
    }

    /// Tells the dispatcher this slot is free again (assignment `ping` over, or just ready).
    pub fn send_pong(&self, ping: u64) {
        let notice = Notice {
            kind: NoticeKind::Pong,
            slot: self.settings.slot as u32,
            pid: self.ctx.pid,
            marker: ping as u32,
        };
        if let Err(e) = self.dispatcher.send(&notice) {
            log::debug!("pong notice not sent ({e}); the dispatcher will see the slot anyway");
        }
    }
}

/// `kennel-run`, installed next to the worker binary (for tests built as `deps/…`, one level up).
fn helper_path() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let here = dir.join("kennel-run");
    if here.is_file() {
        return here;
    }
    dir.parent().map(|p| p.join("kennel-run")).unwrap_or(here)
}
