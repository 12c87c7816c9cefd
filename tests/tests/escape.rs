//! Nothing escapes, limits hold: hostile programs against the running system, with Kennel
//! started as root and as an ordinary user (`nobody`), each test both ways (docs/SECURITY.md,
//! "The sandbox, attacked"). Named `sandbox_*`: skipped and counted by scripts/test.sh when
//! bubblewrap or a toolchain is missing.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use kennel_tests::as_user::processes_with;
use kennel_tests::as_user::{everyone, run_json, start, status_as, Leaked, Who};
use kennel_tests::{fresh_dir, wait_for};
use serde_json::Value;

fn verdict(v: &Value) -> (&str, &str) {
    (
        v["verdict"].as_str().unwrap_or("?"),
        v["time_limit"].as_str().unwrap_or("-"),
    )
}

const LIST_FDS: &str = r#"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) {
    DIR *d = opendir("/proc/self/fd");
    int me = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == me) continue;
        printf("fd %d mode %d\n", fd, fcntl(fd, F_GETFL) & 3);
    }
    char b[64];
    printf("read40 %d\n", (int)read(40, b, sizeof b));
    printf("write41 %d\n", (int)write(41, "x", 1));
    printf("write0 %d\n", (int)write(0, "x", 1));
    return 0;
}
"#;

#[test]
fn sandbox_no_descriptor_reaches_the_program_but_its_three_streams() {
    for who in everyone() {
        let dir = fresh_dir("leak");
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("secret");
        let sink = dir.join("sink");
        std::fs::write(&secret, "TOP SECRET").unwrap();
        std::fs::write(&sink, "").unwrap();
        for f in [&secret, &sink] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let leak = Leaked {
            secret: &secret,
            sink: &sink,
        };
        let inst = start("leak", who, 1, &[], Some(leak));
        let (v, _) = run_json(&inst, "fds.c", LIST_FDS, &[]);
        assert_eq!(verdict(&v).0, "accepted", "as {}: {v}", who.name());
        // stdin read-only (mode 0), stdout and stderr write-only pipes (mode 1), nothing else.
        assert_eq!(
            v["stdout"].as_str().unwrap(),
            "fd 0 mode 0\nfd 1 mode 1\nfd 2 mode 1\nread40 -1\nwrite41 -1\nwrite0 -1\n",
            "as {}",
            who.name()
        );
        assert_eq!(std::fs::read(&sink).unwrap(), b"", "as {}", who.name());
        drop(inst);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Five children of 160 MiB each under a 256 MiB limit: each under `RLIMIT_AS`, all of them
/// together far over.
const FIVE_CHILDREN: &str = r#"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 5; i++) {
        if (fork() == 0) {
            size_t n = 160UL << 20;
            volatile char *p = malloc(n);
            if (!p) _exit(42);
            for (size_t k = 0; k < n; k += 4096) p[k] = 1;
            sleep(4);
            _exit(p[4096] == 1 ? 0 : 43);
        }
    }
    while (wait(NULL) > 0) {}
    return 0;
}
"#;

#[test]
fn sandbox_a_tree_of_processes_gets_one_memory_budget() {
    for who in everyone() {
        let inst = start("tree-mem", who, 1, &[], None);
        // The pool says how the limits are held, and which are only approximate.
        let limits = &status_as(&inst, who)["workers"][0]["limits"];
        let cgroups = who == Who::Me && nix::unistd::geteuid().is_root();
        if cgroups {
            assert_eq!(
                limits["mode"], "cgroup v1 as root: memory pids cpu",
                "{limits}"
            );
            assert_eq!(limits["approximate"], serde_json::json!([]), "{limits}");
        } else {
            assert_eq!(
                limits["mode"], "none: limits per run by kennel-run",
                "{limits}"
            );
            assert!(
                limits["approximate"].to_string().contains("memory"),
                "{limits}"
            );
        }
        let (v, _) = run_json(&inst, "five.c", FIVE_CHILDREN, &["--wall-limit", "10s"]);
        assert_eq!(verdict(&v).0, "memory_limit", "as {}: {v}", who.name());
    }
}

/// Memory held in files: 100 MiB of its own, 16 MiB in each of /tmp and /work, all it can
/// in /dev/shm (a tmpfs of its own, capped), under 128 MiB.
const FILES_AND_HEAP: &str = r#"
import mmap, os, time
heap = bytearray(100 << 20)
for i in range(0, len(heap), 4096): heap[i] = 1
chunk = b"x" * (1 << 20)
def fill(path, mib):
    n = 0
    try:
        with open(path, "wb") as f:
            for _ in range(mib):
                f.write(chunk); f.flush(); n += 1
    except OSError:
        pass
    return n
