//! The guard: the instance's System V semaphore (with `SEM_UNDO`, so the kernel releases it if
//! its holder dies), and the seqlock write every multi-field update goes through.

use std::sync::atomic::Ordering::SeqCst;

use super::{RecordId, Segment};
use crate::layout::Record;
use crate::sys;

/// The guard: holding it gives the right to make multi-field updates. Released on drop (and by
/// the kernel if the holder dies).
pub struct Guard<'a> {
    pub(super) seg: &'a Segment,
    /// The semaphore this guard took (the instance's may be replaced meanwhile).
    pub(super) semid: i32,
}

impl Guard<'_> {
    pub fn segment(&self) -> &Segment {
        self.seg
    }

    /// True if `id`'s record was left half-written by a writer that died.
    pub fn is_torn(&self, id: RecordId) -> bool {
        self.seg.record(id).seq.load(SeqCst) % 2 == 1
    }

    /// Runs `f` as one seqlock write on `id`'s record: `seq` is odd while `f` runs, even after.
    pub fn write<R>(&self, id: RecordId, f: impl FnOnce(&Record) -> R) -> R {
        let r = self.seg.record(id);
        let base = r.seq.load(SeqCst) | 1;
        r.seq.store(base, SeqCst);
        let out = f(r);
        r.seq.store(base.wrapping_add(1), SeqCst);
        out
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Err(e) = sys::sem_unlock(self.semid) {
            log::error!("releasing the segment guard: {e}");
        }
    }
}
