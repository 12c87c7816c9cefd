//! What `kennel-client run` sends, read from the user's files: one source (version 1 of the
//! submission, as before), several files or a directory (`files`), a tests directory of
//! `NAME.in` + `NAME.out` pairs (the layout most problem archives use; `.ans` is taken for
//! `.out`), a checker (a built-in name or a program file) and an interactor.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kennel_runner::checker::{Checker, NAMES};
use kennel_runner::{Language, SideProgram, SourceFile, Submission, TestCase};

use super::run_args::RunArgs;

fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The submission the flags describe, and its language.
pub fn submission(a: &RunArgs) -> Result<(Language, Submission), String> {
    let paths = program_files(&a.files)?;
    let lang = match &a.lang {
        Some(l) => Language::from_name(l)
            .ok_or_else(|| format!("unknown language {l:?} (python, c, cpp, java)"))?,
        None => language_of(&paths)?,
    };
    let stdin = match a.stdin.as_deref() {
        None => Vec::new(),
        Some(p) if p == Path::new("-") => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .map_err(|e| format!("standard input: {e}"))?;
            v
        }
        Some(p) => read(p)?,
    };
    let ms = |d: Duration| d.as_millis() as u64;
    let mut sub = Submission {
        stdin,
        args: a.args.iter().map(|s| s.clone().into_bytes()).collect(),
        expected: a.expected.as_deref().map(read).transpose()?,
        time_limit_ms: a.time_limit.map(ms),
        wall_limit_ms: a.wall_limit.map(ms),
        memory_limit_kib: a.memory_limit.map(|b| b.div_ceil(1024)),
        language: Some(lang),
        entry: a.entry.clone(),
        compile_options: a.compile_options.clone(),
        stop_on_first_failure: a.stop_on_first_failure,
        ..Default::default()
    };
    match &paths[..] {
        [one] if !a.files[0].is_dir() => sub.source = read(one)?,
        _ => {
            for p in &paths {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                sub.files.push(SourceFile {
                    name,
                    content: read(p)?,
                });
            }
        }
    }
    if let Some(dir) = &a.tests {
        sub.tests = tests(dir)?;
    }
    sub.checker = a.checker.as_deref().map(checker).transpose()?;
    sub.interactor = a.interactor.as_deref().map(side_program).transpose()?;
    Ok((lang, sub))
}

/// The files named, a directory standing for its regular, visible files.
fn program_files(given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in given {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(format!("{}: no files in the directory", p.display()));
            }
            out.extend(inside);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The language the files' extensions name: one language among them (C with C++ is C++).
fn language_of(paths: &[PathBuf]) -> Result<Language, String> {
    match kennel_runner::program::languages_of(paths)[..] {
        [one] => Ok(one),
        [] => Err(format!(
            "{}: cannot tell the language from the extension; give --lang",
            paths[0].display()
        )),
        _ => Err("the files are in several languages; give --lang".into()),
    }
}

/// `DIR/NAME.in` with `DIR/NAME.out` (or `.ans`), sorted by name.
fn tests(dir: &Path) -> Result<Vec<TestCase>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".in").map(str::to_string)
        })
        .collect();
    names.sort_by_key(|n| natural(n));
    if names.is_empty() {
        return Err(format!("{}: no NAME.in files", dir.display()));
    }
    names
        .into_iter()
        .map(|name| {
            let answer = ["out", "ans"]
                .iter()
                .map(|x| dir.join(format!("{name}.{x}")))
                .find(|p| p.is_file());
            Ok(TestCase {
                stdin: read(&dir.join(format!("{name}.in")))?,
                expected: answer.as_deref().map(read).transpose()?,
                name,
                ..TestCase::default()
            })
        })
        .collect()
}

/// Sorts `2` before `10`: digits compared as numbers.
fn natural(s: &str) -> (u64, String) {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    (digits.parse().unwrap_or(u64::MAX), s.to_string())
}

/// A built-in checker's name, or a checker program's file.
fn checker(spec: &str) -> Result<Checker, String> {
    match Checker::parse(spec, None) {
        Ok(c) => Ok(c),
        Err(_) if Path::new(spec).is_file() => Ok(Checker::Custom(side_program(Path::new(spec))?)),
        Err(e) => Err(format!(
            "{e} (or a checker program's file; built-in: {})",
            NAMES[..5].join(", ")
        )),
    }
}

fn side_program(p: &Path) -> Result<SideProgram, String> {
    let language = Language::from_path(p).ok_or_else(|| {
        format!(
            "{}: cannot tell the language from the extension",
            p.display()
        )
    })?;
    Ok(SideProgram {
        language,
        source: read(p)?,
    })
}
