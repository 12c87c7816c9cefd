//! The sandbox, as a short list of kernel features, each one a bwrap flag (docs/SECURITY.md
//! names what each one stops):
//!
//! | feature | flag | stops |
//! |---|---|---|
//! | user, PID, network, IPC, UTS, cgroup namespaces | `--unshare-all --unshare-user` | signals to Kennel, sockets to its ports, its SysV semaphore |
//! | no nested user namespaces | `--disable-userns` | regaining privileges inside |
//! | a new root with only `/usr` (read-only), a few `/etc` files, fresh `/proc` `/dev`, itself read-only | `--ro-bind /usr` … `--remount-ro /` | reading the runtime directory, the segment, `/etc/shadow`, home directories; writing anywhere but `/work` and `/tmp` |
//! | per run: fresh PID, mount, IPC namespaces and size-bounded tmpfs `/work`, `/tmp`, `/dev/shm` (`fresh.rs`); `/dev` itself read-only | `--cap-add CAP_SYS_ADMIN` for `kennel-run`'s zygote, `--remount-ro /dev` | filling the host's disk or memory; leftovers for the next run (they vanish with the run's namespaces) |
//! | its own session | `--new-session` | TIOCSTI into a terminal |
//! | tied to the worker's control socket | `kennel-run` exits at its end (`standby.rs`) | outliving a worker that dies |
//! | `kennel-run` as PID 1 | `--as-pid-1` | killing the measuring init; anything outliving the run |
//!
//! The sandbox is made before its runs exist and kept for run after run (`pool.rs`): bwrap
//! gets two descriptors, the control socket (3) the runs arrive on (`standby.rs`) and
//! `kennel-run` itself (6), bound read-only at `/kennel-run`. Each run's own flags
//! (`job_args`) and descriptors come later.

use crate::limits::Limits;

/// Descriptor numbers bwrap is given.
pub const FD_CONTROL: i32 = 3;
pub const FD_HELPER: i32 = 6;
/// The warm toolchain directory (`warm.rs`), bound read-only at `/warm` where there is one.
pub const FD_WARM: i32 = 7;

/// Where `kennel-run` appears inside the sandbox.
pub const HELPER_PATH: &str = "/kennel-run";

/// One sandboxed step: compile or run.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub command: Vec<String>,
    pub limits: Limits,
    /// Set an address-space limit (not for the JVM, nor when a memory cgroup does the job).
    pub address_space: bool,
    /// Pack `/work/out` back after a successful step (a compile).
    pub pack_out: bool,
    /// Memory the cgroup allows beyond the limit: the JVM's own (its heap is `-Xmx`).
    pub runtime_room: u64,
    /// `kennel-run` keeps the memory budget of the whole run (no memory cgroup does).
    pub memory_budget: bool,
}

/// The system a sandbox sees: `/usr` read-only with the usual symlinks into it, fresh
/// `/proc` and `/dev`, and the `/etc` files in `etc` (see `etc_paths`). Shared with the
/// benchmark's sandbox "by hand", so both see the same.
pub fn system_view(etc: &[String]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for path in etc {
        a.extend(["--ro-bind-try".into(), path.clone(), path.clone()]);
    }
    a
}

/// What tells sandboxes apart before their run is known: the size of their tmpfs mounts (from
/// the run's file-size limit). Everything else is the same for every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    pub file_size: u64,
}

impl StepSpec {
    pub fn shape(&self) -> Shape {
        Shape {
            file_size: self.limits.file_size,
        }
    }
}

