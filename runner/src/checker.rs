//! How a program's stdout is compared with the expected output. The built-in checkers are
//! the ones graders use (`lines` is the default: most problem archives end lines and files
//! loosely); a custom checker is a program, run by `grade.rs` in a sandbox of its own. A
//! mismatch is answered with where it is: the first differing line or token, expected vs got.

use crate::side::SideProgram;

/// A checker, as a submission names it (`exact`, `lines`, `tokens`, `float:1e-6`,
/// `case-insensitive`, `custom`).
#[derive(Debug, Clone, PartialEq)]
pub enum Checker {
    /// Byte for byte.
    Exact,
    /// Line by line, trailing whitespace of each line and trailing blank lines ignored.
    Lines,
    /// Whitespace-separated tokens, any whitespace between them.
    Tokens,
    /// Tokens; numbers equal within this absolute or relative error.
    Float(f64),
    /// Lines, letters compared without case.
    CaseInsensitive,
    /// A program that decides (exit 0 accepted, 1 wrong answer, anything else its own failure).
    Custom(SideProgram),
}

/// The checkers a submission can name, for documentation and `/api/v1/languages`.
pub const NAMES: [&str; 6] = [
    "exact",
    "lines",
    "tokens",
    "float:EPS",
    "case-insensitive",
    "custom",
];

impl Checker {
    /// Reads a checker's name; `custom` takes its program.
    pub fn parse(spec: &str, program: Option<SideProgram>) -> Result<Checker, String> {
        let c = match spec {
            "exact" => Checker::Exact,
            "lines" => Checker::Lines,
            "tokens" => Checker::Tokens,
            "case-insensitive" => Checker::CaseInsensitive,
            "custom" => {
                return program.map(Checker::Custom).ok_or_else(|| {
                    "checker custom needs a checker program (language and source)".into()
                })
            }
            _ => match spec.strip_prefix("float:") {
                Some(eps) => {
                    let e: f64 = eps.parse().map_err(|_| {
                        format!("checker {spec:?}: {eps:?} is not a number (e.g. float:1e-6)")
                    })?;
                    if !(e > 0.0 && e <= 1.0) {
                        return Err(format!(
                            "checker {spec:?}: the error must be above 0 and at most 1"
                        ));
                    }
                    Checker::Float(e)
                }
                None => {
                    return Err(format!(
                        "unknown checker {:?}: one of {}",
                        kennel_common::protocol::printable_excerpt(spec.as_bytes()),
                        NAMES.join(", ")
                    ))
                }
            },
        };
        if program.is_some() {
            return Err(format!(
                "checker {spec}: a checker program is only for custom"
            ));
        }
        Ok(c)
    }

    /// The name a submission gives it.
    pub fn spec(&self) -> String {
        match self {
            Checker::Exact => "exact".into(),
            Checker::Lines => "lines".into(),
            Checker::Tokens => "tokens".into(),
            Checker::Float(e) => format!("float:{e:e}"),
            Checker::CaseInsensitive => "case-insensitive".into(),
            Checker::Custom(_) => "custom".into(),
        }
    }

    /// `None` if `got` passes against `want`, else where they differ. A custom checker is
    /// not decided here (`grade.rs` runs it): it compares nothing.
    pub fn compare(&self, got: &[u8], want: &[u8]) -> Option<String> {
        match self {
            Checker::Exact => exact(got, want),
            Checker::Lines => lines(got, want, false),
            Checker::CaseInsensitive => lines(got, want, true),
            Checker::Tokens => tokens(got, want, None),
            Checker::Float(e) => tokens(got, want, Some(*e)),
            Checker::Custom(_) => None,
        }
    }
}

