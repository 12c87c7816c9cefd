//! nginx as a TCP stream proxy, run as the benchmark's own process with a generated
//! configuration, listening on loopback only, in front of the same servers as the floors.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx binary, if installed.
pub fn find() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A running nginx, stopped on drop.
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts nginx proxying to `upstreams`, with `workers` worker processes.
pub fn start(binary: &Path, upstreams: &[SocketAddr], workers: usize) -> std::io::Result<Nginx> {
    let dir = crate::launch::fresh_runtime_dir("bench-nginx");
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let module = Path::new("/usr/lib/nginx/modules/ngx_stream_module.so");
    let mut conf = String::new();
    if module.exists() {
        conf += &format!("load_module {};\n", module.display());
    }
    conf += &format!(
        "worker_processes {workers};\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         stream {{\n  upstream backend {{\n",
        dir = dir.display()
    );
    for u in upstreams {
        conf += &format!("    server {u};\n");
    }
    // The load client half-closes after its message (as kennel-client does); without
    // proxy_half_close nginx ends the whole session on it and the answer is lost.
    conf += &format!(
        "  }}\n  server {{\n    listen 127.0.0.1:{port};\n    proxy_pass backend;\n    proxy_half_close on;\n  }}\n}}\n"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let child = Command::new(binary)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut nginx = Nginx { child, addr, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = nginx.child.try_wait() {
            let log = std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default();
            return Err(std::io::Error::other(format!(
                "nginx exited ({status}): {log}"
            )));
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(
                "nginx did not start listening within 10 s",
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(nginx)
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