shm = fill("/dev/shm/big", 1024)
print("shm", shm, flush=True)
fill("/tmp/a", 15)
fill("/work/b", 15)
time.sleep(3)
print("done", flush=True)
"#;

#[test]
fn sandbox_files_in_the_run_s_tmpfs_count_as_its_memory_and_dev_shm_is_capped() {
    for who in everyone() {
        let inst = start("tree-files", who, 1, &[], None);
        let (v, _) = run_json(
            &inst,
            "files.py",
            FILES_AND_HEAP,
            &["--memory-limit", "128M", "--wall-limit", "10s"],
        );
        assert_eq!(verdict(&v).0, "memory_limit", "as {}: {v}", who.name());
        let said = v["stdout"].as_str().unwrap_or("");
        if let Some(n) = said.strip_prefix("shm ") {
            let mib: u64 = n.trim().parse().unwrap();
            assert!(mib <= 16, "as {}: /dev/shm took {mib} MiB", who.name());
        }
    }
}

/// Four children that each spin 0.8 s of CPU: each under the 1 s limit, together 3.2 s.
const FOUR_SPINNERS: &str = r#"
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 4; i++) {
        if (fork() == 0) {
            while (clock() < CLOCKS_PER_SEC * 8 / 10) {}
            _exit(0);
        }
    }
    while (wait(NULL) > 0) {}
    return 0;
}
"#;

#[test]
fn sandbox_a_tree_of_processes_gets_one_cpu_budget() {
    for who in everyone() {
        let inst = start("tree-cpu", who, 1, &[], None);
        let (v, _) = run_json(
            &inst,
            "spin.c",
            FOUR_SPINNERS,
            &["--time-limit", "1s", "--wall-limit", "20s"],
        );
        assert_eq!(verdict(&v), ("time_limit", "cpu"), "as {}: {v}", who.name());
        let cpu = v["cpu_ms"].as_u64().unwrap();
        assert!(
            cpu < 1600,
            "as {}: killed late, {cpu} ms of CPU",
            who.name()
        );
    }
}

/// 600 MiB outside the Java heap (`Unsafe.allocateMemory`, every page touched).
const JAVA_OFF_HEAP: &str = r#"
import java.lang.reflect.Field;
public class Main {
    public static void main(String[] a) throws Exception {
        Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        sun.misc.Unsafe u = (sun.misc.Unsafe) f.get(null);
        long n = 600L << 20;
        long p = u.allocateMemory(n);
        for (long i = 0; i < n; i += 4096) u.putByte(p + i, (byte) 1);
        Thread.sleep(3000);
        System.out.println("held");
    }
}
"#;

#[test]
fn sandbox_java_memory_outside_its_heap_counts() {
    for who in everyone() {
        let inst = start("java-offheap", who, 1, &[], None);
        let (v, _) = run_json(
            &inst,
            "Main.java",
            JAVA_OFF_HEAP,
            &["--time-limit", "5s", "--wall-limit", "20s"],
        );
        assert_eq!(verdict(&v).0, "memory_limit", "as {}: {v}", who.name());
    }
}

/// A worker SIGKILLed at any instant of a run's start: no process of the run survives it.
#[test]
fn sandbox_no_sandbox_outlives_a_worker_killed_while_starting_it() {
    for who in everyone() {
        let inst = start("kill-start", who, 1, &[], None);
        for delay_ms in [0u64, 2, 5, 10, 20, 40] {
            let marker = format!("kennel-orphan-{}-{delay_ms}", std::process::id());
            let status = || status_as(&inst, who);
            let worker = status()["workers"][0]["pid"].as_i64().unwrap() as i32;
            let (mut client, src) = kennel_tests::as_user::start_sleeper(&inst, &marker);
            wait_for("the worker busy", Duration::from_secs(10), || {
                status()["workers"][0]["tasks"].as_u64() == Some(1)
            });
            // The client first (so it cannot retry elsewhere), then the worker, mid-start.
            let _ = client.kill();
            let _ = client.wait();
            std::thread::sleep(Duration::from_millis(delay_ms));
            kennel_tests::signal(worker, nix::sys::signal::Signal::SIGKILL);
            wait_for("no process of the run left", Duration::from_secs(5), || {
                processes_with(&marker).is_empty()
            });
            let _ = std::fs::remove_dir_all(&src);
            // A new worker (until the watchdog sees the death, the slot still shows the old one).
            wait_for("the worker back", Duration::from_secs(10), || {
                let w = &status()["workers"][0];
                w["state"] == "idle" && w["pid"].as_i64().is_some_and(|p| p != i64::from(worker))
            });
        }
        // Neighbouring tests' sandboxes may be seen for a moment, re-parented and dying.
        wait_for(
            "no sandbox outliving its worker",
            Duration::from_secs(10),
            || bwrap_orphans().is_empty(),
        );
    }
}

