//! Sandboxes made in advance and warm toolchain files, attacked, with Kennel started as root
//! and as an ordinary user (`nobody`): a sandbox serves one run and nothing of it reaches the
//! next; the shared warm files are read-only to every program; a sandbox killed while it waits
//! costs a run nothing. Named `sandbox_*`: skipped and counted by scripts/test.sh when
//! bubblewrap or a toolchain is missing.

use std::time::Duration;

use kennel_tests::as_user::processes_with;
use kennel_tests::as_user::{everyone, run_json, start, status_as, Who};
use kennel_tests::wait_for;
use serde_json::Value;

fn accepted(v: &Value) -> bool {
    v["verdict"] == "accepted"
}

/// Takes memory until the memory limit stops it.
const HOG: &str = r#"
#include <stdlib.h>
#include <string.h>
int main(void) {
    for (;;) { char *p = malloc(1 << 20); if (!p) return 3; memset(p, 1, 1 << 20); }
}
"#;

/// A kept sandbox's run cgroup (cgroup v1, as root) serves run after run: a run killed for
/// memory under a limit of its own leaves neither its OOM kill, nor its limit, nor a process
/// to the next runs of the same sandboxes.
#[test]
fn sandbox_a_run_killed_for_memory_leaves_nothing_to_the_next_in_its_sandbox() {
    for who in everyone() {
        let inst = start("oom-then-run", who, 1, &[], None);
        let mut networks = std::collections::HashSet::new();
        for round in 0..3 {
            let (v, _) = run_json(&inst, "hog.c", HOG, &["--memory-limit", "32M"]);
            // As root the run's cgroup kills it; as an ordinary user on cgroup v1 (no cgroup)
            // its address-space limit makes malloc fail and it exits 3.
            let stopped = if who.name() == "root" {
                v["verdict"] == "memory_limit"
            } else {
                v["verdict"] == "memory_limit" || v["exit_code"] == 3
            };
            assert!(stopped, "as {}: {v}", who.name());
            for k in 0..3 {
                let (v, _) = run_json(&inst, "mark.c", MARK, &[]);
                assert!(
                    accepted(&v),
                    "as {}, round {round}, run {k}: {v}",
                    who.name()
                );
                let out = v["stdout"].as_str().unwrap_or("");
                let (marks, net) = out.split_once('\n').unwrap_or((out, ""));
                assert_eq!(marks, "work 0 tmp 0 shm 0 sysv 0 mq 0 unix 0 tcp 0");
                networks.insert(net.to_string());
            }
        }
        assert!(
            networks.len() < 12,
            "as {}: no sandbox was kept",
            who.name()
        );
    }
}

