//! What the host's toolchains are, as the APIs describe them: each one's version (Piston's
//! `version`, Judge0's language names, `GET /api/v1/languages`) and the commands a run uses
//! (Judge0's `compile_cmd` and `run_cmd`). Asked once, in the background at start (a Java
//! version takes half a second); a route that needs them before that waits for them.

use std::sync::OnceLock;

use kennel_runner::archive::Entry;
use kennel_runner::language::Toolchains;
use kennel_runner::program::Program;
use kennel_runner::{Language, RunnerOptions};

/// One language's toolchain on this host.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// As the tool says it (`12.2.0`, `3.11.2`, `17.0.15`); `None` when it is missing.
    pub version: Option<String>,
    /// The compile command for a program of one file, `%s` where the options go.
    pub compile_cmd: Option<String>,
    /// The command that runs it.
    pub run_cmd: Option<String>,
}

static KNOWN: OnceLock<Vec<Toolchain>> = OnceLock::new();

/// Starts asking, in the background.
pub fn ask() {
    std::thread::spawn(wait);
}

/// The toolchains if they have been asked already.
pub fn known() -> Option<&'static [Toolchain]> {
    KNOWN.get().map(Vec::as_slice)
}

/// The toolchains, asking now if nobody has (blocks: call it off the async threads).
pub fn wait() -> &'static [Toolchain] {
    KNOWN.get_or_init(|| {
        let tools = Toolchains::discover();
        Language::ALL.iter().map(|l| describe(&tools, *l)).collect()
    })
}

/// The toolchains from an async handler: at once when asked already, else asked on the
/// blocking pool (never on the async threads).
pub async fn get() -> &'static [Toolchain] {
    match known() {
        Some(t) => t,
        None => tokio::task::spawn_blocking(wait)
            .await
            .unwrap_or_else(|_| wait()),
    }
}

/// One language's toolchain by its place in `Language::ALL`.
pub fn of(all: &[Toolchain], lang: Language) -> &Toolchain {
    &all[lang as usize]
}

/// The file a one-file program of `lang` is kept in (Judge0's `source_file`).
pub fn source_file(lang: Language) -> &'static str {
    match lang {
        Language::Python => "main.py",
        Language::C => "main.c",
        Language::Cpp => "main.cpp",
        Language::Java => "Main.java",
    }
}

fn describe(tools: &Toolchains, lang: Language) -> Toolchain {
    let program = Program {
        language: lang,
        files: vec![Entry {
            name: source_file(lang).into(),
            executable: false,
            data: Vec::new(),
        }],
        options: vec!["%s".into()],
        entry: match lang {
            Language::Java => "Main".into(),
            Language::Python => source_file(lang).into(),
            _ => String::new(),
        },
    };
    let mut run = program.clone();
    run.options.clear();
    Toolchain {
        version: tools.version(lang),
        compile_cmd: tools
            .compile_command(
                &program,
                RunnerOptions::default().compile_memory_limit / 1024,
            )
            .map(|c| c.join(" ")),
        run_cmd: tools.run_command(&run, 256 * 1024).map(|c| c.join(" ")),
    }
}
