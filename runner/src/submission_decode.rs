//! Reading a submission from the framed wire, field by field. Fields that belong together
//! come in order: `file_name` then its `file_content`; `test NAME` then that test's
//! `test_*` fields; `checker custom` with `checker_language` and `checker_source`. Every
//! problem is a sentence for an `ERR refused:` line; nothing here panics on any input.

use crate::checker::Checker;
use crate::fields::{number, Field};
use crate::submission::{
    limit, open, unknown, SideProgram, SourceFile, Submission, TestCase, MAGIC_V1, MAGIC_V2,
    MAX_ARGS, MAX_COMPILE_OPTIONS, MAX_FILES, MAX_TESTS,
};
use kennel_common::protocol::kind::Language;

impl Submission {
    /// Reads a framed submission (either version); every problem is a message for an `ERR`
    /// line.
    pub fn decode(bytes: &[u8]) -> Result<Submission, String> {
        decode(bytes, &[MAGIC_V1, MAGIC_V2])
    }
}

/// The parts of a submission that arrive in several fields, gathered until the end.
#[derive(Default)]
struct Pending {
    file_name: Option<String>,
    checker: Option<String>,
    checker_language: Option<Language>,
    checker_source: Option<Vec<u8>>,
    interactor_language: Option<Language>,
    interactor_source: Option<Vec<u8>>,
    has_source: bool,
}

fn decode(bytes: &[u8], magics: &[&str]) -> Result<Submission, String> {
    let mut r = open(bytes, magics)?;
    let mut s = Submission::default();
    let mut p = Pending::default();
    while let Some(field) = r.next_field()? {
        if !top_level(&mut s, &mut p, &field)? && !grading(&mut s, &mut p, &field)? {
            return Err(unknown(&field));
        }
    }
    finish(s, p)
}

fn language(v: &str) -> Result<Language, String> {
    Language::from_name(v).ok_or(format!("unknown language {v:?}"))
}

/// The fields of version 1 (and `entry`, `file_*`); false if `f` is not one of them.
fn top_level(s: &mut Submission, p: &mut Pending, f: &Field<'_>) -> Result<bool, String> {
    match *f {
        Field::Scalar("language", v) => s.language = Some(language(v)?),
        Field::Scalar("time_limit_ms", v) => s.time_limit_ms = limit("time_limit_ms", v)?,
        Field::Scalar("wall_limit_ms", v) => s.wall_limit_ms = limit("wall_limit_ms", v)?,
        Field::Scalar("memory_limit_kib", v) => s.memory_limit_kib = limit("memory_limit_kib", v)?,
        Field::Blob("arg", a) => {
            if s.args.len() == MAX_ARGS {
                return Err(format!("more than {MAX_ARGS} arguments"));
            }
            if a.contains(&0) {
                return Err("an argument with a NUL byte".into());
            }
            s.args.push(a.to_vec());
        }
        Field::Blob("source", b) => {
            s.source = b.to_vec();
            p.has_source = true;
        }
        Field::Blob("stdin", b) => s.stdin = b.to_vec(),
        Field::Blob("expected", b) => s.expected = Some(b.to_vec()),
        Field::Scalar("file_name", v) => {
            if p.file_name.replace(v.to_string()).is_some() {
                return Err("a file_name without its file_content".into());
            }
        }
        Field::Blob("file_content", b) => {
            let name = p
                .file_name
                .take()
                .ok_or("a file_content without a file_name before it")?;
            if s.files.len() == MAX_FILES {
                return Err(format!("more than {MAX_FILES} files"));
            }
            s.files.push(SourceFile {
                name,
                content: b.to_vec(),
            });
        }
        Field::Scalar("entry", v) => s.entry = Some(v.to_string()),
        _ => return Ok(false),
    }
    Ok(true)
}

