//! `kennelctl`: reads a Kennel instance's shared segment (read-only) and shows it for people or
//! scripts. `cli` turns flags into settings; each subcommand has its module.
//!
//! | module | subcommand |
//! |---|---|
//! | `status` | `status`: the table, or the JSON document |
//! | `watch` | `watch`: the table, refreshed |
//! | `check` | `check`: every invariant; exit 1 naming the broken ones |
//! | `top` | `top`: the live console (ratatui), acting through the verbs |
//! | `docs` | `completions`, `man`: generated from the clap definitions |
//! | `verbs` | `restart`, `stop`, `start`, `signal`, `shutdown`: through the watchdog's control socket |

pub mod agent;
pub mod check;
pub mod cli;
pub mod docs;
pub mod events;
pub mod status;
pub mod top;
pub mod verbs;
pub mod watch;

use cli::{Args, Command, Settings};
use kennel_client::inspect::Inspector;

/// Exit status when the instance cannot be read, or the flags are wrong.
pub const EXIT_UNREADABLE: i32 = 2;

/// The binary's body: returns the process exit status.
pub fn main_with(args: Args) -> i32 {
    let s = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennelctl: {e}");
            return EXIT_UNREADABLE;
        }
    };
    match &s.command {
        Command::Completions { shell, binary } => {
            return match docs::completions(*shell, binary) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("kennelctl: {e}");
                    EXIT_UNREADABLE
                }
            };
        }
        Command::Agent { listen } => return agent::run(&s.runtime, *listen),
        Command::Man { out } => {
            return match docs::man(out) {
                Ok(pages) => {
                    println!("{} man pages written to {}", pages.len(), out.display());
                    0
                }
                Err(e) => {
                    eprintln!("kennelctl: {e}");
                    EXIT_UNREADABLE
                }
            };
        }
        _ => {}
    }
    if let Some(words) = s.command.verb_words() {
        return verbs::run(&s.runtime, &words, s.format);
    }
    let inspector = match Inspector::open(s.runtime.clone()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!(
                "kennelctl: cannot read the instance in {}: {e}\n(is kennel-watchdog running with this --runtime-dir?)",
                s.runtime.path().display()
            );
            return EXIT_UNREADABLE;
        }
    };
    match s.command {
        Command::Status => status::run(&inspector, s.format),
        Command::Watch { interval } => watch::run(&inspector, interval),
        Command::Check { ready: true, .. } => check::ready(&inspector, s.format),
        Command::Check { live: true, .. } => check::live(&inspector, s.format),
        Command::Check { .. } => check::run(&inspector, s.format),
        Command::Events { follow } => events::run(&inspector, follow, s.format),
        Command::Agent { .. } => unreachable!("answered before the instance is read"),
        Command::Metrics => {
            let snap = inspector.segment.snapshot();
            print!(
                "{}",
                kennel_common::metrics::render(&snap, &inspector.segment.dispatch_histogram())
            );
            0
        }
        Command::Top { interval } => top::run(&inspector, &s.runtime, interval),
        other => verbs::run(
            &s.runtime,
            &other.verb_words().unwrap_or_default(),
            s.format,
        ),
    }
}
