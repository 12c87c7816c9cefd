//! A Judge0 submission checked against Kennel's limits, with Judge0's own wording where
//! Judge0 has one (`must be less than or equal to 15.0`, `language with id 1 doesn't
//! exist`, `enabling network is not allowed`), and turned into Kennel's `Submission`. What
//! Kennel cannot honour is refused under its field's name with the reason, never ignored:
//! a separate stack limit, fewer processes or a smaller file limit than every run has,
//! per-process limits, stderr merged into stdout, network.

use kennel_runner::{Checker, Language, Submission, TestCase};

use super::callback::Target;
use super::config::{max_extract_kib, Limits};
use super::languages::{by_id, Judge0Language};
use super::reply::FieldErrors;
use super::request::Fields;
use crate::settings::Settings;

/// Judge0's length limit on `compiler_options` and `command_line_arguments`.
const MAX_OPTIONS_LEN: usize = 512;

/// A submission built from Judge0's fields: what runs, as which id, and where its answer is
/// called back (an allowed `callback_url`).
pub type Built = (Submission, Judge0Language, Option<Target>);

/// Checks `f` and builds the submission; `f` gets the defaults filled in (what the answer
/// echoes).
pub fn build(f: &mut Fields, s: &Settings) -> Result<Built, FieldErrors> {
    let lim = Limits::of(s);
    let mut e = FieldErrors::default();
    let language = language(f, &mut e);
    if f.source_code
        .as_deref()
        .is_none_or(|b| b.iter().all(u8::is_ascii_whitespace))
    {
        e.add("source_code", "can't be blank");
    }
    fill_defaults(f, &lim);
    ranges(f, &lim, &mut e);
    let callback = unsupported(f, s, &lim, &mut e);
    let args = words(&f.command_line_arguments, "command_line_arguments", &mut e);
    let options = words(&f.compiler_options, "compiler_options", &mut e);
    if !options.is_empty() && language.is_some_and(|l| !l.language.compiled()) {
        e.add(
            "compiler_options",
            "setting compiler options is only allowed for compiled languages",
        );
    }
    let extra = match &f.additional_files {
        Some(zip) => super::files::unzip(
            zip,
            max_extract_kib(s) * 1024,
            kennel_runner::submission::MAX_FILES,
        )
        .unwrap_or_else(|why| {
            e.add("additional_files", why);
            Vec::new()
        }),
        None => Vec::new(),
    };
    let (Some(language), true) = (language, e.is_empty()) else {
        return Err(e);
    };
    let mut sub = Submission {
        args: args.into_iter().map(String::into_bytes).collect(),
        compile_options: options,
        time_limit_ms: f.cpu_time_limit.map(|t| (t * 1000.0).round() as u64),
        wall_limit_ms: f.wall_time_limit.map(|t| (t * 1000.0).round() as u64),
        memory_limit_kib: f.memory_limit.map(|m| m as u64),
        language: Some(language.language),
        checker: Some(Checker::Lines),
        ..Default::default()
    };
    let source = f.source_code.clone().unwrap_or_default();
    program(&mut sub, language.language, source, extra, &mut e);
    let runs = f.number_of_runs.unwrap_or(1.0) as usize;
    let stdin = f.stdin.clone().unwrap_or_default();
    if runs > 1 {
        sub.tests = (1..=runs)
            .map(|i| TestCase {
                name: format!("run-{i}"),
                stdin: stdin.clone(),
                expected: f.expected_output.clone(),
                time_limit_ms: None,
                wall_limit_ms: None,
                memory_limit_kib: None,
            })
            .collect();
    } else {
        sub.stdin = stdin;
        sub.expected = f.expected_output.clone();
    }
    if e.is_empty() {
        Ok((sub, language, callback))
    } else {
        Err(e)
    }
}

fn language(f: &Fields, e: &mut FieldErrors) -> Option<Judge0Language> {
    let Some(id) = f.language_id else {
        e.add("language_id", "can't be blank");
        return None;
    };
    let l = by_id(id);
    if l.is_none() {
        e.add(
            "language_id",
            format!("language with id {id} doesn't exist (Kennel runs C, C++, Java and Python: GET /languages)"),
        );
    }
    l
}

/// Judge0's `set_defaults`: what the answer shows for a field not given.
fn fill_defaults(f: &mut Fields, lim: &Limits) {
    f.number_of_runs
        .get_or_insert(f64::from(lim.number_of_runs));
    f.cpu_time_limit.get_or_insert(lim.cpu_time_limit);
    f.cpu_extra_time.get_or_insert(lim.cpu_extra_time);
    f.wall_time_limit.get_or_insert(lim.wall_time_limit);
    // Not below the memory limit in effect: the stack is held by that one.
    let memory = *f.memory_limit.get_or_insert(lim.memory_limit as f64);
    f.stack_limit.get_or_insert(memory);
    f.max_processes_and_or_threads
        .get_or_insert(lim.max_processes_and_or_threads as f64);
    f.max_file_size.get_or_insert(lim.max_file_size as f64);
    f.enable_per_process_and_thread_time_limit
        .get_or_insert(false);
    f.enable_per_process_and_thread_memory_limit
        .get_or_insert(false);
    f.redirect_stderr_to_stdout.get_or_insert(false);
    f.enable_network.get_or_insert(false);
}

