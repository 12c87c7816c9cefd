//! `kennel-client`: sends requests over one control connection and prints each answer, as a
//! line for people or as one JSON object per request for scripts. `cli` turns flags into
//! settings; this module runs them.

pub mod cli;
pub mod run;
mod run_args;
mod run_files;

use std::io::{BufRead, Write};
use std::time::Instant;

use kennel_options::shared::Format;

use crate::{Answer, Client, ClientConfig};
use cli::{Args, Settings};

/// Exit status for bad flags or an unresolvable host.
pub const EXIT_USAGE: i32 = 2;
/// Exit status when the dispatcher cannot be reached or a request failed.
pub const EXIT_FAILED: i32 = 1;

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    let s = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel-client: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(cli::Command::Run(run)) = s.command.clone() {
        return run::main_with(s.dispatcher, run, s.format);
    }
    let mut client = match Client::connect(ClientConfig::new(s.dispatcher)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kennel-client: {e}");
            return EXIT_FAILED;
        }
    };
    let mut request_type = s.request_type.clone();
    let (mut failures, mut sent) = (0u32, 0u32);
    loop {
        sent += 1;
        let started = Instant::now();
        let ms = || started.elapsed().as_secs_f64() * 1000.0;
        match client.request(&request_type, s.message.as_bytes()) {
            Ok(a) => println!("{}", render_answer(&s, &request_type, &a, ms())),
            Err(e) => {
                failures += 1;
                match s.format {
                    Format::Json => {
                        let doc = serde_json::json!({"type": request_type, "error": e.to_string()});
                        println!("{doc}");
                    }
                    Format::Text => eprintln!("kennel-client: {request_type}: {e}"),
                }
            }
        }
        if s.interactive {
            match prompt(&request_type) {
                Some(next) => request_type = next,
                None => break,
            }
        } else if sent >= s.count {
            break;
        }
    }
    if failures > 0 {
        if !s.quiet && s.format == Format::Text {
            eprintln!("kennel-client: {failures} of {sent} requests failed");
        }
        return EXIT_FAILED;
    }
    0
}

/// One answer as the settings ask: the body alone (`--quiet`), a line, or a JSON object.
fn render_answer(s: &Settings, request_type: &str, a: &Answer, ms: f64) -> String {
    let body = String::from_utf8_lossy(&a.body);
    match s.format {
        Format::Json => {
            let doc = serde_json::json!({
                "type": request_type,
                "port": a.port,
                "ms": (ms * 1000.0).round() / 1000.0,
                "attempts": a.attempts,
                "body": body,
            });
            doc.to_string()
        }
        Format::Text if s.quiet => body.into_owned(),
        Format::Text => {
            let retried = if a.attempts > 1 {
                format!(", after {} attempts", a.attempts)
            } else {
                String::new()
            };
            // The address when the answer named one other than the dispatcher's (behind a
            // balancer: which node served), else the port, as the assignment prints it.
            let worker = if a.host == s.dispatcher.ip() {
                format!("worker port {}", a.port)
            } else {
                format!("worker {}", std::net::SocketAddr::new(a.host, a.port))
            };
            format!("{request_type} -> {worker} ({ms:.2} ms{retried}): {body}")
        }
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
        other if cli::check_type(other).is_ok() => Some(other.to_string()),
        other => {
            eprintln!("kennel-client: {other:?} is not a request type; stopping");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_the_worker_s_address_when_it_is_not_the_dispatcher_s() {
        let s = cli::Settings::from_args(
            <cli::Args as clap::Parser>::try_parse_from(["kennel-client", "--port", "2222"])
                .unwrap(),
        )
        .unwrap();
        let answer = |host: &str| Answer {
            host: host.parse().unwrap(),
            port: 2223,
            body: b"00:00:00 UTC".to_vec(),
            attempts: 1,
        };
        let line = render_answer(&s, "requetetype1", &answer("127.0.0.1"), 0.5);
        assert!(line.contains("-> worker port 2223 "), "{line}");
        let line = render_answer(&s, "requetetype1", &answer("10.0.0.2"), 0.5);
        assert!(line.contains("-> worker 10.0.0.2:2223 "), "{line}");
    }
}
