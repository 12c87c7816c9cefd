//! Warm toolchains: what a compiler would otherwise redo for every submission, made once and
//! shared read-only with every sandbox at `/warm`:
//!
//! | artifact | what it saves | made from |
//! |---|---|---|
//! | precompiled `bits/stdc++.h` and `iostream` per `-std` (`--warm-toolchains`) | parsing the standard headers: most of a C++ hello's compile | the system's headers only |
//! | a class-data-sharing archive of javac's own classes (`javac.jsa`, `--warm-toolchains java`) | loading and verifying javac at every compile | javac compiling a fixed hello world |
//!
//! Nothing of a submission goes into them, so nothing passes from one submission to another:
//! each is built by the toolchain from system files, in a sandbox like any compile, then
//! written by the worker under a name it chose (never one a program chose) with a temporary
//! name and a rename, so a compile sees a whole file or none. Sandboxes get the directory
//! read-only, by descriptor. A compiler that finds an artifact unusable for its flags (another
//! `-O`, a `-D`) ignores it and reads the headers: slower, never different.
//!
//! The directory is per user and per toolchain (`warm-<digest of the compilers' identities>`
//! under `--warm-dir`, by default `$XDG_CACHE_HOME/kennel` or `~/.cache/kennel`, else the
//! instance's runtime directory), so a machine builds each artifact once, whichever instance
//! gets the lock first; a toolchain upgrade gets a new directory.

use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::language::{Language, Toolchains};

/// Where the directory appears in a sandbox.
pub const MOUNT: &str = "/warm";

/// The headers precompiled for each `-std`.
const HEADERS: [(&str, &str); 2] = [("bits/stdc++.h", "bits/stdc++.h"), ("iostream", "iostream")];

/// One thing to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    /// `header` (as included) precompiled for `-std=std`.
    Pch {
        std: String,
        header: &'static str,
    },
    JavacArchive,
}

impl Artifact {
    /// Its path under the directory.
    fn rel(&self) -> String {
        match self {
            Artifact::Pch { std, header } => format!("pch/{std}/{header}.gch"),
            Artifact::JavacArchive => "javac.jsa".into(),
        }
    }

    /// The compile that makes it (in `/work`, output in `/work/out`): the command and the
    /// files it needs.
    pub fn recipe(&self, tools: &Toolchains) -> Option<(Vec<String>, Vec<crate::archive::Entry>)> {
        match self {
            Artifact::Pch { std, header } => {
                let gxx = tools.gxx.as_ref()?.display().to_string();
                let path = system_header(&gxx, header)?;
                let mut cmd = vec![gxx, format!("-std={std}")];
                cmd.extend(crate::language::CPP_FLAGS.iter().map(|s| s.to_string()));
                cmd.extend(["-x".into(), "c++-header".into(), path]);
                cmd.extend(["-o".into(), "out/made.gch".into()]);
                Some((cmd, Vec::new()))
            }
            Artifact::JavacArchive => {
                let mut cmd = vec![tools.javac.as_ref()?.display().to_string()];
                cmd.extend(crate::language::JAVAC_FLAGS.iter().map(|s| s.to_string()));
                cmd.extend([
                    "-J-XX:ArchiveClassesAtExit=out/made.jsa".into(),
                    "-d".into(),
                    "out".into(),
                    "Main.java".into(),
                ]);
                let src = b"public class Main { public static void main(String[] a) { System.out.println(\"hello\"); } }\n";
                let files = vec![crate::archive::Entry {
                    name: "Main.java".into(),
                    data: src.to_vec(),
                    executable: false,
                }];
                Some((cmd, files))
            }
        }
    }
}

