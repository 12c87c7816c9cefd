//! A submission (what a client asks to run) and its encoding on the framed wire.

use crate::fields::{number, Field, Reader, Writer};
use crate::language::Language;

const MAGIC: &str = "KENNEL-RUN 1";

/// What a client asks to run. Limits left `None` take the server's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Submission {
    pub source: Vec<u8>,
    pub stdin: Vec<u8>,
    pub args: Vec<Vec<u8>>,
    pub expected: Option<Vec<u8>>,
    pub time_limit_ms: Option<u64>,
    pub wall_limit_ms: Option<u64>,
    pub memory_limit_kib: Option<u64>,
    /// The language, when the client states it (it must match the request type).
    pub language: Option<Language>,
}

/// Most arguments a submission may carry.
pub const MAX_ARGS: usize = 64;

impl Submission {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(MAGIC);
        if let Some(l) = self.language {
            w.scalar("language", l.name());
        }
        if let Some(v) = self.time_limit_ms {
            w.scalar("time_limit_ms", v);
        }
        if let Some(v) = self.wall_limit_ms {
            w.scalar("wall_limit_ms", v);
        }
        if let Some(v) = self.memory_limit_kib {
            w.scalar("memory_limit_kib", v);
        }
        for a in &self.args {
            w.blob("arg", a);
        }
        w.blob("source", &self.source);
        w.blob("stdin", &self.stdin);
        if let Some(e) = &self.expected {
            w.blob("expected", e);
        }
        w.finish()
    }

    /// Reads a framed submission; every problem is a message for an `ERR` line.
    pub fn decode(bytes: &[u8]) -> Result<Submission, String> {
        let mut r = Reader::new(bytes, MAGIC, &["arg", "source", "stdin", "expected"])?;
        let mut s = Submission::default();
        let mut has_source = false;
        while let Some(field) = r.next_field()? {
            match field {
                Field::Scalar("language", v) => {
                    s.language =
                        Some(Language::from_name(v).ok_or(format!("unknown language {v:?}"))?)
                }
                Field::Scalar("time_limit_ms", v) => {
                    s.time_limit_ms = Some(number("time_limit_ms", v)?)
                }
                Field::Scalar("wall_limit_ms", v) => {
                    s.wall_limit_ms = Some(number("wall_limit_ms", v)?)
                }
                Field::Scalar("memory_limit_kib", v) => {
                    s.memory_limit_kib = Some(number("memory_limit_kib", v)?)
                }
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
                    has_source = true;
                }
                Field::Blob("stdin", b) => s.stdin = b.to_vec(),
                Field::Blob("expected", b) => s.expected = Some(b.to_vec()),
                Field::Scalar(name, _) | Field::Blob(name, _) => {
                    return Err(format!(
                        "unknown field {:?}",
                        kennel_common::protocol::printable_excerpt(name.as_bytes())
                    ))
                }
            }
        }
        if !has_source {
            return Err("no source field".into());
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unknown_fields() {
        let s = Submission {
            source: b"int main(){}\xff".to_vec(),
            stdin: b"1 2\n".to_vec(),
            args: vec![b"-v".to_vec(), b"".to_vec()],
            expected: Some(b"3\n".to_vec()),
            time_limit_ms: Some(1500),
            wall_limit_ms: None,
            memory_limit_kib: Some(65536),
            language: Some(Language::C),
        };
        assert_eq!(Submission::decode(&s.encode()).unwrap(), s);
        assert!(Submission::decode(b"KENNEL-RUN 1\nfoo 1\nend\n")
            .unwrap_err()
            .contains("unknown field"));
        assert!(Submission::decode(b"KENNEL-RUN 1\nend\n")
            .unwrap_err()
            .contains("no source"));
        assert!(Submission::decode(b"KENNEL-RUN 1\ntime_limit_ms -1\nsource 0\nend\n").is_err());
        assert!(Submission::decode(b"hello").is_err());
    }
}
