//! How each language Kennel runs is compiled and started, and which of them this host can
//! offer (toolchains found under `/usr`, the only part of the host a sandbox sees). The
//! languages themselves, being request types, are defined with them in
//! `kennel_common::protocol::kind`.

use std::path::PathBuf;

use crate::program::Program;

pub use kennel_common::protocol::kind::{java_main_class, Language};

/// g++'s and gcc's flags before the submission's (a precompiled header is built with them).
pub const CPP_FLAGS: [&str; 2] = ["-O2", "-pipe"];

/// javac's own flags: C1 only and the shared class archive (javac is short-lived: the JIT's
/// second tier would never pay for itself), no performance-data file (`/tmp/hsperfdata_*`,
/// read only by monitoring tools), the source encoding, and no search for annotation
/// processors (a submission is sources: no processor can be on its class path, and the
/// search is ~10% of a hello world's compile).
pub const JAVAC_FLAGS: [&str; 7] = [
    "-J-XX:+UseSerialGC",
    "-J-XX:TieredStopAtLevel=1",
    "-J-Xshare:auto",
    "-J-XX:-UsePerfData",
    "-encoding",
    "UTF-8",
    "-proc:none",
];

/// javac's initial heap for a compile limited to `memory_kib`: an eighth of the limit, at
/// most 64 MiB. javac's launcher starts it at 8 MiB, and a hello world's compile then spends
/// five young collections and heap growths (~10% of it) getting to the ~20 MiB it uses; an
/// eighth stays under the quarter of the limit the JVM takes for its maximum.
fn javac_initial_heap(memory_kib: u64) -> String {
    format!("-J-Xms{}k", (memory_kib / 8).clamp(4 * 1024, 64 * 1024))
}

/// Whether the submission's javac options size the heap themselves (then Kennel does not:
/// an initial size above their maximum would fail the compile).
fn sizes_heap(options: &[String]) -> bool {
    options.iter().any(|o| {
        [
            "-J-Xm",
            "-J-XX:MaxHeapSize",
            "-J-XX:InitialHeapSize",
            "-J-XX:MaxRAM",
        ]
        .iter()
        .any(|p| o.starts_with(p))
    })
}

/// The C++ dialect of a compile: the last `-std=` of its options, else Kennel's default.
pub fn cpp_std(options: &[String]) -> &str {
    options
        .iter()
        .rev()
        .find_map(|o| o.strip_prefix("-std="))
        .unwrap_or(DEFAULT_CPP_STD)
}

/// The `-std` a C++ compile gets unless it asks for another.
pub const DEFAULT_CPP_STD: &str = "gnu++17";

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

    /// The compile command (run in `/work`, output into `/work/out`), if the language
    /// compiles. The submission's options come after the defaults (the last `-O`, `-std`
    /// wins) and libraries after the sources (the linker reads left to right); `memory_kib` is
    /// the compile's memory limit (javac's initial heap follows it).
    pub fn compile_command(&self, p: &Program, memory_kib: u64) -> Option<Vec<String>> {
        let s = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let (libs, flags): (Vec<String>, Vec<String>) =
            p.options.iter().cloned().partition(|o| o.starts_with("-l"));
        let mut cmd = match p.language {
            Language::Python => return None,
            Language::C => vec![s(&self.gcc)?, "-std=gnu17".into()],
            Language::Cpp => vec![s(&self.gxx)?, format!("-std={DEFAULT_CPP_STD}")],
            Language::Java => {
                let mut cmd = vec![s(&self.javac)?];
                cmd.extend(JAVAC_FLAGS.iter().map(|f| f.to_string()));
                if !sizes_heap(&flags) {
                    cmd.push(javac_initial_heap(memory_kib));
                }
                cmd.extend(flags);
                cmd.extend(["-d".into(), "out".into()]);
                cmd.extend(p.sources());
                return Some(cmd);
            }
        };
        cmd.extend(CPP_FLAGS.iter().map(|f| f.to_string()));
        cmd.extend(flags);
        cmd.extend(["-o".into(), "out/prog".into()]);
        cmd.extend(p.sources());
        cmd.extend(libs);
        cmd.push("-lm".into());
        Some(cmd)
    }

    /// The command that runs the program (after its files are in `/work`).
    pub fn run_command(&self, p: &Program, memory_kib: u64) -> Option<Vec<String>> {
        let s = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        Some(match p.language {
            // Not `-I`: it would hide the program's own modules (`-P`); the environment and
            // the user's site directory are ignored all the same.
            Language::Python => vec![
                s(&self.python)?,
                "-E".into(),
                "-s".into(),
                "-B".into(),
                p.entry.clone(),
            ],
            Language::C | Language::Cpp => vec!["./prog".into()],
            Language::Java => vec![
                s(&self.java)?,
                format!("-Xmx{}k", memory_kib.max(16 * 1024)),
                "-Xss64m".into(),
                "-XX:+UseSerialGC".into(),
                "-XX:TieredStopAtLevel=1".into(),
                "-XX:+ExitOnOutOfMemoryError".into(),
                "-Xshare:auto".into(),
                // No /tmp/hsperfdata_* file: read only by monitoring tools (jstat), and the
                // program's /tmp stays its own.
                "-XX:-UsePerfData".into(),
                "-cp".into(),
                ".".into(),
                p.entry.clone(),
            ],
        })
    }

    /// The toolchain's version as it says it (`12.2.0`, `3.11.7`, `17.0.15`), asked once per
    /// call: a host tool answering at once (a Java one takes half a second).
    pub fn version(&self, lang: Language) -> Option<String> {
        let (tool, arg) = match lang {
            Language::Python => (self.python.as_ref()?, "--version"),
            Language::C => (self.gcc.as_ref()?, "-dumpfullversion"),
            Language::Cpp => (self.gxx.as_ref()?, "-dumpfullversion"),
            Language::Java => (self.javac.as_ref()?, "-version"),
        };
        let out = std::process::Command::new(tool)
            .arg(arg)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let word = text
            .split_whitespace()
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
        Some(word.to_string())
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
    fn javac_starts_with_an_eighth_of_its_limit_at_most_64_mib() {
        assert_eq!(javac_initial_heap(512 * 1024), "-J-Xms65536k");
        assert_eq!(javac_initial_heap(16 << 20), "-J-Xms65536k");
        assert_eq!(javac_initial_heap(64 * 1024), "-J-Xms8192k");
        assert_eq!(javac_initial_heap(1024), "-J-Xms4096k");
    }

    #[test]
    fn a_submission_sizing_javac_heap_itself_gets_no_initial_size_from_kennel() {
        let tools = Toolchains {
            javac: Some("/usr/bin/javac".into()),
            java: Some("/usr/bin/java".into()),
            ..Toolchains::default()
        };
        let mut p = Program {
            language: Language::Java,
            files: vec![crate::archive::Entry {
                name: "Main.java".into(),
                executable: false,
                data: b"public class Main { public static void main(String[] a) {} }".to_vec(),
            }],
            options: Vec::new(),
            entry: "Main".into(),
        };
        let ours = tools.compile_command(&p, 512 * 1024).unwrap();
        assert!(ours.contains(&"-J-Xms65536k".to_string()), "{ours:?}");
        assert!(ours.contains(&"-proc:none".to_string()), "{ours:?}");
        p.options = vec!["-J-Xmx12m".into()];
        let theirs = tools.compile_command(&p, 512 * 1024).unwrap();
        assert!(
            !theirs.iter().any(|a| a.starts_with("-J-Xms")),
            "{theirs:?}"
        );
        assert!(theirs.contains(&"-J-Xmx12m".to_string()), "{theirs:?}");
    }
}
