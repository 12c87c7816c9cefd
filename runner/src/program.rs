//! A program as the sandbox holds it: its files in `/work`, the options it is compiled with,
//! and what starts it (Python's entry file, Java's main class). Built from a submission's
//! one source or several files; every name and option is checked here, before anything runs.

use crate::archive::{self, Entry};
use crate::compile_options;
use crate::side::SideProgram;
use crate::submission::Submission;
use kennel_common::protocol::kind::{java_main_class, Language};

/// Longest name a submitted file may have.
pub const MAX_NAME: usize = 64;

/// A program ready to compile or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub language: Language,
    /// Its files, as they are put in `/work`.
    pub files: Vec<Entry>,
    /// Checked compiler options.
    pub options: Vec<String>,
    /// Python: the file run; Java: the class started (`pkg.Main`); C, C++: empty.
    pub entry: String,
}

impl Program {
    /// The program of a submission, as `lang`.
    pub fn from_submission(lang: Language, sub: &Submission) -> Result<Program, String> {
        compile_options::check(lang, &sub.compile_options)?;
        let mut p = if sub.files.is_empty() {
            Program::single(lang, &sub.source)?
        } else {
            Program::several(lang, sub)?
        };
        p.options = sub.compile_options.clone();
        Ok(p)
    }

    /// A checker's or an interactor's program.
    pub fn side(p: &SideProgram) -> Result<Program, String> {
        Program::single(p.language, &p.source)
    }

    /// One source file, named as the language wants it (`main.c`, `Foo.java`).
    fn single(lang: Language, source: &[u8]) -> Result<Program, String> {
        // A compiled binary or an archive sent by mistake: its compiler would flood the
        // client with errors about every byte.
        if source.contains(&0) {
            return Err(format!(
                "the {} source is not text (it holds NUL bytes): send the program's source, not a binary",
                lang.name()
            ));
        }
        let name = lang.source_name(source);
        let entry = match lang {
            Language::Python => name.clone(),
            // No main found: compile anyway (a compile error is what the student needs to
            // see first); `java` then says which class it could not start.
            Language::Java => {
                java_entry(&[(&name, source)], None).unwrap_or_else(|_| java_main_class(source))
            }
            Language::C | Language::Cpp => String::new(),
        };
        Ok(Program {
            language: lang,
            files: vec![Entry {
                name,
                executable: false,
                data: source.to_vec(),
            }],
            options: Vec::new(),
            entry,
        })
    }

    fn several(lang: Language, sub: &Submission) -> Result<Program, String> {
        let mut seen = std::collections::HashSet::new();
        for f in &sub.files {
            check_name(&f.name)?;
            if !seen.insert(f.name.as_str()) {
                return Err(format!("two files named {:?}", f.name));
            }
            if is_source(lang, &f.name) && f.content.contains(&0) {
                return Err(format!("{} is not text (it holds NUL bytes)", f.name));
            }
        }
        if !sub.files.iter().any(|f| is_source(lang, &f.name)) {
            return Err(format!(
                "none of the files is a {} source ({})",
                lang.name(),
                extensions(lang)
            ));
        }
        let entry = match lang {
            Language::Python => python_entry(sub)?,
            Language::Java => {
                let sources: Vec<(&str, &[u8])> = sub
                    .files
                    .iter()
                    .filter(|f| is_source(lang, &f.name))
                    .map(|f| (f.name.as_str(), f.content.as_slice()))
                    .collect();
                java_entry(&sources, sub.entry.as_deref())?
            }
            Language::C | Language::Cpp if sub.entry.is_some() => {
                return Err(format!(
                    "{} takes no entry: every source is linked",
                    lang.name()
                ))
            }
            Language::C | Language::Cpp => String::new(),
        };
        Ok(Program {
            language: lang,
            files: sub
                .files
                .iter()
                .map(|f| Entry {
                    name: f.name.clone(),
                    executable: false,
                    data: f.content.clone(),
                })
                .collect(),
            options: Vec::new(),
            entry,
        })
    }

    /// The names of the files the compiler is given (C, C++: every source; Java: every
    /// `.java`).
    pub fn sources(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| is_source(self.language, &f.name))
            .map(|f| f.name.clone())
            .collect()
    }

    /// The files that are neither sources nor headers (data a program reads at run time):
    /// a compiled program keeps them beside its binary.
    pub fn data_files(&self) -> Vec<archive::Entry> {
        self.files
            .iter()
            .filter(|f| {
                let ext = f.name.rsplit_once('.').map_or("", |(_, e)| e);
                !is_source(self.language, &f.name) && !matches!(ext, "h" | "hpp" | "hh" | "hxx")
            })
            .cloned()
            .collect()
    }

    /// The files, packed to cross into the sandbox.
    pub fn archive(&self) -> Vec<u8> {
        archive::pack(&self.files)
    }
}

/// The languages the extensions of `names` name, each once; C beside C++ is C++ (a C++
/// program may hold C sources). One language is the program's; none or several, ask.
pub fn languages_of<P: AsRef<std::path::Path>>(
    names: impl IntoIterator<Item = P>,
) -> Vec<Language> {
    let mut langs: Vec<Language> = names
        .into_iter()
        .filter_map(|n| Language::from_path(n.as_ref()))
        .collect();
    langs.sort_by_key(|l| l.name());
    langs.dedup();
    if langs.contains(&Language::Cpp) {
        langs.retain(|l| *l != Language::C);
    }
    langs
}