/// Live `bwrap` processes whose parent is init: sandboxes that outlived their worker (a zombie
/// waiting for init to reap it holds nothing and is not one).
fn bwrap_orphans() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            stat.contains("(bwrap)") && after.first() != Some(&"Z") && after.get(1) == Some(&"1")
        })
        .collect()
}

const SYSCALLS: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
static void say(const char *what, long r) { printf("%s %ld %d\n", what, r, r < 0 ? errno : 0); }
int main(void) {
    long params[32] = {0};
    errno = 0; say("io_uring_setup", syscall(425, 4, params));
    errno = 0; say("vsock", socket(40, SOCK_STREAM, 0));
    errno = 0; say("netlink", socket(16, SOCK_RAW, 0));
    errno = 0; say("keyctl", syscall(250, 0, 0, 0, 0, 0));
    errno = 0; say("add_key", syscall(248, "user", "k", "v", 1, -2));
    errno = 0; say("bpf", syscall(321, 0, 0, 0));
    errno = 0; say("userfaultfd", syscall(323, 0));
    errno = 0; say("perf_event_open", syscall(298, 0, 0, -1, -1, 0));
    errno = 0; say("ptrace", ptrace(PTRACE_ATTACH, 1, 0, 0));
    errno = 0; say("unshare", unshare(CLONE_NEWUSER));
    errno = 0; say("mount", syscall(165, "none", "/tmp", "tmpfs", 0, 0));
    errno = 0; say("personality", personality(ADDR_NO_RANDOMIZE));
    errno = 0; say("dumpable", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
    int fd = open("/usr/bin/env", O_RDONLY);
    errno = 0; say("flock", flock(fd, LOCK_EX | LOCK_NB));
    int null = open("/dev/null", O_RDWR);
    struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    errno = 0; say("fcntl_lock", fcntl(null, F_SETLK, &l));
    errno = 0; say("x32_getpid", syscall(0x40000000 | 39));
    long r;
    errno = 0;
    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20) : "memory");
    say("int80_getpid", r);
    errno = 0; say("socket_inet", socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : -1);
    errno = 0; say("getpid", getpid() > 0 ? 0 : -1);
    return 0;
}
"#;

#[test]
fn sandbox_the_kernel_surface_other_runners_were_escaped_through_is_closed() {
    for who in everyone() {
        let inst = start("seccomp", who, 1, &[], None);
        let (v, _) = run_json(&inst, "sys.c", SYSCALLS, &[]);
        assert_eq!(verdict(&v).0, "accepted", "as {}: {v}", who.name());
        let out = v["stdout"].as_str().unwrap();
        for (what, want) in [
            ("io_uring_setup", "-1 1"),
            ("vsock", "-1 97"),
            ("netlink", "-1 97"),
            ("keyctl", "-1 1"),
            ("add_key", "-1 1"),
            ("bpf", "-1 1"),
            ("userfaultfd", "-1 1"),
            ("perf_event_open", "-1 1"),
            ("ptrace", "-1 1"),
            ("unshare", "-1 1"),
            ("mount", "-1 1"),
            ("personality", "-1 1"),
            ("dumpable", "-1 1"),
            ("flock", "-1 37"),
            ("fcntl_lock", "-1 37"),
            ("x32_getpid", "-1 38"),
            // int 0x80 returns -ENOSYS in the register itself.
            ("int80_getpid", "-38 0"),
            ("socket_inet", "0 0"),
            ("getpid", "0 0"),
        ] {
            let line = format!("{what} {want}\n");
            assert!(
                out.contains(&line),
                "as {}: want {line:?} in\n{out}",
                who.name()
            );
        }
    }
}
