//! Logging setup shared by every binary: one line per event on stderr, naming the process, so
//! the interleaved output of the watchdog and its children in one terminal stays readable.
//! `RUST_LOG` overrides the default level (info).

use std::io::Write;

/// Initialises `env_logger` with `name` (e.g. "worker 0") as the line prefix.
pub fn init(name: &str) {
    let name = name.to_string();
    let pid = std::process::id();
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(move |buf, record| {
            writeln!(
                buf,
                "{} {:<5} {name}[{pid}]: {}",
                buf.timestamp_millis(),
                record.level(),
                record.args()
            )
        })
        .try_init();
}
