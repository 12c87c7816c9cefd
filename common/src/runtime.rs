//! The runtime directory of one Kennel instance, and the names of every object in it.
//!
//! All IPC objects of an instance are reached from this directory, so two instances (two test
//! runs, two users) never collide. The directory is private (0700) and must be owned by us; the
//! shared-memory name is random and recorded in a file inside it, so nobody outside the
//! directory can guess or pre-create it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Environment variable that names the runtime directory when `--runtime-dir` is not given.
pub const ENV_RUNTIME_DIR: &str = "KENNEL_RUNTIME_DIR";

/// The runtime directory of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDir {
    dir: PathBuf,
}

/// Which FIFO: each reader owns one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoName {
    /// Children → watchdog: readiness notices.
    Watchdog,
    /// Workers → dispatcher: pong notices ("slot k is ready again").
    Dispatcher,
    /// Dispatcher → worker k: ping notices ("slot k has work").
    Worker(usize),
}

impl FifoName {
    /// The FIFO's file name in the runtime directory.
    pub fn file_name(self) -> String {
        match self {
            FifoName::Watchdog => "watchdog.fifo".into(),
            FifoName::Dispatcher => "dispatcher.fifo".into(),
            FifoName::Worker(k) => format!("worker-{k}.fifo"),
        }
    }

    /// The FIFO a file name names, if it is one of ours (the other way from `file_name`).
    pub fn parse(name: &str) -> Option<FifoName> {
        match name {
            "watchdog.fifo" => Some(FifoName::Watchdog),
            "dispatcher.fifo" => Some(FifoName::Dispatcher),
            _ => {
                let k = name.strip_prefix("worker-")?.strip_suffix(".fifo")?;
                if k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                k.parse().ok().map(FifoName::Worker)
            }
        }
    }
}

impl RuntimeDir {
    /// The directory given, or `$XDG_RUNTIME_DIR/kennel`, or `/tmp/kennel-<uid>`.
    pub fn resolve(explicit: Option<&Path>) -> RuntimeDir {
        let dir = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os("XDG_RUNTIME_DIR") {
                Some(x) if !x.is_empty() => PathBuf::from(x).join("kennel"),
                _ => PathBuf::from(format!("/tmp/kennel-{}", nix::unistd::getuid())),
            },
        };
        RuntimeDir { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates the directory 0700 if missing, then checks it is a real directory, ours, private.
    pub fn create(&self) -> Result<()> {
        match DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(format!("creating {}", self.dir.display()), e)),
        }
        self.check()
    }

    /// Checks that the directory exists, is not a symlink, is owned by us and is 0700.
    pub fn check(&self) -> Result<()> {
        let meta = fs::symlink_metadata(&self.dir)
            .map_err(|e| Error::io(format!("runtime directory {}", self.dir.display()), e))?;
        if !meta.file_type().is_dir() {
            return Err(Error::Foreign(format!(
                "runtime directory {} is not a directory (symlinks are refused)",
                self.dir.display()
            )));
        }
        let uid = crate::owner::our_uid();
        if !crate::owner::is_ours(meta.uid()) {
            return Err(Error::Foreign(format!(
                "runtime directory {} belongs to uid {}, not to us (uid {uid})",
                self.dir.display(),
                meta.uid()
            )));
        }
        if !crate::owner::is_private(meta.mode()) {
            return Err(Error::Foreign(format!(
                "runtime directory {} is mode {:o}; it must be private (0700)",
                self.dir.display(),
                meta.mode() & 0o777
            )));
        }
        Ok(())
    }

    /// The lock file the live watchdog holds (`flock`): the kernel releases it when the
    /// watchdog dies, which is how the next start knows the old objects are stale.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("watchdog.lock")
    }

    /// The watchdog's control socket (`kennelctl restart|stop|start|signal|shutdown`), 0600.
    pub fn control_socket_path(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    /// The program runner's compile cache, shared by the workers of the instance (0700).
    pub fn compile_cache_path(&self) -> PathBuf {
        self.dir.join("compile-cache")
    }

    /// The file that records the (random) shared-memory object name.
    pub fn segment_name_path(&self) -> PathBuf {
        self.dir.join("segment")
    }

    pub fn fifo_path(&self, which: FifoName) -> PathBuf {
        self.dir.join(which.file_name())
    }

    /// Writes the shared-memory object name and, on a second line, its semaphore's id (so a
    /// segment too damaged to name its semaphore can still be cleaned up), refusing to
    /// replace an existing file.
    pub fn write_segment_name(&self, name: &str, semid: i32) -> Result<()> {
        let path = self.segment_name_path();
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        f.write_all(format!("{name}\nsemaphore {semid}\n").as_bytes())
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    /// The semaphore id recorded beside the segment's name, if any.
    pub fn read_recorded_semid(&self) -> Option<i32> {
        let mut s = String::new();
        open_private_file(&self.segment_name_path())
            .ok()?
            .take(256)
            .read_to_string(&mut s)
            .ok()?;
        s.lines()
            .nth(1)?
            .strip_prefix("semaphore ")?
            .trim()
            .parse()
            .ok()
    }

    /// Reads and validates the recorded shared-memory object name.
    pub fn read_segment_name(&self) -> Result<String> {
        let path = self.segment_name_path();
        let f = open_private_file(&path)?;
        let mut s = String::new();
        f.take(256)
            .read_to_string(&mut s)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        // The name is the first line (the second records the semaphore).
        let s = s.lines().next().unwrap_or("").to_string();
        if !is_valid_shm_name(&s) {
            return Err(Error::Corrupt(format!(
                "{} does not hold a Kennel segment name",
                path.display()
            )));
        }
        Ok(s)
    }

    /// Removes a file of ours from the directory if present; refuses anything else.
    pub fn remove_own_file(&self, path: &Path, expect_fifo: bool) -> Result<bool> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(format!("inspecting {}", path.display()), e)),
        };
        let ft = meta.file_type();
        let right_type = if expect_fifo {
            ft.is_fifo()
        } else {
            ft.is_file()
        };
        if !right_type || !crate::owner::is_ours(meta.uid()) {
            return Err(Error::Foreign(format!(
                "{} is not a {} of ours; refusing to touch it",
                path.display(),
                if expect_fifo { "FIFO" } else { "file" }
            )));
        }
        fs::remove_file(path).map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        Ok(true)
    }
}

