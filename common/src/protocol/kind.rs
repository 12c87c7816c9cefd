//! What a client can ask for: a built-in service or a program run in one of the runner's
//! languages. One table (`KINDS`) gives every kind its wire name and its shared-memory code;
//! everything else (`RequestKind::ALL`, `name`, `code`, `from_name`, `from_code`) reads it, and
//! a compile-time check keeps the codes dense and inside the segment's `TYPE_SLOTS` counters.

use std::path::Path;

use crate::layout::TYPE_SLOTS;

/// A built-in service a worker answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `requetetype1`: the current UTC time.
    Time,
    /// `requetetype2`: today's UTC date.
    Date,
    /// `echo`: the payload, returned unchanged.
    Echo,
}

/// A request type: a service, or a program to compile and run in the sandbox (the payload is
/// the program, docs/RUNNER.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    Service(Service),
    Run(Language),
}

/// Every kind, its wire name and its code in shared memory (0 means none), in code order.
const KINDS: [(RequestKind, &str); 7] = [
    (RequestKind::TIME, "requetetype1"),
    (RequestKind::DATE, "requetetype2"),
    (RequestKind::ECHO, "echo"),
    (RequestKind::Run(Language::Python), "python"),
    (RequestKind::Run(Language::C), "c"),
    (RequestKind::Run(Language::Cpp), "cpp"),
    (RequestKind::Run(Language::Java), "java"),
];

// Codes are 1..=KINDS.len() and index the segment's per-type counters.
const _: () = assert!(
    KINDS.len() < TYPE_SLOTS,
    "more request kinds than TYPE_SLOTS"
);
// A language's bit in a slot's `languages` word is its place in `Language::ALL`.
const _: () = assert!(Language::ALL.len() <= 32);

impl RequestKind {
    pub const TIME: RequestKind = RequestKind::Service(Service::Time);
    pub const DATE: RequestKind = RequestKind::Service(Service::Date);
    pub const ECHO: RequestKind = RequestKind::Service(Service::Echo);

    /// Every kind, in code order.
    pub const ALL: [RequestKind; KINDS.len()] = {
        let mut all = [RequestKind::TIME; KINDS.len()];
        let mut k = 0;
        while k < KINDS.len() {
            all[k] = KINDS[k].0;
            k += 1;
        }
        all
    };

    fn index(self) -> usize {
        KINDS
            .iter()
            .position(|(k, _)| *k == self)
            .expect("every kind is in KINDS")
    }

    /// The word a client sends.
    pub fn name(self) -> &'static str {
        KINDS[self.index()].1
    }

    /// Code stored in shared memory (0 means none): the kind's place in the table, plus one.
    pub fn code(self) -> u32 {
        self.index() as u32 + 1
    }

    pub fn from_code(code: u32) -> Option<RequestKind> {
        let k = usize::try_from(code).ok()?.checked_sub(1)?;
        KINDS.get(k).map(|(kind, _)| *kind)
    }

    pub fn from_name(name: &[u8]) -> Option<RequestKind> {
        KINDS
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(kind, _)| *kind)
    }

    /// Whether a client may send the same request again after a failure without changing
    /// the outcome: true for every built-in type (they only read the clock or echo, and a
    /// program runs in a sandbox that nothing outlives).
    pub fn is_idempotent(self) -> bool {
        true
    }

    /// The language this kind runs, if it is a program run.
    pub fn language(self) -> Option<Language> {
        match self {
            RequestKind::Run(lang) => Some(lang),
            RequestKind::Service(_) => None,
        }
    }

    /// A program-runner language (the payload is a program), not a built-in service.
    pub fn is_run(self) -> bool {
        self.language().is_some()
    }
}

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

    /// Its name, which is also its request type's.
    pub fn name(self) -> &'static str {
        RequestKind::Run(self).name()
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
        1 << self as u32
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_come_back_to_their_kind() {
        for (k, kind) in RequestKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.code(), k as u32 + 1);
            assert_eq!(RequestKind::from_code(kind.code()), Some(kind));
            assert_eq!(RequestKind::from_name(kind.name().as_bytes()), Some(kind));
        }
        assert_eq!(RequestKind::from_code(0), None);
        assert_eq!(RequestKind::from_code(8), None);
        assert_eq!(RequestKind::from_name(b"rust"), None);
        assert!(RequestKind::Run(Language::Java).is_run() && !RequestKind::ECHO.is_run());
    }

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
            assert_eq!(RequestKind::Run(l).language(), Some(l));
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
