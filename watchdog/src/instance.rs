//! The IPC objects of one instance, from creation to removal: the instance lock, the FIFOs and
//! the shared segment with its semaphore.
//!
//! Liveness of a previous watchdog is decided by its `flock` on `watchdog.lock`, which the
//! kernel releases when it dies (a PID can be reused; a released lock cannot lie). If we get
//! the lock, whatever objects are found belong to a dead instance and are removed first — after
//! checking they are ours: anything of another owner or type is refused, never followed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use kennel_common::notice::Fifo;
use kennel_common::runtime::{FifoName, RuntimeDir};
use kennel_common::segment::Segment;
use kennel_common::{Error, Result};
use nix::fcntl::{Flock, FlockArg};

/// The live instance: holds the lock for as long as it exists.
pub struct Instance {
    pub runtime: RuntimeDir,
    pub segment: Segment,
    /// Readiness notices from the children.
    pub fifo: Fifo,
    _lock: Flock<File>,
}

impl Instance {
    /// Takes the instance lock, clears what a dead watchdog left, then creates every object
    /// exclusively: FIFOs 0600, segment 0600, semaphore 0600.
    pub fn create(runtime: RuntimeDir, workers: usize, dispatcher_port: u16) -> Result<Instance> {
        runtime.create()?;
        let lock = take_lock(&runtime)?;
        if let Err(e) = remove_objects(&runtime, "stale ") {
            // Refused (objects of a live watchdog whose lock file was removed, or not ours):
            // nothing of theirs is touched; only the lock file we hold goes.
            let _ = runtime.remove_own_file(&runtime.lock_path(), false);
            return Err(e);
        }
        let mut fifos: Vec<FifoName> = vec![FifoName::Watchdog, FifoName::Dispatcher];
        fifos.extend((0..workers).map(FifoName::Worker));
        let made = (|| {
            for f in &fifos {
                Fifo::create(&runtime.fifo_path(*f))?;
            }
            let segment = Segment::create(&runtime, workers, dispatcher_port)?;
            let fifo = Fifo::open(&runtime.fifo_path(FifoName::Watchdog))?;
            Ok((segment, fifo))
        })();
        let (segment, fifo) = match made {
            Ok(pair) => pair,
            Err(e) => {
                // Nothing half-made stays: the FIFOs made so far and the lock file go (the
                // segment and its semaphore clean up after themselves in Segment::create).
                let _ = remove_fifos(&runtime, "");
                let _ = runtime.remove_own_file(&runtime.lock_path(), false);
                return Err(e);
            }
        };
        log::info!(
            "created segment {} (semaphore {}) and {} FIFOs in {}",
            segment.name(),
            segment.semid(),
            fifos.len(),
            runtime.path().display()
        );
        Ok(Instance {
            runtime,
            segment,
            fifo,
            _lock: lock,
        })
    }

    /// Removes every object: segment, semaphore, FIFOs, compile cache, then the lock file. Call only once
    /// every child has been reaped.
    pub fn destroy(self) -> Result<()> {
        let Instance {
            runtime,
            segment,
            fifo,
            _lock,
        } = self;
        drop(fifo);
        let seg_result = segment.destroy(&runtime);
        let fifo_result = remove_fifos(&runtime, "");
        let cache_result = runtime.remove_own_dir(&runtime.compile_cache_path());
        let lock_result = runtime.remove_own_file(&runtime.lock_path(), false);
        drop(_lock);
        seg_result
            .and(fifo_result)
            .and(cache_result.map(|_| ()))
            .and(lock_result.map(|_| ()))
    }
}

/// Opens (creating 0600 if needed) and locks `watchdog.lock`, then writes our pid in it.
pub(crate) fn take_lock(rt: &RuntimeDir) -> Result<Flock<File>> {
    let path = rt.lock_path();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("inspecting {}", path.display()), e))?;
    if !meta.is_file() || !kennel_common::owner::is_ours(meta.uid()) {
        return Err(Error::Foreign(format!(
            "{} is not a file of ours",
            path.display()
        )));
    }
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut file, _)) => {
            let mut pid = String::new();
            let _ = Read::by_ref(&mut file).take(32).read_to_string(&mut pid);
            return Err(Error::InUse(format!(
                "a watchdog (pid {}) is already running on {}",
                pid.trim(),
                rt.path().display()
            )));
        }
    };
    let write_pid = |f: &mut File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        write!(f, "{}", std::process::id())
    };
    write_pid(&mut lock).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(lock)
}

/// Removes the segment and FIFOs of the runtime directory, if any (we hold the lock).
fn remove_objects(rt: &RuntimeDir, adjective: &str) -> Result<()> {
    if Segment::remove(rt)? {
        log::warn!("removed the {adjective}shared segment and semaphore of a watchdog that died");
    }
    if rt.remove_own_dir(&rt.compile_cache_path())? {
        log::warn!("removed the {adjective}compile cache of a watchdog that died");
    }
    remove_fifos(rt, adjective)
}

fn remove_fifos(rt: &RuntimeDir, adjective: &str) -> Result<()> {
    let entries = std::fs::read_dir(rt.path())
        .map_err(|e| Error::io(format!("listing {}", rt.path().display()), e))?;
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if FifoName::parse(&name).is_some() && rt.remove_own_file(&entry.path(), true)? {
            removed += 1;
        }
    }
    if removed > 0 && !adjective.is_empty() {
        log::warn!("removed {removed} {adjective}FIFOs of a watchdog that died");
    }
    Ok(())
}
