//! Test helper: scribbles on a live instance's segment the way a buggy or malicious process
//! of the same user could — header magic and slot count, unknown state codes, impossible
//! ping/pong markers, a wrong endpoint, a foreign pid, a false supervision state — then exits.
//!
//! Usage: segment_vandal <runtime-dir> <foreign-pid>

#![forbid(unsafe_code)]

use std::sync::atomic::Ordering::SeqCst;

use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, RecordId, Segment};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("runtime dir");
    let foreign: u32 = args.next().expect("pid").parse().expect("pid");
    let rt = RuntimeDir::resolve(Some(std::path::Path::new(&dir)));
    let seg = Segment::attach(&rt, Access::ReadWrite).expect("attach");
    let h = seg.header();
    h.magic.store(0xdead_beef, SeqCst);
    h.worker_slots.store(60, SeqCst);
    let w0 = seg.record(RecordId::Worker(0));
    w0.state.store(99, SeqCst);
    w0.pid.store(foreign, SeqCst);
    w0.endpoint.port.store(1, SeqCst);
    let w1 = seg.record(RecordId::Worker(1));
    w1.ping.store(w1.pong.load(SeqCst) + 5, SeqCst);
    let d = seg.record(RecordId::Dispatcher);
    d.supervision.store(3, SeqCst); // "backoff": a lie
    println!("done");
}