/// The fields of version 2 that grade; false if `f` is not one of them.
fn grading(s: &mut Submission, p: &mut Pending, f: &Field<'_>) -> Result<bool, String> {
    match *f {
        Field::Blob("compile_option", b) => {
            if s.compile_options.len() == MAX_COMPILE_OPTIONS {
                return Err(format!("more than {MAX_COMPILE_OPTIONS} compiler options"));
            }
            let o = std::str::from_utf8(b).map_err(|_| "a compiler option that is not text")?;
            s.compile_options.push(o.to_string());
        }
        Field::Scalar("test", name) => {
            if s.tests.len() == MAX_TESTS {
                return Err(format!("more than {MAX_TESTS} tests"));
            }
            s.tests.push(TestCase {
                name: name.to_string(),
                ..TestCase::default()
            });
        }
        Field::Blob("test_stdin", b) => current(s)?.stdin = b.to_vec(),
        Field::Blob("test_expected", b) => current(s)?.expected = Some(b.to_vec()),
        Field::Scalar("test_time_limit_ms", v) => {
            current(s)?.time_limit_ms = limit("test_time_limit_ms", v)?
        }
        Field::Scalar("test_wall_limit_ms", v) => {
            current(s)?.wall_limit_ms = limit("test_wall_limit_ms", v)?
        }
        Field::Scalar("test_memory_limit_kib", v) => {
            current(s)?.memory_limit_kib = limit("test_memory_limit_kib", v)?
        }
        Field::Scalar("checker", v) => p.checker = Some(v.to_string()),
        Field::Scalar("checker_language", v) => p.checker_language = Some(language(v)?),
        Field::Blob("checker_source", b) => p.checker_source = Some(b.to_vec()),
        Field::Scalar("interactor_language", v) => p.interactor_language = Some(language(v)?),
        Field::Blob("interactor_source", b) => p.interactor_source = Some(b.to_vec()),
        Field::Scalar("stop_on_first_failure", v) => {
            s.stop_on_first_failure = number::<u8>("stop_on_first_failure", v)? != 0
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The test the `test_*` fields belong to: the last `test` named.
fn current(s: &mut Submission) -> Result<&mut TestCase, String> {
    s.tests
        .last_mut()
        .ok_or_else(|| "a test_* field before any test".to_string())
}

/// Checks what arrived in pieces and assembles it.
fn finish(mut s: Submission, p: Pending) -> Result<Submission, String> {
    if p.file_name.is_some() {
        return Err("a file_name without its file_content".into());
    }
    if !p.has_source && s.files.is_empty() {
        return Err("no source field (and no files)".into());
    }
    if p.has_source && !s.source.is_empty() && !s.files.is_empty() {
        return Err("both a source and files: send one or the other".into());
    }
    let checker_program = match (p.checker_language, p.checker_source) {
        (Some(language), Some(source)) => Some(SideProgram { language, source }),
        (None, None) => None,
        _ => return Err("a custom checker needs both checker_language and checker_source".into()),
    };
    s.checker = match p.checker {
        None if checker_program.is_some() => {
            return Err("checker_source given without checker custom".into())
        }
        None => None,
        Some(spec) => Some(Checker::parse(&spec, checker_program)?),
    };
    s.interactor = match (p.interactor_language, p.interactor_source) {
        (Some(language), Some(source)) => Some(SideProgram { language, source }),
        (None, None) => None,
        _ => {
            return Err("an interactor needs both interactor_language and interactor_source".into())
        }
    };
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::checker::Checker;
    use crate::submission::{SideProgram, SourceFile, Submission, TestCase};
    use kennel_common::protocol::kind::Language;

    #[test]
    fn version_one_round_trips_byte_for_byte_and_refuses_unknown_fields() {
        let s = Submission {
            source: b"int main(){}\xff".to_vec(),
            stdin: b"1 2\n".to_vec(),
            args: vec![b"-v".to_vec(), b"".to_vec()],
            expected: Some(b"3\n".to_vec()),
            time_limit_ms: Some(1500),
            memory_limit_kib: Some(65536),
            language: Some(Language::C),
            ..Default::default()
        };
        assert_eq!(s.version(), 1);
        assert!(s.encode().starts_with(b"KENNEL-RUN 1\n"));
        assert_eq!(Submission::decode(&s.encode()).unwrap(), s);
        let e = Submission::decode(b"KENNEL-RUN 1\nfoo 1\nend\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        let e = Submission::decode(b"KENNEL-RUN 1\nend\n").unwrap_err();
        assert!(e.contains("no source"), "{e}");
        assert!(Submission::decode(b"KENNEL-RUN 1\ntime_limit_ms -1\nsource 0\nend\n").is_err());
        assert!(Submission::decode(b"hello").is_err());
    }

    #[test]
    fn version_two_carries_files_tests_checkers_and_an_interactor() {
        let s = Submission {
            files: vec![
                SourceFile {
                    name: "main.c".into(),
                    content: b"#include \"u.h\"\n".to_vec(),
                },
                SourceFile {
                    name: "u.h".into(),
                    content: b"int f(void);\n".to_vec(),
                },
            ],
            compile_options: vec!["-O0".into(), "-DN=3".into()],
            tests: vec![
                TestCase {
                    name: "a".into(),
                    stdin: b"1\n".to_vec(),
                    expected: Some(b"2\n".to_vec()),
                    time_limit_ms: Some(200),
                    ..Default::default()
                },
                TestCase {
                    name: "b".into(),
                    ..Default::default()
                },
            ],
            checker: Some(Checker::Custom(SideProgram {
                language: Language::Python,
                source: b"import sys\n".to_vec(),
            })),
            interactor: Some(SideProgram {
                language: Language::C,
                source: b"int main(){}".to_vec(),
            }),
            stop_on_first_failure: true,
            ..Default::default()
        };
        assert_eq!(s.version(), 2);
        assert_eq!(Submission::decode(&s.encode()).unwrap(), s);
        let float = Submission {
            source: b"x".to_vec(),
            checker: Some(Checker::parse("float:1e-6", None).unwrap()),
            ..Default::default()
        };
        assert_eq!(Submission::decode(&float.encode()).unwrap(), float);
        for (bad, why) in [
            ("test_stdin 0\n", "before any test"),
            ("file_content 0\n", "without a file_name"),
            ("file_name a.c\n", "without its file_content"),
            ("checker nonsense\n", "unknown checker"),
            ("checker custom\n", "needs a checker program"),
            ("interactor_language c\n", "needs both"),
        ] {
            let msg = format!("KENNEL-RUN 2\nsource 1\nx{bad}end\n");
            let e = Submission::decode(msg.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