/// bwrap's arguments for a sandbox of `shape` waiting for its run (everything after `bwrap`).
pub fn standby_args(shape: Shape, etc: &[String], warm: bool) -> Vec<String> {
    let mut a: Vec<String> = [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        // Not --die-with-parent: a sandbox ends when its worker's end of the control socket
        // closes, the last step of the worker's exit (`standby.rs`); a death signal at the
        // exit of the worker's thread that made it would run the teardown of every sandbox
        // before the worker's own death is even reported, delaying its restart.
        "--new-session",
        "--as-pid-1",
        // Kept by kennel-run only to give each run fresh namespaces and mounts; every run's
        // init drops it before anything of the run executes (`standby.rs`).
        "--cap-add",
        "CAP_SYS_ADMIN",
        "--hostname",
        "kennel",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    a.extend(system_view(etc));
    // The run's own /work, /tmp and /dev/shm are mounted by its init (`fresh.rs`); these
    // are only the mount points.
    a.extend(
        [
            "--dir",
            "/tmp",
            "--dir",
            "/work",
            "--remount-ro",
            "/dev",
            "--chdir",
            "/work",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--setenv",
            "HOME",
            "/work",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "TMPDIR",
            "/tmp",
            // A program built with -fsanitize=address: LeakSanitizer stops the threads with
            // ptrace, which the seccomp filter refuses; it would fail every run at exit.
            "--setenv",
            "ASAN_OPTIONS",
            "detect_leaks=0",
        ]
        .into_iter()
        .map(String::from),
    );
    a.extend([
        "--ro-bind-fd".into(),
        FD_HELPER.to_string(),
        HELPER_PATH.into(),
    ]);
    if warm {
        a.extend([
            "--ro-bind-fd".into(),
            FD_WARM.to_string(),
            crate::warm::MOUNT.into(),
        ]);
    }
    // Last of the mounts: the root itself read-only (`/work` and `/tmp` are mounts of their own).
    a.extend(["--remount-ro".into(), "/".into()]);
    a.extend([
        HELPER_PATH.into(),
        "--control-fd".into(),
        FD_CONTROL.to_string(),
        "--tmp-size".into(),
        (2 * shape.file_size).to_string(),
        "--shm-size".into(),
        shape.file_size.to_string(),
    ]);
    a
}

/// The run's flags for `kennel-run` (`helper::Job`): the rlimits it sets, the run's budget,
/// what to pack, the command.
pub fn job_args(step: &StepSpec) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let l = &step.limits;
    let cpu_s = l.cpu_ms.div_ceil(1000).max(1);
    let kib = |b: u64| (b / 1024).max(1).to_string();
    a.extend([
        "--cpu-s".into(),
        cpu_s.to_string(),
        "--file-size-kib".into(),
        kib(l.file_size),
        "--open-files".into(),
        l.open_files.to_string(),
        "--processes".into(),
        l.processes.to_string(),
        "--budget-cpu-ms".into(),
        l.cpu_ms.to_string(),
    ]);
    if step.memory_budget {
        a.extend([
            "--budget-memory-kib".into(),
            (l.memory_kib + step.runtime_room / 1024).to_string(),
        ]);
    }
    if step.address_space {
        a.extend(["--address-space-kib".into(), l.memory_kib.to_string()]);
    }
    if step.pack_out {
        a.extend(["--pack-dir".into(), "out".into()]);
    }
    a.push("--".into());
    a.extend(step.command.iter().cloned());
    a
}

/// The few files of `/etc` a toolchain needs: the dynamic linker's cache and the JDK's
/// configuration (its `conf` files are symlinks into `/etc/java-*`).
pub fn etc_paths() -> Vec<String> {
    let mut v = vec!["/etc/ld.so.cache".to_string()];
    if let Ok(dir) = std::fs::read_dir("/etc") {
        let mut java: Vec<String> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.path().display().to_string())
            .filter(|p| p.starts_with("/etc/java-"))
            .collect();
        java.sort();
        v.extend(java);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_has_every_named_feature() {
        let step = StepSpec {
            command: vec!["./prog".into(), "x".into()],
            limits: crate::limits::limits_for(
                &crate::RunnerOptions::default(),
                &Default::default(),
            )
            .unwrap(),
            address_space: true,
            pack_out: false,
            runtime_room: 0,
            memory_budget: true,
        };
        let mut a = standby_args(step.shape(), &etc_paths(), true);
        a.extend(job_args(&step));
        let a = a.join(" ");
        for feature in [
            "--unshare-all --unshare-user --disable-userns",
            "--new-session",
            "--as-pid-1",
            "--ro-bind /usr /usr",
            "--ro-bind-fd 7 /warm --remount-ro / /kennel-run --control-fd 3",
            "--cap-add CAP_SYS_ADMIN",
            "--dir /tmp --dir /work --remount-ro /dev",
            "--tmp-size 33554432 --shm-size 16777216",
            "--clearenv",
            "--budget-cpu-ms 1000 --budget-memory-kib 262144",
            "--cpu-s 1 ",
            "--address-space-kib 262144",
            "-- ./prog x",
        ] {
            assert!(a.contains(feature), "missing {feature:?} in {a}");
        }
        assert!(
            !a.contains("--ro-bind / "),
            "the host's root is never bound whole"
        );
        assert!(!a.contains("--share-net"));
    }
}