/// At most 60 characters of `b`, quoted, for a message.
fn quote(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

fn exact(got: &[u8], want: &[u8]) -> Option<String> {
    if got == want {
        return None;
    }
    let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
    let line = want[..at].iter().filter(|c| **c == b'\n').count() + 1;
    let line_of = |b: &[u8]| {
        let start = b[..at.min(b.len())]
            .iter()
            .rposition(|c| *c == b'\n')
            .map_or(0, |p| p + 1);
        let end = b[start..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |p| start + p + 1);
        b[start..end].to_vec()
    };
    Some(format!(
        "byte {} (line {line}): expected {}, got {}",
        at + 1,
        quote(&line_of(want)),
        quote(&line_of(got))
    ))
}

/// Lines with their trailing whitespace dropped, trailing blank lines dropped.
pub fn normalise(b: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = b
        .split(|c| *c == b'\n')
        .map(|l| {
            let end = l
                .iter()
                .rposition(|c| !c.is_ascii_whitespace())
                .map_or(0, |p| p + 1);
            &l[..end]
        })
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn lines(got: &[u8], want: &[u8], fold_case: bool) -> Option<String> {
    let (g, w) = (normalise(got), normalise(want));
    let same = |a: &[u8], b: &[u8]| {
        if fold_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    for i in 0..g.len().max(w.len()) {
        match (g.get(i), w.get(i)) {
            (Some(a), Some(b)) if same(a, b) => {}
            (Some(a), Some(b)) => {
                return Some(format!(
                    "line {}: expected {}, got {}",
                    i + 1,
                    quote(b),
                    quote(a)
                ))
            }
            (None, Some(b)) => {
                return Some(format!(
                    "line {}: expected {}, got the end of the output",
                    i + 1,
                    quote(b)
                ))
            }
            (Some(a), None) => {
                return Some(format!(
                    "line {}: expected the end of the output, got {}",
                    i + 1,
                    quote(a)
                ))
            }
            (None, None) => {}
        }
    }
    None
}

fn tokens(got: &[u8], want: &[u8], eps: Option<f64>) -> Option<String> {
    let split = |b: &'_ [u8]| -> Vec<Vec<u8>> {
        b.split(|c| c.is_ascii_whitespace())
            .filter(|t| !t.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let (g, w) = (split(got), split(want));
    let close = |a: &[u8], b: &[u8]| match (eps, number(a), number(b)) {
        (Some(e), Some(x), Some(y)) => (x - y).abs() <= e || (x - y).abs() <= e * y.abs(),
        _ => a == b,
    };
    for i in 0..g.len().max(w.len()) {
        let (a, b) = (g.get(i), w.get(i));
        if let (Some(a), Some(b)) = (a, b) {
            if close(a, b) {
                continue;
            }
        }
        let show = |t: Option<&Vec<u8>>| t.map_or("the end of the output".into(), |t| quote(t));
        return Some(format!(
            "token {}: expected {}, got {}",
            i + 1,
            show(b),
            show(a)
        ));
    }
    None
}

/// A finite number written as text.
fn number(t: &[u8]) -> Option<f64> {
    std::str::from_utf8(t)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_built_in_checker_compares_as_graders_do() {
        let c = |s: &str| Checker::parse(s, None).unwrap();
        assert_eq!(c("lines").compare(b"7  \n\n", b"7\n"), None);
        let d = c("lines").compare(b"1\n5\n", b"1\n4\n").unwrap();
        assert_eq!(d, "line 2: expected \"4\", got \"5\"");
        let d = c("lines").compare(b"1\n", b"1\n2\n").unwrap();
        assert!(d.contains("got the end of the output"), "{d}");
        assert!(c("exact").compare(b"7\n", b"7").is_some());
        assert!(c("exact")
            .compare(b"ab\ncd\n", b"ab\nce\n")
            .unwrap()
            .starts_with("byte 5 (line 2)"));
        assert_eq!(c("tokens").compare(b"1   2\n3", b"1 2 3\n"), None);
        assert!(c("tokens").compare(b"1 2", b"1 2 3").is_some());
        assert_eq!(
            c("float:1e-6").compare(b"3.1415927 1e9", b"3.14159265 1000000000.5"),
            None
        );
        let d = c("float:1e-6").compare(b"3.15", b"3.14").unwrap();
        assert_eq!(d, "token 1: expected \"3.14\", got \"3.15\"");
        assert_eq!(c("case-insensitive").compare(b"YES\n", b"yes\n"), None);
        assert!(c("lines").compare(b"YES\n", b"yes\n").is_some());
        for bad in ["nope", "float:", "float:x", "float:0", "float:2", "custom"] {
            assert!(Checker::parse(bad, None).is_err(), "{bad}");
        }
        assert_eq!(c("float:1e-6").spec(), "float:1e-6");
    }
}
