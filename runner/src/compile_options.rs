//! Compiler options a submission may give: an allow-list per language. A compiler is a
//! program runner of its own: `-fplugin=` loads a shared object into it, `-B` and `-wrapper`
//! make it run other programs, `@file` and `-specs=` read files that rewrite its commands,
//! `-I/abs` and `-L/abs` read host paths. The compile runs in the sandbox, so none of them
//! could reach the host; they are refused anyway, with the reason, so a grader's log says
//! what was asked and why it was not done, and so the compile stays what the runner says it
//! is (the cache key, the limits, the output name).

use kennel_common::protocol::kind::Language;

/// Why an option is refused when it names a known hazard (checked before the allow-list, so
/// the answer says more than "not allowed").
const HAZARDS: [(&str, &str); 11] = [
    ("-fplugin", "loads a shared object into the compiler"),
    (
        "-B",
        "makes the compiler run its tools from another directory",
    ),
    (
        "-wrapper",
        "runs the compiler's tools under another program",
    ),
    ("@", "reads more options from a file"),
    ("-specs", "rewrites the compiler's commands from a file"),
    ("-o", "names the output, which the runner does"),
    ("-Wl,", "passes options to the linker"),
    ("-Wa,", "passes options to the assembler"),
    ("-Wp,", "passes options to the preprocessor"),
    ("-Xlinker", "passes options to the linker"),
    ("-J", "passes options to the JVM that runs javac"),
];

const C_STDS: [&str; 10] = [
    "c89", "c99", "c11", "c17", "c18", "c2x", "gnu89", "gnu99", "gnu11", "gnu17",
];
const CPP_STDS: [&str; 12] = [
    "c++11", "c++14", "c++17", "c++20", "c++2a", "c++23", "c++2b", "gnu++11", "gnu++14", "gnu++17",
    "gnu++20", "gnu++23",
];

/// Options allowed as they are, for C and C++.
const C_FLAGS: [&str; 31] = [
    "-O0",
    "-O1",
    "-O2",
    "-O3",
    "-Os",
    "-Og",
    "-Ofast",
    "-g",
    "-g0",
    "-g1",
    "-g2",
    "-g3",
    "-ggdb",
    "-lm",
    "-lpthread",
    "-pthread",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wpedantic",
    "-pedantic",
    "-pedantic-errors",
    "-w",
    "-Wshadow",
    "-Wconversion",
    "-ffast-math",
    "-funroll-loops",
    "-fno-omit-frame-pointer",
    "-fsanitize=address",
    "-fsanitize=undefined",
    "-fsanitize=address,undefined",
];

/// Options allowed as they are, for Java's compiler.
const JAVA_FLAGS: [&str; 9] = [
    "-g",
    "-g:none",
    "-Xlint",
    "-Xlint:all",
    "-Xlint:none",
    "-nowarn",
    "-deprecation",
    "-Werror",
    "-parameters",
];

/// What `/api/v1/languages` lists: the options `lang` accepts, patterns written `-DNAME`.
pub fn allowed(lang: Language) -> Vec<String> {
    let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match lang {
        Language::Python => Vec::new(),
        Language::Java => list(&JAVA_FLAGS),
        Language::C | Language::Cpp => {
            let stds = if lang == Language::C {
                &C_STDS[..]
            } else {
                &CPP_STDS[..]
            };
            let mut v = list(&C_FLAGS);
            v.extend(stds.iter().map(|s| format!("-std={s}")));
            v.extend(["-DNAME", "-DNAME=VALUE", "-UNAME"].map(String::from));
            v
        }
    }
}

/// Checks every option of a submission for `lang`; the first refused one is the error.
pub fn check(lang: Language, options: &[String]) -> Result<(), String> {
    if lang == Language::Python && !options.is_empty() {
        return Err("python takes no compiler options".into());
    }
    options.iter().try_for_each(|o| check_one(lang, o))
}

fn check_one(lang: Language, o: &str) -> Result<(), String> {
    let shown = kennel_common::protocol::printable_excerpt(o.as_bytes());
    for (prefix, why) in HAZARDS {
        if o.starts_with(prefix) {
            return Err(format!("compiler option {shown:?} refused: it {why}"));
        }
    }
    let ok = match lang {
        Language::Python => false,
        Language::Java => JAVA_FLAGS.contains(&o),
        Language::C | Language::Cpp => C_FLAGS.contains(&o) || c_pattern(lang, o),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "compiler option {shown:?} is not on the allow-list for {} (GET /api/v1/languages lists it)",
            lang.name()
        ))
    }
}

/// `-std=…` of the language, `-DNAME`, `-DNAME=VALUE` (a plain value), `-UNAME`.
fn c_pattern(lang: Language, o: &str) -> bool {
    if let Some(std) = o.strip_prefix("-std=") {
        return if lang == Language::C {
            C_STDS.contains(&std)
        } else {
            CPP_STDS.contains(&std)
        };
    }
    let ident = |s: &str| {
        s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if let Some(name) = o.strip_prefix("-U") {
        return ident(name);
    }
    let Some(def) = o.strip_prefix("-D") else {
        return false;
    };
    match def.split_once('=') {
        None => ident(def),
        Some((name, value)) => {
            ident(name)
                && value.len() <= 64
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_admits_graders_options_and_refuses_hazards_with_the_reason() {
        let ok = |l, o: &str| check(l, &[o.to_string()]);
        for o in [
            "-O0",
            "-O3",
            "-std=c11",
            "-lm",
            "-Wall",
            "-DN",
            "-DN=10",
            "-DX_1=a.b",
            "-UX",
            "-g",
            "-fsanitize=undefined",
        ] {
            assert_eq!(ok(Language::C, o), Ok(()), "{o}");
        }
        assert_eq!(ok(Language::Cpp, "-std=c++20"), Ok(()));
        assert!(ok(Language::C, "-std=c++20").is_err());
        assert_eq!(ok(Language::Java, "-Xlint:all"), Ok(()));
        for (o, why) in [
            ("-fplugin=/tmp/x.so", "loads a shared object"),
            ("-B/tmp", "run its tools"),
            ("-wrapper", "under another program"),
            ("@opts", "from a file"),
            ("-specs=x", "rewrites"),
            ("-o", "names the output"),
            ("-Wl,-rpath", "linker"),
            ("-I/etc", "allow-list"),
            ("-DX=$(id)", "allow-list"),
            ("-D1X", "allow-list"),
            ("", "allow-list"),
        ] {
            let e = ok(Language::C, o).unwrap_err();
            assert!(e.contains(why), "{o}: {e}");
        }
        assert!(check(Language::Python, &["-O".into()])
            .unwrap_err()
            .contains("python takes no compiler options"));
        assert!(allowed(Language::Cpp).contains(&"-std=c++23".to_string()));
    }
}
