//! `kennel-client`: sends requests to a Kennel instance and prints the answers.

#![forbid(unsafe_code)]

use std::io::{BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use kennel_client::{Client, ClientConfig};
use kennel_common::runtime::{RuntimeDir, ENV_RUNTIME_DIR};
use kennel_common::segment::{Access, RecordId, Segment};

#[derive(Debug, Parser)]
#[command(
    name = "kennel-client",
    version,
    about = "Send requests to Kennel: ask the dispatcher for a worker, then talk to that worker"
)]
struct Args {
    /// Dispatcher host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Dispatcher port (default: the one the instance in --runtime-dir published, else 2222).
    #[arg(long)]
    port: Option<u16>,
    /// Runtime directory of the instance, to find its dispatcher's port.
    #[arg(long, env = ENV_RUNTIME_DIR)]
    runtime_dir: Option<PathBuf>,
    /// Request type: requetetype1 (time), requetetype2 (date), echo.
    #[arg(long = "type", default_value = "requetetype1")]
    request_type: String,
    /// Text sent to the worker.
    #[arg(long, default_value = "Hello, what time is it ?")]
    message: String,
    /// Number of requests, all over the same control connection.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// After each answer, ask whether to send another request on the same connection.
    #[arg(long, short)]
    interactive: bool,
    /// Print only the answers.
    #[arg(long, short)]
    quiet: bool,
}

/// The dispatcher port: as given, or as published by a running instance, or 2222.
fn dispatcher_port(args: &Args) -> u16 {
    if let Some(p) = args.port {
        return p;
    }
    let rt = RuntimeDir::resolve(args.runtime_dir.as_deref());
    Segment::attach(&rt, Access::ReadOnly)
        .ok()
        .and_then(|seg| seg.read(RecordId::Dispatcher).endpoint)
        .map_or(2222, |e| e.port())
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

fn main() {
    let args = Args::parse();
    let addr = match resolve(&args.host, dispatcher_port(&args)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kennel-client: {e}");
            std::process::exit(2);
        }
    };
    let mut client = match Client::connect(ClientConfig::new(addr)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kennel-client: {e}");
            std::process::exit(1);
        }
    };
    let mut request_type = args.request_type.clone();
    let mut failures = 0;
    let mut sent = 0;
    loop {
        sent += 1;
        let started = Instant::now();
        match client.request(&request_type, args.message.as_bytes()) {
            Ok(a) => {
                let body = String::from_utf8_lossy(&a.body);
                if args.quiet {
                    println!("{body}");
                } else {
                    let retried = if a.attempts > 1 {
                        format!(", after {} attempts", a.attempts)
                    } else {
                        String::new()
                    };
                    println!(
                        "{request_type} -> worker port {} ({:.2} ms{retried}): {body}",
                        a.port,
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                }
            }
            Err(e) => {
                failures += 1;
                eprintln!("kennel-client: {request_type}: {e}");
            }
        }
        if args.interactive {
            match prompt(&request_type) {
                Some(next) => request_type = next,
                None => break,
            }
        } else if sent >= args.count {
            break;
        }
    }
    if failures > 0 {
        if !args.quiet {
            eprintln!("kennel-client: {failures} of {sent} requests failed");
        }
        std::process::exit(1);
    }
}

/// Asks whether to send another request; returns its type, or None to stop.
fn prompt(current: &str) -> Option<String> {
    print!("Send another request on the same connection? [y = {current} / a type name / N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).ok()? == 0 {
        return None;
    }
    match line.trim() {
        "" | "n" | "N" | "no" | "q" => None,
        "y" | "Y" | "yes" => Some(current.to_string()),
        other => Some(other.to_string()),
    }
}
