//! `kennelctl completions SHELL [--for BINARY]` and `kennelctl man [--out DIR]`: shell
//! completions and man pages for every Kennel binary, generated from the same clap
//! definitions that parse their flags (so they cannot drift from them).

use std::path::{Path, PathBuf};

use clap::CommandFactory;

/// Every binary a user or an operator runs (kennel-fuzz, a developer's tool, is left out).
pub fn commands() -> Vec<clap::Command> {
    vec![
        crate::ctl::cli::Args::command(),
        kennel_client::ask::cli::Args::command(),
        kennel_options::watchdog::Args::command(),
        kennel_options::dispatcher::Args::command(),
        kennel_options::worker::Args::command(),
        kennel_options::gateway::Args::command(),
        kennel_runner::standby::Args::command(),
        crate::bench::cli::Args::command(),
        crate::chaos_cli::Args::command(),
    ]
}

/// The completion script of `binary` for `shell`, on stdout.
pub fn completions(shell: clap_complete::Shell, binary: &str) -> Result<(), String> {
    let mut cmd = commands()
        .into_iter()
        .find(|c| c.get_name() == binary)
        .ok_or_else(|| {
            let names: Vec<String> = commands()
                .iter()
                .map(|c| c.get_name().to_string())
                .collect();
            format!("no binary {binary:?} (one of {})", names.join(", "))
        })?;
    let name = cmd.get_name().to_string();
    // Into memory first: clap_complete panics on a failed write, and a closed stdout
    // (`| head -3`) is no error of ours.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    match std::io::Write::write_all(&mut std::io::stdout(), &script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing: {e}")),
        _ => Ok(()),
    }
}

/// Writes `NAME.1` for every binary and `NAME-SUB.1` for each subcommand into `out`.
pub fn man(out: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut written = Vec::new();
    for cmd in commands() {
        let cmd = cmd.version(env!("CARGO_PKG_VERSION"));
        let name = cmd.get_name().to_string();
        let mut pages = vec![(name.clone(), cmd.clone())];
        for sub in cmd.get_subcommands() {
            let page = format!("{name}-{}", sub.get_name());
            pages.push((page.clone(), sub.clone().name(page)));
        }
        for (file, page) in pages {
            let path = out.join(format!("{file}.1"));
            let mut bytes = Vec::new();
            clap_mangen::Man::new(page)
                .render(&mut bytes)
                .map_err(|e| format!("{file}: {e}"))?;
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}
