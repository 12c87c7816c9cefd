//! Test helper: attaches to an instance, takes the segment guard, starts a write on a worker
//! slot's record (its seqlock word goes odd), prints "holding" and waits forever — so a test
//! can SIGKILL it inside the critical section and watch the kernel release the guard
//! (SEM_UNDO) and the watchdog repair the half-written record.
//!
//! Usage: guard_holder <runtime-dir> <slot>

#![forbid(unsafe_code)]

use std::io::Write;

use kennel_common::runtime::RuntimeDir;
use kennel_common::segment::{Access, RecordId, Segment, GUARD_TIMEOUT};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("runtime dir");
    let slot: usize = args.next().expect("slot").parse().expect("slot number");
    let rt = RuntimeDir::resolve(Some(std::path::Path::new(&dir)));
    let seg = Segment::attach(&rt, Access::ReadWrite).expect("attach");
    let guard = seg.lock(GUARD_TIMEOUT).expect("guard");
    guard.write(RecordId::Worker(slot), |_record| {
        println!("holding");
        std::io::stdout().flush().unwrap();
        loop {
            std::thread::park();
        }
    });
}
