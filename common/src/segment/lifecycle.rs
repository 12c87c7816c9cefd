//! A segment's life: created exclusively by the watchdog (0600, random name, its semaphore
//! beside it), attached by everyone else only after every field that sizes or names something
//! was validated (its owner restores it when scribbled on: `restore.rs`), removed at stop or,
//! if its watchdog died, at the next start.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};

use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::{fstat, Mode};

use super::{Access, Segment};
use crate::error::{Error, Result};
use crate::layout::*;
use crate::owner::{is_ours, is_private};
use crate::runtime::RuntimeDir;
use crate::sys::{self, Mapping};

impl Segment {
    /// Creates the segment and its semaphore for `workers` slots (watchdog only), and records
    /// its random name in the runtime directory. Everything is created exclusively, 0600.
    pub fn create(rt: &RuntimeDir, workers: usize, dispatcher_port: u16) -> Result<Segment> {
        if workers == 0 || workers > MAX_WORKERS {
            return Err(Error::Invalid(format!(
                "{workers} workers: between 1 and {MAX_WORKERS} are supported"
            )));
        }
        let name = crate::runtime::new_shm_name()?;
        let size = segment_size(workers);
        let fd = shm_open(
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .map_err(|e| Error::nix(format!("creating shared memory {name}"), e))?;
        let result =
            Self::init(rt, &name, fd, size, workers, dispatcher_port).and_then(|mut seg| {
                seg.owner_lock = Some(lock_object(&name, FlockArg::LockExclusiveNonblock)?);
                Ok(seg)
            });
        if result.is_err() {
            let _ = shm_unlink(name.as_str());
        }
        result
    }

    fn init(
        rt: &RuntimeDir,
        name: &str,
        fd: OwnedFd,
        size: usize,
        workers: usize,
        dispatcher_port: u16,
    ) -> Result<Segment> {
        nix::unistd::ftruncate(&fd, size as i64)
            .map_err(|e| Error::nix(format!("sizing shared memory {name}"), e))?;
        // Reserve the pages now: ftruncate only sets a size, and on a full /dev/shm the first
        // write to the mapping would be a SIGBUS, after the semaphore was made. Here it is one
        // clear ENOSPC before anything else exists.
        nix::fcntl::posix_fallocate(&fd, 0, size as i64).map_err(|e| {
            Error::nix(
                format!("reserving {size} bytes of shared memory for {name} (is /dev/shm full?)"),
                e,
            )
        })?;
        let map = Mapping::new(&fd, size, true)
            .map_err(|e| Error::io(format!("mapping shared memory {name}"), e))?;
        let semid = sys::sem_create().map_err(|e| Error::io("creating the semaphore", e))?;
        let seg = Segment {
            map,
            semid: AtomicI32::new(semid),
            workers,
            name: name.to_string(),
            owner_lock: None,
        };
        let h = seg.header();
        h.layout_version.store(LAYOUT_VERSION, SeqCst);
        h.header_size.store(HEADER_SIZE as u32, SeqCst);
        h.record_size.store(RECORD_SIZE as u32, SeqCst);
        h.worker_slots.store(workers as u32, SeqCst);
        h.total_size.store(size as u64, SeqCst);
        h.semid.store(semid as u32, SeqCst);
        h.watchdog_pid.store(std::process::id(), SeqCst);
        h.created_unix_ms.store(crate::clock::unix_ms(), SeqCst);
        h.watchdog_heartbeat_ms
            .store(crate::clock::monotonic_ms(), SeqCst);
        h.dispatcher_port.store(u32::from(dispatcher_port), SeqCst);
        for id in seg.ids() {
            seg.record(id).role.store(id.role() as u32, SeqCst);
        }
        // The magic goes last: a segment cut off while being initialised is never accepted.
        h.magic.store(MAGIC, SeqCst);
        if let Err(e) = rt.write_segment_name(name, semid) {
            let _ = sys::sem_remove(semid);
            return Err(e);
        }
        Ok(seg)
    }

    /// Attaches to the instance's segment, validating everything before use: the object's
    /// owner, mode and size; the header's magic, version, sizes and slot count; the semaphore's
    /// owner and mode; each record's role.
    pub fn attach(rt: &RuntimeDir, access: Access) -> Result<Segment> {
        rt.check()?;
        let name = rt.read_segment_name()?;
        let (map, workers) = open_object(&name, access)?;
        let semid = map
            .get::<Header>(0)
            .map(|h| h.semid.load(SeqCst) as i32)
            .unwrap_or(-1);
        check_semaphore(semid)?;
        let seg = Segment {
            map,
            semid: AtomicI32::new(semid),
            workers,
            name,
            owner_lock: None,
        };
        for id in seg.ids() {
            let role = seg.record(id).role.load(SeqCst);
            if role != id.role() as u32 {
                return Err(Error::Corrupt(format!(
                    "{id}'s record has role code {role}, expected {}",
                    id.role() as u32
                )));
            }
        }
        Ok(seg)
    }

    /// Removes the instance's segment and semaphore, if any, and the name file. Used at start
    /// to clear what a killed watchdog left behind (the caller holds the instance lock, so
    /// whatever is found is stale). An object that is not ours, or not recognisably a Kennel
    /// segment, is refused and left untouched, with an error naming it.
    pub fn remove(rt: &RuntimeDir) -> Result<bool> {
        let name = match rt.read_segment_name() {
            Ok(n) => n,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e),
        };
        if object_is_held(&name) {
            return Err(Error::InUse(format!(
                "shared memory {name}, named in {}, is held by a live watchdog (was its \
                 watchdog.lock removed?): refusing to remove or reuse it",
                rt.segment_name_path().display()
            )));
        }
        match open_object(&name, Access::ReadOnly) {
            Ok((map, _)) => {
                let semid = map
                    .get::<Header>(0)
                    .map(|h| h.semid.load(SeqCst) as i32)
                    .unwrap_or(-1);
                remove_semaphore(semid);
            }
            Err(e) if e.is_not_found() => {}
            // Ours and private (open_object checked), but not a whole segment — truncated, say
            // — and named by a file only a watchdog writes (it records the semaphore too): our
            // damaged segment. It goes, and the semaphore recorded beside its name with it.
            Err(Error::Corrupt(why)) if rt.read_recorded_semid().is_some() => {
                log::warn!("removing the damaged segment of a watchdog that died: {why}");
                remove_semaphore(rt.read_recorded_semid().unwrap_or(-1));
            }
            Err(e) => {
                return Err(Error::Foreign(format!(
                    "{e}; it was named by {} as ours. Refusing to remove or reuse it: \
                     inspect it, then remove it by hand (rm /dev/shm{name}; rm {})",
                    rt.segment_name_path().display(),
                    rt.segment_name_path().display()
                )))
            }
        }
        match shm_unlink(name.as_str()) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(Error::nix(format!("removing shared memory {name}"), e)),
        }
        rt.remove_own_file(&rt.segment_name_path(), false)?;
        Ok(true)
    }

    /// Removes this segment's semaphore, shared-memory object and name file (watchdog, at stop).
    /// Processes still attached keep their mapping until they exit; nothing new can attach.
    pub fn destroy(self, rt: &RuntimeDir) -> Result<()> {
        let mut first_error = None;
        let semid = self.semid();
        if let Err(e) = sys::sem_remove(semid) {
            first_error.get_or_insert(Error::io(format!("removing semaphore {semid}"), e));
        }
        match shm_unlink(self.name.as_str()) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => {
                first_error.get_or_insert(Error::nix(format!("removing {}", self.name), e));
            }
        }
        if let Err(e) = rt.remove_own_file(&rt.segment_name_path(), false) {
            first_error.get_or_insert(e);
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// Removes semaphore `semid` if it is the instance's kind (ours, 0600, one semaphore).
fn remove_semaphore(semid: i32) {
    match check_semaphore(semid) {
        Ok(()) => {
            if let Err(e) = sys::sem_remove(semid) {
                log::warn!("removing semaphore {semid}: {e}");
            }
        }
        // Already gone (removed by hand, or a reboot): nothing to do.
        Err(Error::Corrupt(_)) => {}
        // Someone else's: never touched.
        Err(e) => log::warn!("leaving semaphore {semid} alone: {e}"),
    }
}

/// Takes a `flock` on the shared-memory object `name` (a descriptor of its own).
fn lock_object(name: &str, how: FlockArg) -> Result<Flock<OwnedFd>> {
    let fd = shm_open(name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::nix(format!("opening shared memory {name}"), e))?;
    Flock::lock(fd, how).map_err(|(_, e)| Error::nix(format!("locking shared memory {name}"), e))
}

/// True if a live process (its creating watchdog) holds the object's lock. A missing object,
/// or one nobody holds, is not held.
pub(super) fn object_is_held(name: &str) -> bool {
    match lock_object(name, FlockArg::LockSharedNonblock) {
        Err(Error::Io { source, .. }) => source.kind() == std::io::ErrorKind::WouldBlock,
        _ => false,
    }
}

/// Opens and maps a shared-memory object after checking it is ours (owner, mode) and of a
/// plausible size, then validates its header. Returns the mapping and the slot count.
fn open_object(name: &str, access: Access) -> Result<(Mapping, usize)> {
    let flags = match access {
        Access::ReadWrite => OFlag::O_RDWR,
        Access::ReadOnly => OFlag::O_RDONLY,
    } | OFlag::O_CLOEXEC;
    let fd = shm_open(name, flags, Mode::empty())
        .map_err(|e| Error::nix(format!("opening shared memory {name}"), e))?;
    let st = fstat(&fd).map_err(|e| Error::nix(format!("inspecting {name}"), e))?;
    if !is_ours(st.st_uid) || !is_private(st.st_mode) {
        return Err(Error::Foreign(format!(
            "shared memory {name} belongs to uid {} with mode {:o}; expected ours, 0600",
            st.st_uid,
            st.st_mode & 0o777
        )));
    }
    let size = usize::try_from(st.st_size).unwrap_or(0);
    if size < HEADER_SIZE || size > segment_size(MAX_WORKERS) {
        return Err(Error::Corrupt(format!(
            "shared memory {name} is {size} bytes, not a Kennel segment"
        )));
    }
    let map = Mapping::new(&fd, size, access == Access::ReadWrite)
        .map_err(|e| Error::io(format!("mapping shared memory {name}"), e))?;
    let workers = validate_header(&map, name)?;
    Ok((map, workers))
}

fn validate_header(map: &Mapping, name: &str) -> Result<usize> {
    let h = map
        .get::<Header>(0)
        .ok_or_else(|| Error::Corrupt(format!("{name}: too small for a header")))?;
    let bad = |what: String| Err(Error::Corrupt(format!("shared memory {name}: {what}")));
    if h.magic.load(SeqCst) != MAGIC {
        return bad("wrong magic (not a Kennel segment, or not initialised)".into());
    }
    let version = h.layout_version.load(SeqCst);
    if version != LAYOUT_VERSION {
        return bad(format!(
            "layout version {version}, this build reads {LAYOUT_VERSION}"
        ));
    }
    if h.header_size.load(SeqCst) as usize != HEADER_SIZE
        || h.record_size.load(SeqCst) as usize != RECORD_SIZE
    {
        return bad("header or record size differs from this build's".into());
    }
    let workers = h.worker_slots.load(SeqCst) as usize;
    if workers == 0 || workers > MAX_WORKERS {
        return bad(format!(
            "{workers} worker slots (1..={MAX_WORKERS} allowed)"
        ));
    }
    let expected = segment_size(workers);
    if h.total_size.load(SeqCst) != expected as u64 || map.len() != expected {
        return bad(format!(
            "size {} for {workers} slots, expected {expected}",
            map.len()
        ));
    }
    Ok(workers)
}

pub(super) fn check_semaphore(semid: i32) -> Result<()> {
    let info = sys::sem_stat(semid)
        .map_err(|e| Error::Corrupt(format!("the segment names semaphore {semid}: {e}")))?;
    if !is_ours(info.uid) || info.mode != 0o600 || info.nsems != 1 {
        return Err(Error::Foreign(format!(
            "semaphore {semid} is uid {} mode {:o} with {} semaphores; expected ours, 0600, 1",
            info.uid, info.mode, info.nsems
        )));
    }
    Ok(())
}