impl RuntimeDir {
    /// Removes a directory of ours (not a symlink) and everything in it, if present.
    pub fn remove_own_dir(&self, path: &Path) -> Result<bool> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(format!("inspecting {}", path.display()), e)),
        };
        if !meta.is_dir() || !crate::owner::is_ours(meta.uid()) {
            return Err(Error::Foreign(format!(
                "{} is not a directory of ours; refusing to touch it",
                path.display()
            )));
        }
        fs::remove_dir_all(path)
            .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        Ok(true)
    }
}

/// Opens a regular file of ours without following symlinks, checking owner and type.
fn open_private_file(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::io(format!("inspecting {}", path.display()), e))?;
    if !meta.file_type().is_file() || !crate::owner::is_ours(meta.uid()) {
        return Err(Error::Foreign(format!(
            "{} is not a regular file of ours",
            path.display()
        )));
    }
    Ok(f)
}

/// A fresh, unguessable POSIX shared-memory name: `/kennel-<uid>-<16 hex digits>`.
pub fn new_shm_name() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Invalid(format!("getrandom found no randomness: {e}")))?;
    Ok(format!(
        "/kennel-{}-{:016x}",
        nix::unistd::getuid(),
        u64::from_le_bytes(bytes)
    ))
}

fn is_valid_shm_name(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with("/kennel-")
        && s[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shm_names_are_random_and_valid() {
        let a = new_shm_name().unwrap();
        let b = new_shm_name().unwrap();
        assert_ne!(a, b);
        assert!(is_valid_shm_name(&a), "{a}");
        assert!(!is_valid_shm_name("/kennel-../../etc"));
        assert!(!is_valid_shm_name("kennel-1"));
    }

    #[test]
    fn explicit_dir_wins() {
        let rt = RuntimeDir::resolve(Some(Path::new("/x/y")));
        assert_eq!(rt.path(), Path::new("/x/y"));
        assert_eq!(
            rt.fifo_path(FifoName::Worker(3)),
            Path::new("/x/y/worker-3.fifo")
        );
    }

    #[test]
    fn fifo_names_round_trip_and_nothing_else_is_ours() {
        for f in [
            FifoName::Watchdog,
            FifoName::Dispatcher,
            FifoName::Worker(12),
        ] {
            assert_eq!(FifoName::parse(&f.file_name()), Some(f));
        }
        for name in [
            "worker-.fifo",
            "worker-1x.fifo",
            "notes.txt",
            "worker-+1.fifo",
        ] {
            assert_eq!(FifoName::parse(name), None, "{name}");
        }
    }
}