/// Where g++ finds `header` (`bits/stdc++.h` lives in the target's directory).
fn system_header(gxx: &str, header: &str) -> Option<String> {
    let version = std::process::Command::new(gxx)
        .arg("-dumpversion")
        .output()
        .ok()?;
    let major = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let machine = std::process::Command::new(gxx)
        .arg("-dumpmachine")
        .output()
        .ok()?;
    let machine = String::from_utf8_lossy(&machine.stdout).trim().to_string();
    [
        format!("/usr/include/c++/{major}/{header}"),
        format!("/usr/include/{machine}/c++/{major}/{header}"),
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
}

/// The warm directory of this runner.
#[derive(Debug)]
pub struct Warm {
    dir: PathBuf,
    stds: Vec<String>,
    offers_cpp: bool,
    offers_java: bool,
}

impl Warm {
    /// The directory for `tools` under `base` (made 0755, ours and not writable by others, or
    /// refused), and the bound directory inside it. bwrap resolves a bound descriptor's path
    /// as the sandbox's user: as root (sandboxes run as `--sandbox-user`) the whole path must
    /// be walkable by that user, hence `/var/cache/kennel`. Nothing in it is private: files
    /// made from the system's own headers and classes.
    pub fn open(
        base: &Path,
        tools: &Toolchains,
        stds: &[String],
        java: bool,
    ) -> std::io::Result<Warm> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(base)?;
        private_enough(base)?;
        walkable(base)?;
        let mut h = Sha256::new();
        for lang in [Language::Cpp, Language::Java] {
            h.update(tools.compiler_identity(lang).as_bytes());
            h.update([0]);
        }
        let digest: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = base.join(format!("warm-{digest}"));
        match fs::DirBuilder::new().mode(0o755).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        private_enough(&dir)?;
        walkable(&dir)?;
        Ok(Warm {
            dir,
            stds: stds.to_vec(),
            offers_cpp: tools.offers(Language::Cpp),
            offers_java: java && tools.offers(Language::Java),
        })
    }

    /// The directory, open for bwrap to bind (`--ro-bind-fd`): a descriptor, so the path
    /// (inside a private directory the sandbox's user could not walk) never matters.
    pub fn fd(&self) -> std::io::Result<OwnedFd> {
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_flags())
            .open(&self.dir)?;
        Ok(f.into())
    }

    /// What is still to build.
    pub fn missing(&self) -> Vec<Artifact> {
        let mut v = Vec::new();
        if self.offers_cpp {
            for std in &self.stds {
                for (header, _) in HEADERS {
                    v.push(Artifact::Pch {
                        std: std.clone(),
                        header,
                    });
                }
            }
        }
        if self.offers_java {
            v.push(Artifact::JavacArchive);
        }
        v.retain(|a| !self.dir.join(a.rel()).is_file());
        v
    }

    /// Stores a built artifact: a temporary file, then a rename (a reader sees all or nothing).
    pub fn store(&self, a: &Artifact, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.dir.join(a.rel());
        let parent = path.parent().unwrap_or(&self.dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
        let tmp = parent.join(format!(".tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        // Readable by the sandbox's user whatever the umask (Kennel's is 077).
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    }

    /// An exclusive lock on the directory's building (held until dropped), if nobody else
    /// holds it: one builder per machine, whichever instance comes first.
    pub fn lock(&self) -> Option<nix::fcntl::Flock<fs::File>> {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.with_extension("lock"))
            .ok()?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).ok()
    }

    /// `-I/warm/pch/<std>` when that `-std`'s headers are built.
    pub fn pch_flag(&self, std: &str) -> Option<String> {
        let dir = self.dir.join("pch").join(std);
        HEADERS
            .iter()
            .all(|(h, _)| dir.join(format!("{h}.gch")).is_file())
            .then(|| format!("-I{MOUNT}/pch/{std}"))
    }

    /// javac's flag for its class-data-sharing archive, when it is built.
    pub fn javac_flag(&self) -> Option<String> {
        self.dir
            .join("javac.jsa")
            .is_file()
            .then(|| format!("-J-XX:SharedArchiveFile={MOUNT}/javac.jsa"))
    }
}

impl Warm {
    /// Adds to a compile's `command` the flags that use what is built: the precompiled
    /// headers of its `-std` (g++ takes them when its flags match, else reads the headers),
    /// javac's class archive.
    pub fn add_flags(&self, program: &crate::program::Program, command: &mut Vec<String>) {
        let flag = match program.language {
            Language::Cpp => self.pch_flag(crate::language::cpp_std(&program.options)),
            Language::Java => self.javac_flag(),
            _ => None,
        };
        if let Some(f) = flag {
            command.insert(1, f);
        }
    }
}

/// The warm directory for this runner: under `--warm-dir`; as root `/var/cache/kennel`;
/// otherwise `$XDG_CACHE_HOME/kennel`, `~/.cache/kennel`, `/tmp/kennel-warm-<uid>` (each only
/// if it is ours and nobody else may write it), else beside the instance's compile cache.
/// `None` (logged) when none will do.
pub fn open_default(
    opts: &crate::RunnerOptions,
    tools: &Toolchains,
    cache_dir: &Path,
) -> Option<Warm> {
    let stds = opts.pch_stds();
    if stds.is_empty() && !opts.warm_java() {
        return None;
    }
    let env_dir = |k: &str| {
        std::env::var_os(k)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let mut bases: Vec<PathBuf> = Vec::new();
    let uid = nix::unistd::geteuid().as_raw();
    if let Some(d) = &opts.warm_dir {
        bases.push(d.clone());
    } else if uid == 0 {
        bases.push(PathBuf::from("/var/cache/kennel"));
    } else {
        bases.extend(env_dir("XDG_CACHE_HOME").map(|d| d.join("kennel")));
        bases.extend(
            env_dir("HOME")
                .filter(|h| h.is_dir())
                .map(|h| h.join(".cache/kennel")),
        );
        bases.push(std::env::temp_dir().join(format!("kennel-warm-{uid}")));
        bases.extend(cache_dir.parent().map(|p| p.join("warm")));
    }
    for base in &bases {
        match Warm::open(base, tools, &stds, opts.warm_java()) {
            Ok(w) => return Some(w),
            Err(e) => log::debug!("warm toolchain directory {}: {e}", base.display()),
        }
    }
    log::warn!("no usable directory for warm toolchain files: compiles start cold");
    None
}

fn libc_flags() -> i32 {
    (nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_NOFOLLOW).bits()
}

/// Makes one of our directories 0755 (the umask of Kennel's processes is 077).
fn walkable(dir: &Path) -> std::io::Result<()> {
    if fs::symlink_metadata(dir)?.permissions().mode() & 0o777 != 0o755 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Refuses a directory that is not ours or that others may write (one planted by another user).
fn private_enough(dir: &Path) -> std::io::Result<()> {
    let m = fs::symlink_metadata(dir)?;
    let me = nix::unistd::geteuid().as_raw();
    if !m.is_dir() || m.uid() != me || m.permissions().mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not a directory of uid {me} that only it may write",
            dir.display()
        )));
    }
    Ok(())
}
