//! A run's own filesystems, made by its init right after it is born into fresh PID, mount and
//! IPC namespaces (`standby.rs`): everything a run can write is new, so nothing a run leaves
//! reaches the next one in the same sandbox.
//!
//! | mount | why |
//! |---|---|
//! | tmpfs `/work` (with `/work/out`) and `/tmp`, `2 × file size` each | the run's files; the sandbox's own tmpfs underneath is hidden and never written |
//! | tmpfs `/dev/shm`, `file size` | POSIX shared memory of this run only |
//! | proc on `/proc` | the run's own PID namespace: it sees its processes, not the sandbox's |
//! | `/proc/{sys,sysrq-trigger,irq,bus}` read-only | as bwrap covers them: kernel knobs stay out of reach |
//!
//! Everything else is the sandbox's read-only view (`/usr`, `/etc` files, `/dev`, `/`).

use std::path::Path;

use nix::mount::{mount, MsFlags};

/// The sizes of a run's tmpfs mounts, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub tmp: u64,
    pub shm: u64,
}

/// The parts of `/proc` bwrap covers read-only, covered again on the run's own `/proc`.
const COVERED: &[&str] = &["sys", "sysrq-trigger", "irq", "bus"];

/// Mounts the run's filesystems and moves into `/work` (needs `CAP_SYS_ADMIN` in the
/// sandbox's user namespace; the run's init drops it right after).
pub fn mount_all(sizes: Sizes) -> Result<(), String> {
    tmpfs("/work", sizes.tmp)?;
    std::fs::create_dir("/work/out").map_err(|e| format!("/work/out: {e}"))?;
    tmpfs("/tmp", sizes.tmp)?;
    tmpfs("/dev/shm", sizes.shm)?;
    let hidden = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), hidden, None::<&str>)
        .map_err(|e| format!("mounting /proc: {e}"))?;
    for name in COVERED {
        let p = Path::new("/proc").join(name);
        if !p.exists() {
            continue;
        }
        mount(
            Some(&p),
            &p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .and_then(|()| {
            let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | hidden;
            mount(None::<&str>, &p, None::<&str>, ro, None::<&str>)
        })
        .map_err(|e| format!("covering {}: {e}", p.display()))?;
    }
    std::env::set_current_dir("/work").map_err(|e| format!("entering /work: {e}"))
}

fn tmpfs(dir: &str, size: u64) -> Result<(), String> {
    let options = format!("size={},mode=0755", size.max(4096));
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(|e| format!("mounting {dir}: {e}"))
}
