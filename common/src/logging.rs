//! Logging setup shared by every binary: one line per event on stderr, naming the process, so
//! the interleaved output of the watchdog and its children in one terminal stays readable —
//! or, with `KENNEL_LOG_FORMAT=json` (the watchdog's `--log-format json`, which its children
//! inherit), one JSON object per line for a log pipeline: `time`, `level`, `process`, `pid`,
//! `slot` (workers), `message`. `RUST_LOG` overrides the default level (info).

use std::io::Write;

/// The environment variable that selects the format (`text` or `json`).
pub const ENV_LOG_FORMAT: &str = "KENNEL_LOG_FORMAT";

/// Initialises `env_logger` with `name` (e.g. "worker 0") as the line prefix.
pub fn init(name: &str) {
    rename(name);
    let pid = std::process::id();
    let json = std::env::var(ENV_LOG_FORMAT).is_ok_and(|f| f == "json");
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(move |buf, record| {
            let name = NAME.lock().map(|n| n.clone()).unwrap_or_default();
            let slot: Option<u64> = name.strip_prefix("worker ").and_then(|k| k.parse().ok());
            if json {
                let line = serde_json::json!({
                    "time": buf.timestamp_millis().to_string(),
                    "level": record.level().as_str(),
                    "process": name,
                    "pid": pid,
                    "slot": slot,
                    "message": record.args().to_string(),
                });
                writeln!(buf, "{line}")
            } else {
                writeln!(
                    buf,
                    "{} {:<5} {name}[{pid}]: {}",
                    buf.timestamp_millis(),
                    record.level(),
                    record.args()
                )
            }
        })
        .try_init();
}

/// The process's name in its log lines.
static NAME: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Changes the process's name in its log lines from now on (a standby worker taking a slot).
pub fn rename(name: &str) {
    if let Ok(mut n) = NAME.lock() {
        *n = name.to_string();
    }
}

/// Logs `message` at warning level under `key` at most once a second; the lines held back
/// meanwhile are counted and said with the next one. For anything a peer can repeat at will
/// (a signal sent in a loop, garbled FIFO notices): a log that cannot be flooded.
pub fn warn_limited(key: &str, message: std::fmt::Arguments<'_>) {
    warn_limited_every(key, std::time::Duration::from_secs(1), message);
}

/// `warn_limited` with its own interval: at most one line under `key` every `every`.
pub fn warn_limited_every(key: &str, every: std::time::Duration, message: std::fmt::Arguments<'_>) {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Instant;
    static SEEN: Mutex<Option<HashMap<String, (Instant, u64)>>> = Mutex::new(None);
    let mut guard = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    let held = match map.get_mut(key) {
        Some((last, held)) if now.duration_since(*last) < every => {
            *held += 1;
            return;
        }
        Some((last, held)) => {
            *last = now;
            std::mem::take(held)
        }
        None => {
            map.insert(key.to_string(), (now, 0));
            0
        }
    };
    drop(guard);
    if held > 0 {
        log::warn!("{message} (and {held} more like it since the last one, not shown)");
    } else {
        log::warn!("{message}");
    }
}

/// Makes a closed standard output end the program quietly (`kennelctl completions bash | head
/// -3`): Rust's `println!` panics when a write fails, and a reader that went away is not an
/// error of ours. Any other panic is reported as usual. Call first thing in each tool.
pub fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