/// A submitted file's name: flat, plain, short.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.len() <= MAX_NAME && archive::valid_name(name) {
        return Ok(());
    }
    Err(format!(
        "file name {:?} refused: at most {MAX_NAME} letters, digits, '.', '_', '-', no '/' or '..', not hidden",
        kennel_common::protocol::printable_excerpt(name.as_bytes())
    ))
}

/// Whether `name` is a source the language's compiler (or interpreter) takes.
fn is_source(lang: Language, name: &str) -> bool {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match lang {
        Language::Python => ext == "py",
        Language::C => ext == "c",
        Language::Cpp => matches!(ext, "cpp" | "cc" | "cxx" | "C" | "c"),
        Language::Java => ext == "java",
    }
}

fn extensions(lang: Language) -> &'static str {
    match lang {
        Language::Python => ".py",
        Language::C => ".c",
        Language::Cpp => ".cpp, .cc, .cxx",
        Language::Java => ".java",
    }
}

/// Python's entry: the one named, else `main.py`, else the only `.py` file.
fn python_entry(sub: &Submission) -> Result<String, String> {
    let has = |n: &str| sub.files.iter().any(|f| f.name == n);
    if let Some(e) = &sub.entry {
        return if has(e) && e.ends_with(".py") {
            Ok(e.clone())
        } else {
            Err(format!("the entry {e:?} is not one of the .py files"))
        };
    }
    if has("main.py") {
        return Ok("main.py".into());
    }
    let py: Vec<&str> = sub
        .files
        .iter()
        .filter(|f| f.name.ends_with(".py"))
        .map(|f| f.name.as_str())
        .collect();
    match py[..] {
        [one] => Ok(one.to_string()),
        _ => Err("several .py files and no main.py: name the entry".into()),
    }
}

/// Java's main class: the one named (which must have a `main`), else the only one found.
fn java_entry(sources: &[(&str, &[u8])], named: Option<&str>) -> Result<String, String> {
    let mains: Vec<String> = sources
        .iter()
        .flat_map(|(_, s)| crate::java_main::main_classes(s))
        .collect();
    match (named, &mains[..]) {
        (Some(n), _) if mains.iter().any(|m| m == n) => Ok(n.to_string()),
        (Some(n), _) => Err(format!(
            "the entry {n:?} has no public static void main (found: {})",
            if mains.is_empty() {
                "none".into()
            } else {
                mains.join(", ")
            }
        )),
        (None, [one]) => Ok(one.clone()),
        (None, []) => Err(
            "no class has a static void main(String[]): Java needs one to start the program".into(),
        ),
        (None, many) => Err(format!(
            "several classes have a main ({}): name the entry",
            many.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submission::SourceFile;

    fn files(lang: Language, names: &[(&str, &str)]) -> Result<Program, String> {
        let sub = Submission {
            files: names
                .iter()
                .map(|(n, c)| SourceFile {
                    name: n.to_string(),
                    content: c.as_bytes().to_vec(),
                })
                .collect(),
            ..Default::default()
        };
        Program::from_submission(lang, &sub)
    }

    #[test]
    fn files_are_named_plainly_and_the_entry_is_found() {
        assert_eq!(languages_of(["a.c", "u.h", "b.cpp"]), [Language::Cpp]);
        assert_eq!(languages_of(["a.py", "b.c"]).len(), 2);
        assert!(languages_of(["u.h"]).is_empty());
        let p = files(Language::C, &[("main.c", ""), ("u.c", ""), ("u.h", "")]).unwrap();
        assert_eq!(p.sources(), ["main.c", "u.c"]);
        for bad in ["../x.c", "a/b.c", ".x.c", "x\0.c", ""] {
            let e = files(Language::C, &[(bad, "")]).unwrap_err();
            assert!(e.contains("refused"), "{bad:?}: {e}");
        }
        let e = files(Language::C, &[("a.c", ""), ("a.c", "")]).unwrap_err();
        assert!(e.contains("two files"), "{e}");
        assert!(files(Language::C, &[("u.h", "")]).is_err());
        let p = files(Language::Python, &[("lib.py", ""), ("main.py", "")]).unwrap();
        assert_eq!(p.entry, "main.py");
        assert!(files(Language::Python, &[("a.py", ""), ("b.py", "")]).is_err());
        let java = "package p; class Solution { public static void main(String[] a) {} }";
        let p = files(
            Language::Java,
            &[("S.java", java), ("U.java", "class U {}")],
        )
        .unwrap();
        assert_eq!(p.entry, "p.Solution");
        let p = Program::single(
            Language::Java,
            b"class Solution { static void main(String[] a) {} }",
        );
        assert_eq!(p.unwrap().entry, "Solution");
        let p = Program::single(Language::Java, b"public class A {}").unwrap();
        assert_eq!(p.entry, "A", "no main: the public class, as before");
    }
}