/// Leaves a mark everywhere a run can write or keep something (files, System V and POSIX IPC,
/// a listening socket on the loopback and an abstract one, a process meant to outlive the
/// run), reports what an earlier run left, and names its network namespace (the one thing
/// a sandbox's runs share, one after the other).
const MARK: &str = r#"
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
static int seen(const char *p) { struct stat s; return stat(p, &s) == 0; }
static struct sockaddr_un abstract(void) {
    struct sockaddr_un a = {0}; a.sun_family = AF_UNIX; memcpy(a.sun_path, "\0kennel-mark", 12); return a;
}
static struct sockaddr_in loopback(void) {
    struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(4777);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); return a;
}
int main(void) {
    int u = socket(AF_UNIX, SOCK_STREAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_un ua = abstract(); struct sockaddr_in ta = loopback();
    int unix_up = connect(u, (struct sockaddr *)&ua, sizeof(sa_family_t) + 12) == 0;
    int tcp_up = connect(t, (struct sockaddr *)&ta, sizeof ta) == 0;
    close(u); close(t);
    printf("work %d tmp %d shm %d sysv %d mq %d unix %d tcp %d\n", seen("/work/mark"),
           seen("/tmp/mark"), seen("/dev/shm/mark"), shmget(4777, 0, 0) >= 0,
           mq_open("/kennel-mark", O_RDONLY) >= 0, unix_up, tcp_up);
    char net[64] = {0};
    readlink("/proc/self/ns/net", net, sizeof net - 1);
    printf("%s\n", net);
    const char *paths[] = {"/work/mark", "/tmp/mark", "/dev/shm/mark"};
    for (int i = 0; i < 3; i++) { FILE *f = fopen(paths[i], "w"); if (f) fclose(f); }
    shmget(4777, 4096, IPC_CREAT | 0600);
    struct mq_attr q = {0}; q.mq_maxmsg = 1; q.mq_msgsize = 16;
    mq_open("/kennel-mark", O_CREAT | O_RDWR, 0600, &q);
    fflush(stdout);
    if (fork() == 0) {
        setsid();
        if (fork() == 0) {
            u = socket(AF_UNIX, SOCK_STREAM, 0); t = socket(AF_INET, SOCK_STREAM, 0);
            bind(u, (struct sockaddr *)&ua, sizeof(sa_family_t) + 12); listen(u, 1);
            int one = 1; setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            bind(t, (struct sockaddr *)&ta, sizeof ta); listen(t, 1);
            sleep(60);
        }
        _exit(0);
    }
    return 0;
}
"#;

#[test]
fn sandbox_a_sandbox_serves_one_run_and_the_next_sees_nothing_of_it() {
    for who in everyone() {
        let inst = start("one-run", who, 1, &[], None);
        // More runs than the pool holds: both the pool's sandboxes, kept for run after run,
        // and ones made on demand.
        let mut networks = std::collections::HashSet::new();
        let runs = 8;
        for k in 0..runs {
            let (v, _) = run_json(&inst, "mark.c", MARK, &[]);
            assert!(accepted(&v), "as {}: {v}", who.name());
            let out = v["stdout"].as_str().unwrap_or("");
            let (marks, net) = out.split_once('\n').unwrap_or((out, ""));
            assert_eq!(
                marks,
                "work 0 tmp 0 shm 0 sysv 0 mq 0 unix 0 tcp 0",
                "as {}, run {k}: a mark of an earlier run",
                who.name()
            );
            assert!(net.starts_with("net:["), "as {}: {out:?}", who.name());
            networks.insert(net.to_string());
        }
        // The point of the test: runs did share sandboxes (their network namespace).
        assert!(
            networks.len() < runs,
            "as {}: every run had a sandbox of its own, none was kept: {networks:?}",
            who.name()
        );
        let w = &status_as(&inst, who)["workers"][0];
        assert_eq!(w["state"], "idle", "as {}: {w}", who.name());
    }
}

/// Tries to change the shared warm files: every attempt must fail.
const WRITE_WARM: &str = r#"
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    printf("jsa %d\n", open("/warm/javac.jsa", O_WRONLY | O_TRUNC) >= 0);
    printf("new %d\n", open("/warm/evil", O_WRONLY | O_CREAT, 0644) >= 0);
    printf("pch %d\n", open("/warm/pch/gnu++17/iostream.gch", O_WRONLY) >= 0);
    printf("dir %d\n", mkdir("/warm/pch/x", 0755) == 0);
    printf("rm %d\n", unlink("/warm/pch/gnu++17/iostream.gch") == 0);
    return 0;
}
"#;

#[test]
fn sandbox_the_warm_toolchain_files_are_read_only_to_every_program() {
    for who in everyone() {
        let inst = start(
            "warm-ro",
            who,
            1,
            &["--warm-toolchains", "gnu++17,java"],
            None,
        );
        // Built by this instance, or found built by an earlier one of the same user.
        let base = match who {
            Who::Me if nix::unistd::geteuid().is_root() => "/var/cache/kennel".to_string(),
            Who::Me => std::env::var("HOME").unwrap_or_default() + "/.cache/kennel",
            Who::Nobody => "/tmp/kennel-warm-65534".to_string(),
        };
        wait_for("the precompiled headers", Duration::from_secs(120), || {
            built(&base, "pch/gnu++17/bits/stdc++.h.gch") && built(&base, "javac.jsa")
        });
        let (v, _) = run_json(&inst, "warm.c", WRITE_WARM, &[]);
        assert!(accepted(&v), "as {}: {v}", who.name());
        assert_eq!(
            v["stdout"].as_str().unwrap_or(""),
            "jsa 0\nnew 0\npch 0\ndir 0\nrm 0\n",
            "as {}",
            who.name()
        );
        // A C++ program including the precompiled headers compiles and runs the same.
        let cpp = "#include <bits/stdc++.h>\nint main(){std::vector<int> v{3,1,2}; std::sort(v.begin(), v.end()); std::cout << v[0] << v[2] << std::endl;}\n";
        let (v, _) = run_json(&inst, "sort.cpp", cpp, &[]);
        assert!(accepted(&v), "as {}: {v}", who.name());
        assert_eq!(v["stdout"], "13\n", "as {}", who.name());
    }
}

#[test]
fn sandbox_a_sandbox_killed_while_it_waits_costs_a_run_nothing() {
    for who in everyone() {
        let inst = start("stale", who, 1, &[], None);
        let worker = status_as(&inst, who)["workers"][0]["pid"]
            .as_i64()
            .expect("a worker") as i32;
        // The worker's waiting sandboxes: bwrap processes whose parent is the worker.
        wait_for("sandboxes made in advance", Duration::from_secs(20), || {
            !sandboxes_of(worker).is_empty()
        });
        let killed = sandboxes_of(worker);
        for &pid in &killed {
            kennel_tests::signal(pid, nix::sys::signal::Signal::SIGKILL);
        }
        // Dead (a zombie until the worker reaps it) before the run arrives: a sandbox killed
        // during a run is that run's internal error, not what this test is about.
        wait_for("the sandboxes dead", Duration::from_secs(10), || {
            killed
                .iter()
                .all(|p| kennel_common::procfs::state(*p as u32).is_none_or(|s| s == 'Z'))
        });
        let (v, _) = run_json(&inst, "mark.c", MARK, &[]);
        assert!(accepted(&v), "as {}: {v}", who.name());
        let w = &status_as(&inst, who)["workers"][0];
        assert_eq!(
            w["pid"].as_i64(),
            Some(i64::from(worker)),
            "as {}: the worker was not restarted",
            who.name()
        );
    }
}

