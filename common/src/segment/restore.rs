//! The watchdog's repairs of the segment as its owner: the object's size, the semaphore, the
//! header. Each returns what it restored, for the log; none is called by anyone else.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use nix::fcntl::OFlag;
use nix::sys::mman::shm_open;
use nix::sys::stat::{fstat, Mode};

use super::Segment;
use crate::error::Error;
use crate::layout::*;
use crate::sys;

impl Segment {
    /// Watchdog only: if the object was truncated or grown (by someone with our uid), sizes it
    /// back and reserves its pages, so every process's mapping is whole again; what was cut
    /// off reads as zeros until the header restore and the record repairs rewrite it. Returns
    /// what was done, for the log. Call before touching the mapping.
    pub fn restore_size_as_owner(&self) -> Option<String> {
        let lock = self.owner_lock.as_ref()?;
        let want = segment_size(self.workers) as i64;
        let found = fstat(&**lock).ok()?.st_size;
        if found == want {
            return None;
        }
        let fd = shm_open(
            self.name.as_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        let fixed = fd.map_err(Error::from_errno).and_then(|fd| {
            nix::unistd::ftruncate(&fd, want).map_err(Error::from_errno)?;
            nix::fcntl::posix_fallocate(&fd, 0, want).map_err(Error::from_errno)
        });
        Some(match fixed {
            Ok(()) => format!(
                "the segment was resized to {found} bytes (truncated or grown by hand?): \
                 sized back to {want}"
            ),
            Err(e) => {
                format!("the segment was resized to {found} bytes and cannot be sized back: {e}")
            }
        })
    }

    /// Watchdog only: if the object's mode was changed (someone of our uid made it readable or
    /// writable by others), makes it 0600 again. Returns what was done, for the log.
    pub fn restore_mode_as_owner(&self) -> Option<String> {
        let lock = self.owner_lock.as_ref()?;
        let mode = fstat(&**lock).ok()?.st_mode & 0o7777;
        if mode == 0o600 {
            return None;
        }
        Some(
            match nix::sys::stat::fchmod(&**lock, Mode::from_bits_truncate(0o600)) {
                Ok(()) => format!(
                    "the segment {} was mode {mode:o} (chmod-ed by hand?): made 0600 again",
                    self.name
                ),
                Err(e) => format!(
                    "the segment {} is mode {mode:o} and cannot be made 0600: {e}",
                    self.name
                ),
            },
        )
    }

    /// Watchdog only: if the instance's semaphore was removed (`ipcrm`), creates a new one and
    /// names it in the header, where every child follows it at its next lock. Returns what was
    /// done, for the log.
    pub fn restore_semaphore_as_owner(&self) -> Option<String> {
        let old = self.semid();
        match sys::sem_stat(old) {
            Err(e) if sys::sem_is_gone(&e) => {}
            _ => return None,
        }
        match sys::sem_create() {
            Ok(new) => {
                self.semid.store(new, SeqCst);
                self.header().semid.store(new as u32, SeqCst);
                Some(format!(
                    "semaphore {old} was removed (ipcrm?): created {new} in its place"
                ))
            }
            Err(e) => Some(format!(
                "semaphore {old} was removed and none can be created: {e}"
            )),
        }
    }

    /// Watchdog only: rewrites every header field and record role that differs from what this
    /// segment was created with (someone with our uid scribbled on it), so that attaching
    /// keeps working. Returns a description of each field restored.
    pub fn restore_header_as_owner(&self) -> Vec<String> {
        let h = self.header();
        let mut fixed = Vec::new();
        let mut fix32 = |name: &str, cell: &AtomicU32, want: u32| {
            let got = cell.load(SeqCst);
            if got != want {
                fixed.push(format!("{name} {got} -> {want}"));
                cell.store(want, SeqCst);
            }
        };
        fix32("layout version", &h.layout_version, LAYOUT_VERSION);
        fix32("header size", &h.header_size, HEADER_SIZE as u32);
        fix32("record size", &h.record_size, RECORD_SIZE as u32);
        fix32("worker slots", &h.worker_slots, self.workers as u32);
        fix32("semaphore id", &h.semid, self.semid() as u32);
        // Only ever called while supervising: the instance is not stopping.
        fix32("stopping flag", &h.stopping, 0);
        fix32("watchdog pid", &h.watchdog_pid, std::process::id());
        for id in self.ids() {
            fix32(
                &format!("{id} role"),
                &self.record(id).role,
                id.role() as u32,
            );
        }
        let size = segment_size(self.workers) as u64;
        if h.total_size.load(SeqCst) != size {
            fixed.push(format!("total size -> {size}"));
            h.total_size.store(size, SeqCst);
        }
        if h.magic.load(SeqCst) != MAGIC {
            fixed.push("magic".into());
            h.magic.store(MAGIC, SeqCst);
        }
        fixed
    }
}