/// Judge0's numericality checks, against Kennel's maxima.
fn ranges(f: &Fields, lim: &Limits, e: &mut FieldErrors) {
    let mut check =
        |name: &'static str, v: Option<f64>, min: f64, strict: bool, max: f64, secs: bool| {
            let Some(v) = v else { return };
            let show = |x: f64| {
                if secs {
                    format!("{x:?}")
                } else {
                    format!("{}", x as u64)
                }
            };
            if strict && v <= min {
                e.add(name, format!("must be greater than {}", show(min)));
            } else if !strict && v < min {
                e.add(
                    name,
                    format!("must be greater than or equal to {}", show(min)),
                );
            } else if v > max {
                e.add(name, format!("must be less than or equal to {}", show(max)));
            }
        };
    check(
        "number_of_runs",
        f.number_of_runs,
        0.0,
        true,
        f64::from(lim.max_number_of_runs),
        false,
    );
    check(
        "cpu_time_limit",
        f.cpu_time_limit,
        0.0,
        false,
        lim.max_cpu_time_limit,
        true,
    );
    check(
        "cpu_extra_time",
        f.cpu_extra_time,
        0.0,
        false,
        lim.max_cpu_extra_time,
        true,
    );
    check(
        "wall_time_limit",
        f.wall_time_limit,
        1.0,
        false,
        lim.max_wall_time_limit,
        true,
    );
    check(
        "memory_limit",
        f.memory_limit,
        2048.0,
        false,
        lim.max_memory_limit as f64,
        false,
    );
    check(
        "stack_limit",
        f.stack_limit,
        0.0,
        false,
        lim.max_stack_limit as f64,
        false,
    );
    let procs = lim.max_max_processes_and_or_threads as f64;
    check(
        "max_processes_and_or_threads",
        f.max_processes_and_or_threads,
        0.0,
        true,
        procs,
        false,
    );
    check(
        "max_file_size",
        f.max_file_size,
        0.0,
        false,
        lim.max_max_file_size as f64,
        false,
    );
}

/// What Kennel cannot do, refused by name; the callback's target when one is allowed.
fn unsupported(f: &Fields, s: &Settings, lim: &Limits, e: &mut FieldErrors) -> Option<Target> {
    let memory = f.memory_limit.unwrap_or(lim.memory_limit as f64);
    if f.stack_limit
        .is_some_and(|st| st < memory && st < lim.max_stack_limit as f64)
    {
        e.add("stack_limit", "Kennel bounds the stack by the memory limit only: give no stack_limit, or one at least memory_limit");
    }
    let procs = lim.max_processes_and_or_threads as f64;
    if f.max_processes_and_or_threads
        .is_some_and(|p| p > 0.0 && p < procs)
    {
        e.add("max_processes_and_or_threads", format!("Kennel holds every run to {procs} processes and threads: a lower limit per submission cannot be set"));
    }
    let fsize = lim.max_file_size as f64;
    if f.max_file_size.is_some_and(|m| m >= 0.0 && m < fsize) {
        e.add("max_file_size", format!("Kennel holds every run to files of {fsize} KB: a lower limit per submission cannot be set"));
    }
    for (name, v) in [
        (
            "enable_per_process_and_thread_time_limit",
            f.enable_per_process_and_thread_time_limit,
        ),
        (
            "enable_per_process_and_thread_memory_limit",
            f.enable_per_process_and_thread_memory_limit,
        ),
    ] {
        if v == Some(true) {
            e.add(name, "this option cannot be enabled");
        }
    }
    if f.redirect_stderr_to_stdout == Some(true) {
        e.add(
            "redirect_stderr_to_stdout",
            "this option cannot be enabled: Kennel keeps stderr apart from stdout",
        );
    }
    if f.enable_network == Some(true) {
        e.add("enable_network", "enabling network is not allowed");
    }
    let url = f.callback_url.as_deref()?;
    super::callback::allowed(url, &s.gateway.http_callback_allow)
        .map_err(|why| e.add("callback_url", why))
        .ok()
}

/// A command line's words, split as a shell would (quotes kept together).
fn words(text: &Option<String>, name: &'static str, e: &mut FieldErrors) -> Vec<String> {
    let Some(text) = text else { return Vec::new() };
    if text.len() > MAX_OPTIONS_LEN {
        e.add(
            name,
            format!("is too long (maximum is {MAX_OPTIONS_LEN} characters)"),
        );
        return Vec::new();
    }
    shell_words::split(text).unwrap_or_else(|err| {
        e.add(name, format!("cannot be split into words ({err})"));
        Vec::new()
    })
}

/// The program: the source alone, or the source in Judge0's file for it beside the files
/// of `additional_files`.
fn program(
    sub: &mut Submission,
    lang: Language,
    source: Vec<u8>,
    extra: Vec<kennel_runner::SourceFile>,
    e: &mut FieldErrors,
) {
    if extra.is_empty() {
        sub.source = source;
        return;
    }
    let main = crate::toolchains::source_file(lang);
    if extra.iter().any(|f| f.name == main) {
        e.add(
            "additional_files",
            format!("holds {main:?}, the name of the program's own file"),
        );
        return;
    }
    if lang == Language::Python {
        sub.entry = Some(main.into());
    }
    sub.files = std::iter::once(kennel_runner::SourceFile {
        name: main.into(),
        content: source,
    })
    .chain(extra)
    .collect();
}
