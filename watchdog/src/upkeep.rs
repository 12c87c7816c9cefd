//! The instance's own files, kept as they were made. At every poll (and whenever a child
//! dies, since a broken file is a likely cause) the watchdog checks the runtime directory, the
//! segment, every FIFO and the control socket:
//!
//! | found | done |
//! |---|---|
//! | a mode other than the one made (0700 directory, 0600 objects) | restored, without following a link |
//! | the runtime directory removed | made again 0700, with the segment's name file and a fresh instance lock |
//! | a FIFO or the control socket removed | made again (the socket served by a new thread) |
//! | anything else in its place: a symlink, a regular file, a directory | removed (never followed), then made again |
//!
//! Each finding is logged as a warning at most once a minute per object: a process that
//! chmods a file in a loop cannot flood the log.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use kennel_common::notice::Fifo;
use kennel_common::runtime::FifoName;
use nix::fcntl::Flock;

use crate::control::ControlServer;
use crate::instance::Instance;

/// How often the same object's finding may be logged.
const SAY_EVERY: Duration = Duration::from_secs(60);

/// What the upkeep remembers between turns.
#[derive(Default)]
pub struct Upkeep {
    /// The instance lock taken again after the runtime directory was made again.
    relock: Option<Flock<File>>,
}

/// What the kind of thing at a path should be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    Fifo,
    Socket,
}

/// What was found at a path.
enum Found {
    Missing,
    Right { mode: u32 },
    Wrong(&'static str),
}

impl Upkeep {
    /// Checks and repairs everything; returns the watchdog's FIFO reopened if it was made again.
    pub fn run(&mut self, instance: &Instance, control: &ControlServer) -> Option<Fifo> {
        self.runtime_dir(instance);
        if let Some(what) = instance.segment.restore_mode_as_owner() {
            self.say("segment", &what);
        }
        let fifo = self.fifos(instance);
        self.control_socket(control);
        fifo
    }

    /// Warns, unless the same object was warned about less than `SAY_EVERY` ago.
    fn say(&self, key: &str, what: &str) {
        kennel_common::logging::warn_limited_every(
            &format!("upkeep-{key}"),
            SAY_EVERY,
            format_args!("{what}"),
        );
    }

    /// What stands at `path`, brought as near to a `kind` of mode `want` as can be without
    /// making it: a wrong mode restored, anything else removed (never followed). True when it
    /// must be made (again).
    fn needs_making(&mut self, key: &str, path: &Path, kind: Kind, want: u32) -> bool {
        match inspect(path, kind) {
            Found::Right { mode } if mode == want => false,
            Found::Right { mode } => {
                self.restore_mode(key, path, mode, want);
                false
            }
            Found::Wrong(what) => match remove_nofollow(path) {
                Ok(()) => true,
                Err(e) => {
                    self.say(
                        key,
                        &format!("{} is {what}, cannot remove it: {e}", path.display()),
                    );
                    false
                }
            },
            Found::Missing => true,
        }
    }

    /// Sets `path` back to `want` (it was `found`), and says so.
    fn restore_mode(&mut self, key: &str, path: &Path, found: u32, want: u32) {
        let what = match chmod_nofollow(path, want) {
            Ok(()) => format!(
                "{} was mode {found:o}: made {want:04o} again",
                path.display()
            ),
            Err(e) => format!(
                "{} is mode {found:o}, cannot restore {want:04o}: {e}",
                path.display()
            ),
        };
        self.say(key, &what);
    }

    fn runtime_dir(&mut self, instance: &Instance) {
        let rt = &instance.runtime;
        let dir = rt.path();
        if !self.needs_making("runtime-dir", dir, Kind::Dir, 0o700) {
            return;
        }
        let made = std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                rt.write_segment_name(instance.segment.name(), instance.segment.semid())
                    .map_err(|e| e.to_string())
            })
            .and_then(|()| crate::instance::take_lock(rt).map_err(|e| e.to_string()));
        let what = match made {
            Ok(lock) => {
                self.relock = Some(lock);
                format!("{} was removed or replaced: made again", dir.display())
            }
            Err(e) => format!(
                "{} was removed and cannot be made again: {e}",
                dir.display()
            ),
        };
        self.say("runtime-dir", &what);
    }

    fn fifos(&mut self, instance: &Instance) -> Option<Fifo> {
        let mut names = vec![FifoName::Watchdog, FifoName::Dispatcher];
        names.extend((0..instance.segment.workers()).map(FifoName::Worker));
        let mut reopened = None;
        for name in names {
            let path = instance.runtime.fifo_path(name);
            let key = format!("fifo-{}", name.file_name());
            if !self.needs_making(&key, &path, Kind::Fifo, 0o600) {
                continue;
            }
            if let Err(e) = Fifo::create(&path) {
                self.say(
                    &key,
                    &format!("{} cannot be made again: {e}", path.display()),
                );
                continue;
            }
            self.say(
                &key,
                &format!("{} was removed or replaced: made again", path.display()),
            );
            if name == FifoName::Watchdog {
                match Fifo::open(&path) {
                    Ok(f) => reopened = Some(f),
                    Err(e) => self.say(&key, &format!("reopening {}: {e}", path.display())),
                }
            }
        }
        reopened
    }

    fn control_socket(&mut self, control: &ControlServer) {
        let path = control.path().to_path_buf();
        if !self.needs_making("control", &path, Kind::Socket, 0o600) {
            return;
        }
        let what = match control.rebind() {
            Ok(()) => format!("{} was removed or replaced: bound again", path.display()),
            Err(e) => format!(
                "{} was removed and cannot be bound again: {e}",
                path.display()
            ),
        };
        self.say("control", &what);
    }
}

/// What is at `path`, looked at without following a link; something of another owner counts
/// as wrong.
fn inspect(path: &Path, want: Kind) -> Found {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return Found::Missing,
    };
    let ft = m.file_type();
    let kind = if ft.is_symlink() {
        return Found::Wrong("a symlink");
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_socket() {
        Kind::Socket
    } else {
        return Found::Wrong("not what was made there (a regular file?)");
    };
    if kind != want {
        return Found::Wrong("of the wrong type");
    }
    if !kennel_common::owner::is_ours(m.uid()) {
        return Found::Wrong("not ours");
    }
    Found::Right {
        mode: m.mode() & 0o7777,
    }
}

/// chmod without following a link: the path is opened `O_PATH | O_NOFOLLOW` (a link swapped
/// in meanwhile is opened as itself and refused), and the mode set through that descriptor.
fn chmod_nofollow(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags())
        .open(path)?;
    if f.metadata()?.file_type().is_symlink() {
        return Err(std::io::Error::other("a symlink: not followed"));
    }
    let through = format!("/proc/self/fd/{}", f.as_raw_fd());
    std::fs::set_permissions(through, std::os::unix::fs::PermissionsExt::from_mode(mode))
}

fn libc_flags() -> i32 {
    (nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW).bits()
}

/// Removes what is at `path` (a link itself, never its target; a directory only if empty).
fn remove_nofollow(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => std::fs::remove_dir(path),
        _ => std::fs::remove_file(path),
    }
}
