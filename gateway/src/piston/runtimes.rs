//! Piston's runtimes: one per language Kennel runs whose toolchain this host has, with the
//! toolchain's real version and Piston's names and aliases (`c++` is also `cpp` and `g++`,
//! `python` also `py`, `py3`, `python3`), and the lookup `POST /api/v2/execute` does by
//! name-or-alias and version range.

use kennel_runner::Language;
use semver::Version;
use serde::Serialize;

use super::version;
use crate::toolchains::{self, Toolchain};

/// One runtime as `GET /api/v2/runtimes` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Runtime {
    pub language: &'static str,
    pub version: String,
    pub aliases: &'static [&'static str],
    pub runtime: &'static str,
    #[serde(skip)]
    pub kennel: Language,
    #[serde(skip)]
    pub semver: Version,
}

fn names(l: Language) -> (&'static str, &'static [&'static str], &'static str) {
    match l {
        Language::C => ("c", &["gcc"], "gcc"),
        Language::Cpp => ("c++", &["cpp", "g++"], "gcc"),
        Language::Java => ("java", &[], "java"),
        Language::Python => ("python", &["py", "py3", "python3"], "python"),
    }
}

/// The runtimes of this host.
pub fn all(tools: &[Toolchain]) -> Vec<Runtime> {
    Language::ALL
        .iter()
        .filter_map(|&l| {
            let v = toolchains::of(tools, l).version.as_deref()?;
            let semver = version::parse(v)?;
            let (language, aliases, runtime) = names(l);
            Some(Runtime {
                language,
                version: semver.to_string(),
                aliases,
                runtime,
                kennel: l,
                semver,
            })
        })
        .collect()
}

/// The runtime a request names: by name or alias, the newest satisfying the range.
pub fn find(tools: &[Toolchain], language: &str, range: &str) -> Result<Option<Runtime>, String> {
    let mut found: Option<Runtime> = None;
    for rt in all(tools) {
        if rt.language != language && !rt.aliases.contains(&language) {
            continue;
        }
        if version::satisfies(&rt.semver, range)?
            && found.as_ref().is_none_or(|f| rt.semver > f.semver)
        {
            found = Some(rt);
        }
    }
    Ok(found)
}
