//! `kennel-client`'s flags, turned into validated settings in one place: the dispatcher's
//! address resolved once, the request type checked, the count bounded.

use std::net::{SocketAddr, ToSocketAddrs};

use clap::Parser;
use kennel_common::protocol::MAX_TYPE_LEN;
use kennel_common::segment::{Access, RecordId, Segment};
use kennel_options::shared::{Format, FormatOption, RuntimeOption};

#[derive(Debug, Parser)]
#[command(
    next_line_help = true,
    name = "kennel-client",
    version,
    about = "Send requests to Kennel: ask the dispatcher for a worker, then talk to that worker"
)]
pub struct Args {
    /// Dispatcher host.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    pub host: String,
    /// Dispatcher port (default: the one the instance in the runtime directory published).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    #[command(flatten)]
    pub runtime: RuntimeOption,
    /// Request type: requetetype1 (time), requetetype2 (date), echo.
    #[arg(long = "type", default_value = "requetetype1")]
    pub request_type: String,
    /// Text sent to the worker.
    #[arg(long, default_value = "Hello, what time is it ?")]
    pub message: String,
    /// Number of requests, all over the same control connection.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// After each answer, ask whether to send another request on the same connection.
    #[arg(long, short)]
    pub interactive: bool,
    /// Print only the answers.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub format: FormatOption,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of plain requests.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Compile and run a program in Kennel's sandbox: kennel-client run hello.c
    Run(super::run::RunArgs),
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dispatcher: SocketAddr,
    pub request_type: String,
    pub message: String,
    pub count: u32,
    pub interactive: bool,
    pub quiet: bool,
    pub format: Format,
    pub command: Option<Command>,
}

/// Checks a request type given by a person: the dispatcher would refuse it anyway, but a
/// clear local error beats a round trip.
pub fn check_type(t: &str) -> Result<(), String> {
    if t.is_empty() || t.len() > MAX_TYPE_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "request type {t:?}: 1 to {MAX_TYPE_LEN} printable ASCII characters, no spaces"
        ));
    }
    Ok(())
}

impl Settings {
    pub fn from_args(a: Args) -> Result<Settings, String> {
        check_type(&a.request_type)?;
        let is_language = kennel_common::protocol::RequestKind::ALL
            .iter()
            .any(|t| t.is_run() && t.name() == a.request_type);
        if is_language && a.command.is_none() {
            return Err(format!(
                "{} is a program language: send a program with `kennel-client run FILE` \
                 (e.g. kennel-client run hello.py)",
                a.request_type
            ));
        }
        if a.count == 0 {
            return Err("--count must be at least 1".into());
        }
        let port = match a.port {
            Some(p) => p,
            None => published_port(&a.runtime)?,
        };
        Ok(Settings {
            dispatcher: resolve(&a.host, port)?,
            request_type: a.request_type,
            message: a.message,
            count: a.count,
            interactive: a.interactive,
            quiet: a.quiet,
            format: a.format.resolve(),
            command: a.command,
        })
    }
}

/// The port a running instance's dispatcher published. An instance that cannot be read there
/// is an error naming the directory, whether it was given or is the default: never a silent
/// fallback to a port where another instance may listen (`--port 2222` reaches the
/// assignment's default).
fn published_port(runtime: &RuntimeOption) -> Result<u16, String> {
    let rt = runtime.resolve();
    let found = Segment::attach(&rt, Access::ReadOnly)
        .map_err(|e| e.to_string())
        .and_then(|seg| {
            seg.read(RecordId::Dispatcher)
                .endpoint
                .map(|e| e.port())
                .ok_or_else(|| "its dispatcher has published no port (not ready?)".to_string())
        });
    found.map_err(|e| {
        format!(
            "no Kennel instance to read in {}: {e} (start one with scripts/run.sh, give \
             --runtime-dir DIR, or give --port: the assignment's dispatcher is on 2222)",
            rt.path().display()
        )
    })
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Settings, String> {
        let argv = ["kennel-client", "--port", "2222"].iter().chain(argv);
        Settings::from_args(Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn flags_become_checked_settings() {
        let s = parse(&["--type", "echo", "--json"]).unwrap();
        assert_eq!(s.dispatcher, "127.0.0.1:2222".parse().unwrap());
        assert_eq!(s.format, Format::Json);
        assert!(parse(&["--count", "0"]).is_err());
        assert!(parse(&["--type", "two words"]).is_err());
        assert!(parse(&["--type", ""]).is_err());
        assert!(parse(&["--host", "no.such.host.invalid"]).is_err());
        let e = Settings::from_args(
            Args::try_parse_from(["kennel-client", "--runtime-dir", "/nonexistent/kennel"])
                .unwrap(),
        )
        .unwrap_err();
        assert!(
            e.contains("no Kennel instance to read in /nonexistent/kennel"),
            "{e}"
        );
        let e = parse(&["--type", "python"]).unwrap_err();
        assert!(e.contains("kennel-client run FILE"), "{e}");
        // Connection flags after the subcommand too.
        let s = Settings::from_args(
            Args::try_parse_from(["kennel-client", "run", "x.py", "--port", "3222"]).unwrap(),
        )
        .unwrap();
        assert_eq!(s.dispatcher.port(), 3222);
    }
}
