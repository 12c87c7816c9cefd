//! Piston's version matching: a runtime answers a request whose `version` is an npm-style
//! range its version satisfies (`*`, `3.11.2`, `3.x`, `^17`, `>=10 <13`, `1 || 2`). The
//! comparison itself is the `semver` crate's; this module only translates npm's syntax,
//! where a bare version is exact (`3.10.0` is not 3.11.2) and a partial one a wildcard.

use semver::{Version, VersionReq};

/// A toolchain's version as semver (`17` → `17.0.0`; anything after the numbers dropped).
pub fn parse(v: &str) -> Option<Version> {
    let nums: Vec<u64> = v
        .split(['.', '-', '+', '_'])
        .map_while(|p| p.parse().ok())
        .take(3)
        .collect();
    match nums[..] {
        [] => None,
        [a] => Some(Version::new(a, 0, 0)),
        [a, b] => Some(Version::new(a, b, 0)),
        [a, b, c, ..] => Some(Version::new(a, b, c)),
    }
}

/// Whether `version` satisfies the npm range `range`; `Err` when it is not a range.
pub fn satisfies(version: &Version, range: &str) -> Result<bool, String> {
    let mut any = false;
    for alt in range.split("||") {
        let req = VersionReq::parse(&translate(alt.trim())?).map_err(|e| e.to_string())?;
        any |= req.matches(version);
    }
    Ok(any)
}

/// One alternative (comparators separated by spaces) in Cargo's syntax.
fn translate(alt: &str) -> Result<String, String> {
    let words: Vec<&str> = alt.split_whitespace().collect();
    if let [low, "-", high] = words[..] {
        return Ok(format!(">={}, <={}", bare(low)?, bare(high)?));
    }
    if words.is_empty() {
        return Ok("*".into());
    }
    let mut out = Vec::new();
    for w in words {
        let op_len = w.len() - w.trim_start_matches(['<', '>', '=', '^', '~']).len();
        let (op, v) = w.split_at(op_len);
        let v = bare(v)?;
        out.push(match (op, v.as_str()) {
            (_, "*") => "*".to_string(),
            // npm: a bare version is exact, a partial one a wildcard; Cargo's `=` is both.
            ("", v) | ("=", v) => format!("={v}"),
            (op, v) => format!("{op}{v}"),
        });
    }
    Ok(out.join(", "))
}

/// A version without npm's leading `v` and trailing wildcards (`v3.x` → `3`).
fn bare(v: &str) -> Result<String, String> {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let parts: Vec<&str> = v
        .split('.')
        .take_while(|p| !matches!(*p, "x" | "X" | "*"))
        .collect();
    if parts.is_empty() {
        return Ok("*".into());
    }
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{v:?} is not a version"));
    }
    Ok(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_ranges_as_piston_resolves_them() {
        let v = parse("3.11.2").unwrap();
        for yes in [
            "*",
            "3.11.2",
            "3.x",
            "3.11",
            "3.11.x",
            "^3.10",
            "~3.11.0",
            ">=3 <4",
            "2 || 3",
            "",
            "x",
            "v3.11.2",
            "3.0.0 - 3.12",
        ] {
            assert!(satisfies(&v, yes).unwrap(), "{yes}");
        }
        for no in ["3.10.0", "3.10", "2.x", "^3.12", "<3.11.2", "4"] {
            assert!(!satisfies(&v, no).unwrap(), "{no}");
        }
        assert!(satisfies(&v, "latest").is_err());
        assert_eq!(parse("17").unwrap(), Version::new(17, 0, 0));
        assert_eq!(parse("12.2.0-14").unwrap(), Version::new(12, 2, 0));
        assert!(parse("abc").is_none());
    }
}
