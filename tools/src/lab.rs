//! A network of hosts on one machine, for the multi-host test and benchmark: network
//! namespaces joined by a bridge, a Kennel node in each (its own address, `--advertise`,
//! `--proxy-protocol`, an agent for HAProxy), and HAProxy in a namespace of its own in
//! front. Needs root and `ip` (iproute2) and `haproxy`. Everything it made — processes,
//! namespaces, links, cgroups, files — is removed when the `Lab` is dropped, also when a test
//! panics.
//!
//! ```text
//!   this process (10.213.S.1, on the bridge) ──> haproxy (ns h, 10.213.S.2:2222)
//!        │                                          │ send-proxy, checks, agent checks
//!        │                                          ├──> node 1 (ns n1, 10.213.S.11:2222)
//!        └──── the worker a node names ────────────>├──> node 2 (ns n2, 10.213.S.12:2222)
//!                                                   └──> node 3 (ns n3, 10.213.S.13:2222)
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The dispatcher port on every node, and HAProxy's.
pub const PORT: u16 = 2222;
/// Each node's agent port.
pub const AGENT_PORT: u16 = 2299;

/// Whether this machine can build a lab: root, `ip`, `haproxy`.
pub fn missing() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root (network namespaces)".into());
    }
    for tool in ["ip", "haproxy"] {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .any(|d| std::path::Path::new(d).join(tool).exists());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The lab.
pub struct Lab {
    tag: String,
    subnet: u8,
    nodes: usize,
    dir: PathBuf,
    bin_dir: PathBuf,
    /// Per node: its watchdog (None while killed) and its agent.
    watchdogs: Vec<Option<Child>>,
    agents: Vec<Child>,
    haproxy: Option<Child>,
    cgroups: Vec<PathBuf>,
}

impl Lab {
    /// Namespaces `h` and `n1..=nodes`, the bridge, the links; nothing started yet.
    pub fn new(nodes: usize, bin_dir: PathBuf) -> Result<Lab, String> {
        let pid = std::process::id();
        let tag = format!("kl{}", pid % 100_000);
        let subnet = 10 + (pid % 200) as u8;
        let dir = std::env::temp_dir().join(format!("kennel-lab-{pid}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut lab = Lab {
            tag,
            subnet,
            nodes,
            dir,
            bin_dir,
            watchdogs: (0..nodes).map(|_| None).collect(),
            agents: Vec::new(),
            haproxy: None,
            cgroups: Vec::new(),
        };
        lab.build()?;
        Ok(lab)
    }

    fn ns(&self, k: usize) -> String {
        match k {
            0 => format!("{}h", self.tag),
            k => format!("{}n{k}", self.tag),
        }
    }

    /// Host k's address: 0 is HAProxy's, 1.. the nodes'.
    pub fn addr(&self, k: usize) -> Ipv4Addr {
        let last = if k == 0 { 2 } else { 10 + k as u8 };
        Ipv4Addr::new(10, 213, self.subnet, last)
    }

    /// Where clients connect: HAProxy.
    pub fn front(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.addr(0)), PORT)
    }

    fn build(&mut self) -> Result<(), String> {
        let br = format!("{}br", self.tag);
        run(&["ip", "link", "add", &br, "type", "bridge"])?;
        let me = format!("10.213.{}.1/24", self.subnet);
        run(&["ip", "addr", "add", &me, "dev", &br])?;
        run(&["ip", "link", "set", &br, "up"])?;
        for k in 0..=self.nodes {
            let ns = self.ns(k);
            let (outer, inner) = (format!("{}v{k}", self.tag), format!("{}p{k}", self.tag));
            run(&["ip", "netns", "add", &ns])?;
            run(&[
                "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            run(&["ip", "link", "set", &inner, "netns", &ns])?;
            run(&["ip", "link", "set", &outer, "master", &br, "up"])?;
            let addr = format!("{}/24", self.addr(k));
            run(&[
                "ip", "netns", "exec", &ns, "ip", "addr", "add", &addr, "dev", &inner,
            ])?;
            run(&[
                "ip", "netns", "exec", &ns, "ip", "link", "set", &inner, "up",
            ])?;
            run(&["ip", "netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    fn runtime_dir(&self, k: usize) -> PathBuf {
        self.dir.join(format!("node{k}"))
    }

    /// Starts node k (1-based) and its agent; returns once the node printed its readiness.
    /// `cpu_percent`: a CPU quota for the whole node (a cgroup v1 `cpu` group), to make
    /// scaling visible on a small machine.
    pub fn start_node(&mut self, k: usize, cpu_percent: Option<u32>) -> Result<(), String> {
        let ns = self.ns(k);
        let addr = self.addr(k).to_string();
        let watchdog = self.bin_dir.join("kennel-watchdog");
        let rt = self.runtime_dir(k);
        let mut cmd = vec![
            "ip".to_string(),
            "netns".into(),
            "exec".into(),
            ns.clone(),
            watchdog.display().to_string(),
            "--runtime-dir".into(),
            rt.display().to_string(),
            "--bind".into(),
            addr.clone(),
            "--advertise".into(),
            addr.clone(),
            "--proxy-protocol".into(),
            "--port".into(),
            PORT.to_string(),
            "--workers".into(),
            "2".into(),
        ];
        if let Some(pct) = cpu_percent {
            let cg = PathBuf::from(format!("/sys/fs/cgroup/cpu/{}-node{k}", self.tag));
            if !cg.exists() {
                std::fs::create_dir(&cg).map_err(|e| format!("{}: {e}", cg.display()))?;
                self.cgroups.push(cg.clone());
            }
            std::fs::write(cg.join("cpu.cfs_period_us"), "100000").map_err(|e| e.to_string())?;
            std::fs::write(cg.join("cpu.cfs_quota_us"), (pct * 1000).to_string())
                .map_err(|e| e.to_string())?;
            // The shell joins the group, then becomes the node: every child inherits it.
            let joined = format!(
                "echo $$ > {}/cgroup.procs && exec {}",
                cg.display(),
                cmd.join(" ")
            );
            cmd = vec!["sh".into(), "-c".into(), joined];
        }
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.join(format!("node{k}.log")))
                    .map_err(|e| e.to_string())?,
            ))
            .spawn()
            .map_err(|e| format!("starting node {k}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        self.watchdogs[k - 1] = Some(child);
        if !line.starts_with("ready ") {
            return Err(format!("node {k} did not become ready: {:?}", self.log(k)));
        }
        if self.agents.len() < k {
            let agent = Command::new("ip")
                .args(["netns", "exec", &ns])
                .arg(self.bin_dir.join("kennelctl"))
                .arg("--runtime-dir")
                .arg(&rt)
                .args(["agent", "--listen", &format!("{addr}:{AGENT_PORT}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting node {k}'s agent: {e}"))?;
            self.agents.push(agent);
        }
        Ok(())
    }

    /// Node k's log so far.
    pub fn log(&self, k: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("node{k}.log"))).unwrap_or_default()
    }

    /// SIGKILLs node k's watchdog (its children die with it).
    pub fn kill_node(&mut self, k: usize) {
        if let Some(mut c) = self.watchdogs[k - 1].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// HAProxy in its namespace, balancing over the nodes `servers` (1-based), with TCP
    /// checks and agent checks every 200 ms; returns once it accepts connections.
    pub fn start_haproxy(&mut self, servers: &[usize]) -> Result<(), String> {
        if let Some(mut h) = self.haproxy.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        let template = include_str!("../../contrib/haproxy/kennel.cfg");
        let stats = self.dir.join("haproxy.sock");
        let lines: Vec<String> = servers
            .iter()
            .map(|k| format!("    server node{k} {}:{PORT}", self.addr(*k)))
            .collect();
        let cfg = template
            .replace("127.0.0.1:2222", &self.front().to_string())
            .replace("/run/haproxy/kennel.sock", &stats.display().to_string())
            .split('\n')
            .filter(|l| !l.trim_start().starts_with("server node"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
            + &lines.join("\n")
            + "\n";
        let path = self.dir.join("haproxy.cfg");
        std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
        let h = Command::new("ip")
            .args(["netns", "exec", &self.ns(0), "haproxy", "-db", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.join("haproxy.log")).map_err(|e| e.to_string())?,
            ))
            .spawn()
            .map_err(|e| format!("starting haproxy: {e}"))?;
        self.haproxy = Some(h);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&self.front(), Duration::from_millis(200))
            .is_err()
        {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default();
                return Err(format!(
                    "haproxy did not accept connections within 10 s: {log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Each server's state as HAProxy's stats socket says it (`UP`, `DOWN`, …).
    pub fn server_states(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.dir.join("haproxy.sock"))
        else {
            return out;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(b"show stat\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        for line in text.lines().filter(|l| l.starts_with("nodes,node")) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() > 17 {
                out.push((f[1].to_string(), f[17].to_string()));
            }
        }
        out
    }

    /// Whether HAProxy shows node k as up.
    pub fn is_up(&self, k: usize) -> bool {
        let name = format!("node{k}");
        self.server_states()
            .iter()
            .any(|(n, st)| *n == name && st.starts_with("UP"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut h) = self.haproxy.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        for c in self.agents.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for c in self.watchdogs.iter_mut().flatten() {
            // SIGTERM: the node stops cleanly and removes its objects.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for k in 0..=self.nodes {
            let _ = run(&["ip", "netns", "del", &self.ns(k)]);
        }
        let _ = run(&["ip", "link", "del", &format!("{}br", self.tag)]);
        for cg in &self.cgroups {
            let _ = std::fs::remove_dir(cg);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