/// A worker killed while one of its sandboxes runs a program and the others wait: the run
/// ends at once (its init sees the worker's end of the control socket close), and every
/// sandbox of that worker is gone soon after, none left waiting for a worker that is no more.
#[test]
fn sandbox_a_run_and_the_sandboxes_end_with_their_worker() {
    for who in everyone() {
        let inst = start("end-with-worker", who, 1, &[], None);
        let worker = status_as(&inst, who)["workers"][0]["pid"]
            .as_i64()
            .expect("a worker") as i32;
        wait_for("sandboxes made in advance", Duration::from_secs(20), || {
            !sandboxes_of(worker).is_empty()
        });
        let marker = format!("kennel-ends-{}-{}", std::process::id(), who.name());
        let (mut client, dir) = kennel_tests::as_user::start_sleeper(&inst, &marker);
        wait_for("the program running", Duration::from_secs(20), || {
            !processes_with(&marker).is_empty()
        });
        let sandboxes = sandboxes_of(worker);
        // The client first: it would send the program again to the next worker.
        let _ = client.kill();
        let _ = client.wait();
        kennel_tests::signal(worker, nix::sys::signal::Signal::SIGKILL);
        wait_for("the run gone", Duration::from_secs(2), || {
            processes_with(&marker).is_empty()
        });
        wait_for(
            "the worker's sandboxes gone",
            Duration::from_secs(5),
            || {
                sandboxes
                    .iter()
                    .all(|p| kennel_common::procfs::state(*p as u32).is_none_or(|s| s == 'Z'))
            },
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Whether a `warm-*` directory under `base` holds `file`.
fn built(base: &str, file: &str) -> bool {
    std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join(file).is_file())
}

/// The bwrap processes whose parent is `worker`.
fn sandboxes_of(worker: i32) -> Vec<i32> {
    use kennel_common::procfs::{parent_of, pids};
    pids()
        .filter(|&pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            parent_of(pid) == u32::try_from(worker).ok() && comm.trim() == "bwrap"
        })
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

/// A worker stopped while it builds a warm toolchain file stops at once: the build's sandbox
/// is killed, not waited for (it takes seconds), and nothing of it is left.
#[test]
fn sandbox_a_worker_stopping_mid_build_does_not_wait_for_it() {
    for who in everyone() {
        let warm = kennel_tests::fresh_dir("warm-mid-build");
        std::fs::create_dir_all(&warm).unwrap();
        if who == Who::Nobody {
            std::os::unix::fs::chown(&warm, Some(65534), Some(65534)).unwrap();
        }
        let inst = start(
            "warm-mid-build",
            who,
            1,
            &[
                "--warm-toolchains",
                "gnu++17",
                "--warm-dir",
                warm.to_str().unwrap(),
            ],
            None,
        );
        let worker = status_as(&inst, who)["workers"][0]["pid"]
            .as_i64()
            .expect("a worker") as u32;
        // The compiler of this worker's build, running (other tests' builds are not ours).
        let compilers = || -> Vec<u32> {
            descendants_of(worker)
                .into_iter()
                .filter(|p| {
                    std::fs::read(format!("/proc/{p}/cmdline"))
                        .is_ok_and(|c| c.windows(10).any(|w| w == b"c++-header"))
                })
                .collect()
        };
        wait_for(
            "the worker's build under way",
            Duration::from_secs(60),
            || !compilers().is_empty(),
        );
        let building = compilers();
        let log = inst.log.clone();
        let status = inst.stop();
        assert!(status.success(), "as {}: {status:?}", who.name());
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            !text.contains("did not stop within the grace period"),
            "as {}: a worker waited for its build:\n{text}",
            who.name()
        );
        let left: Vec<u32> = building
            .into_iter()
            .filter(|p| kennel_common::procfs::alive(*p))
            .collect();
        assert!(
            left.is_empty(),
            "as {}: a build outlived its worker: {left:?}",
            who.name()
        );
        let _ = std::fs::remove_dir_all(&warm);
    }
}

/// Every process below `root` now.
fn descendants_of(root: u32) -> Vec<u32> {
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    pids.into_iter()
        .filter(|&p| {
            let mut at = p;
            for _ in 0..64 {
                match kennel_common::procfs::parent_of(at) {
                    Some(pp) if pp == root => return true,
                    Some(pp) if pp > 1 => at = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}
