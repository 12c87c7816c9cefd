//! The languages Kennel runs, how each is compiled and started, and which of them this host
//! can offer (toolchains found under `/usr`, the only part of the host a sandbox sees).

use std::path::{Path, PathBuf};

use kennel_common::protocol::RequestType;

/// A language of the program runner; its name is also its request type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    C,
    Cpp,
    Java,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::Python, Language::C, Language::Cpp, Language::Java];

    pub fn name(self) -> &'static str {
        self.request().name()
    }

    pub fn request(self) -> RequestType {
        match self {
            Language::Python => RequestType::Python,
            Language::C => RequestType::C,
            Language::Cpp => RequestType::Cpp,
            Language::Java => RequestType::Java,
        }
    }

    pub fn from_request(t: RequestType) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.request() == t)
    }

    pub fn from_name(name: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The language a file's extension names: `.py`, `.c`, `.cpp`/`.cc`/`.cxx`, `.java`.
    pub fn from_path(path: &Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" => Some(Language::Python),
            "c" => Some(Language::C),
            "cpp" | "cc" | "cxx" | "C" => Some(Language::Cpp),
            "java" => Some(Language::Java),
            _ => None,
        }
    }

    /// Bit of this language in a slot's `languages` word.
    pub fn bit(self) -> u32 {
        1 << (self.request().code() - RequestType::Python.code())
    }

    /// Whether the program is compiled before it runs (and its compile cached).
    pub fn compiled(self) -> bool {
        self != Language::Python
    }

    /// The name the source file gets in `/work`. Java wants the file named after its public
    /// class: `public class Foo` → `Foo.java`; otherwise `Main.java`.
    pub fn source_name(self, source: &[u8]) -> String {
        match self {
            Language::Python => "main.py".into(),
            Language::C => "main.c".into(),
            Language::Cpp => "main.cpp".into(),
            Language::Java => format!("{}.java", java_main_class(source)),
        }
    }
}

/// The class `java` starts: the public class's name if the source declares one (a plain
/// word), else `Main`.
pub fn java_main_class(source: &[u8]) -> String {
    let text = String::from_utf8_lossy(source);
    let mut words = text.split(|c: char| c.is_whitespace() || c == '{');
    while let Some(w) = words.next() {
        if w == "public" {
            let mut rest = words.clone().filter(|w| !w.is_empty());
            if rest.next() == Some("class") {
                if let Some(name) = rest.next() {
                    let ok = name.len() <= 64
                        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if ok {
                        return name.to_string();
                    }
                }
            }
        }
    }
    "Main".into()
}

/// The tools of each language found on this host (resolved to real paths under `/usr`).
#[derive(Debug, Clone, Default)]
pub struct Toolchains {
    pub python: Option<PathBuf>,
    pub gcc: Option<PathBuf>,
    pub gxx: Option<PathBuf>,
    pub javac: Option<PathBuf>,
    pub java: Option<PathBuf>,
}

impl Toolchains {
    /// Looks for Debian's toolchains. A tool whose real path is outside `/usr` is not offered:
    /// the sandbox would not see it.
    pub fn discover() -> Toolchains {
        let find = |p: &str| {
            std::fs::canonicalize(p)
                .ok()
                .filter(|r| r.starts_with("/usr") && r.is_file())
        };
        Toolchains {
            python: find("/usr/bin/python3"),
            gcc: find("/usr/bin/gcc"),
            gxx: find("/usr/bin/g++"),
            javac: find("/usr/bin/javac"),
            java: find("/usr/bin/java"),
        }
    }

    pub fn offers(&self, lang: Language) -> bool {
        match lang {
            Language::Python => self.python.is_some(),
            Language::C => self.gcc.is_some(),
            Language::Cpp => self.gxx.is_some(),
            Language::Java => self.javac.is_some() && self.java.is_some(),
        }
    }

    /// The compile command (run in `/work`, output into `/work/out`), if the language compiles.
    pub fn compile_command(&self, lang: Language, source_name: &str) -> Option<Vec<String>> {
        let s = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let mut cmd = match lang {
            Language::Python => return None,
            Language::C => vec![s(&self.gcc)?, "-std=gnu17".into()],
            Language::Cpp => vec![s(&self.gxx)?, "-std=gnu++17".into()],
            Language::Java => {
                return Some(vec![
                    s(&self.javac)?,
                    "-J-XX:+UseSerialGC".into(),
                    "-J-XX:TieredStopAtLevel=1".into(),
                    "-J-Xshare:auto".into(),
                    "-encoding".into(),
                    "UTF-8".into(),
                    "-d".into(),
                    "out".into(),
                    source_name.into(),
                ])
            }
        };
        cmd.extend(
            ["-O2", "-pipe", "-o", "out/prog", source_name, "-lm"]
                .into_iter()
                .map(String::from),
        );
        Some(cmd)
    }

    /// The command that runs the program (after its files are in `/work`).
    pub fn run_command(
        &self,
        lang: Language,
        source: &[u8],
        memory_kib: u64,
    ) -> Option<Vec<String>> {
        let s = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        Some(match lang {
            Language::Python => vec![s(&self.python)?, "-I".into(), "-B".into(), "main.py".into()],
            Language::C | Language::Cpp => vec!["./prog".into()],
            Language::Java => vec![
                s(&self.java)?,
                format!("-Xmx{}k", memory_kib.max(16 * 1024)),
                "-Xss64m".into(),
                "-XX:+UseSerialGC".into(),
                "-XX:TieredStopAtLevel=1".into(),
                "-XX:+ExitOnOutOfMemoryError".into(),
                "-Xshare:auto".into(),
                "-cp".into(),
                ".".into(),
                java_main_class(source),
            ],
        })
    }

    /// What identifies the compiler in the compile cache's key: its real path, size and
    /// modification time (a package upgrade changes them).
    pub fn compiler_identity(&self, lang: Language) -> String {
        let p = match lang {
            Language::Python => &self.python,
            Language::C => &self.gcc,
            Language::Cpp => &self.gxx,
            Language::Java => &self.javac,
        };
        let Some(p) = p else { return String::new() };
        let meta = std::fs::metadata(p).ok();
        let stamp = meta
            .and_then(|m| m.modified().ok())
            .map(|t| format!("{t:?}"));
        format!("{}:{}", p.display(), stamp.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_and_names_map_to_languages() {
        assert_eq!(
            Language::from_path(Path::new("a/hello.c")),
            Some(Language::C)
        );
        assert_eq!(Language::from_path(Path::new("x.cc")), Some(Language::Cpp));
        assert_eq!(
            Language::from_path(Path::new("x.py")),
            Some(Language::Python)
        );
        assert_eq!(
            Language::from_path(Path::new("Main.java")),
            Some(Language::Java)
        );
        assert_eq!(Language::from_path(Path::new("x.rs")), None);
        for l in Language::ALL {
            assert_eq!(Language::from_name(l.name()), Some(l));
            assert_eq!(Language::from_request(l.request()), Some(l));
        }
        let bits: u32 = Language::ALL.iter().map(|l| l.bit()).sum();
        assert_eq!(bits, 0b1111);
    }

    #[test]
    fn the_java_class_is_the_public_one_or_main() {
        assert_eq!(java_main_class(b"public class Hello {"), "Hello");
        assert_eq!(java_main_class(b"class A {}\npublic  class  B{}"), "B");
        assert_eq!(java_main_class(b"class X {}"), "Main");
        assert_eq!(java_main_class(b"public class ../../x {"), "Main");
        assert_eq!(java_main_class(&[0xff, 0xfe]), "Main");
    }
}
