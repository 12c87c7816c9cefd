//! The field format of a submission and of a result on the framed wire: binary-safe and
//! readable in a hex dump. After a first line naming the message and its version, each field
//! is either `name value\n` (a number or a word) or `name <n>\n` followed by exactly n bytes
//! (a blob: source, stdin, output); `end\n` closes the message. docs/PROTOCOL.md §6 has it
//! byte by byte.

/// Longest field name or scalar value.
const MAX_WORD: usize = 64;

/// Builds a message.
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub fn new(magic: &str) -> Writer {
        Writer {
            out: format!("{magic}\n").into_bytes(),
        }
    }

    pub fn scalar(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        self.out
            .extend_from_slice(format!("{name} {value}\n").as_bytes());
        self
    }

    pub fn blob(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.out
            .extend_from_slice(format!("{name} {}\n", data.len()).as_bytes());
        self.out.extend_from_slice(data);
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"end\n");
        self.out
    }
}

/// A field read from a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Field<'a> {
    Scalar(&'a str, &'a str),
    Blob(&'a str, &'a [u8]),
}

/// Reads a message field by field; `blobs` names the fields that carry bytes.
pub struct Reader<'a> {
    rest: &'a [u8],
    blobs: &'static [&'static str],
    done: bool,
}

impl<'a> Reader<'a> {
    /// Checks the first line against `magic`.
    pub fn new(
        bytes: &'a [u8],
        magic: &str,
        blobs: &'static [&'static str],
    ) -> Result<Reader<'a>, String> {
        Reader::open(bytes, &[magic], blobs).map(|(r, _)| r)
    }

    /// Checks the first line against each of `magics` (the versions a reader knows); returns
    /// the reader and the index of the one that matched.
    pub fn open(
        bytes: &'a [u8],
        magics: &[&str],
        blobs: &'static [&'static str],
    ) -> Result<(Reader<'a>, usize), String> {
        let mut r = Reader {
            rest: bytes,
            blobs,
            done: false,
        };
        let first = r.line()?;
        match magics.iter().position(|m| *m == first) {
            Some(i) => Ok((r, i)),
            None => Err(format!(
                "expected {} on the first line",
                magics.join(" or ")
            )),
        }
    }

    fn line(&mut self) -> Result<&'a str, String> {
        let window = &self.rest[..self.rest.len().min(2 * MAX_WORD + 2)];
        let nl = window
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("a field line that is missing, unterminated or too long")?;
        let line =
            std::str::from_utf8(&self.rest[..nl]).map_err(|_| "a field line that is not text")?;
        self.rest = &self.rest[nl + 1..];
        Ok(line)
    }

    /// The next field, `Ok(None)` after `end`.
    pub fn next_field(&mut self) -> Result<Option<Field<'a>>, String> {
        if self.done {
            return Ok(None);
        }
        let line = self.line()?;
        if line == "end" {
            self.done = true;
            if !self.rest.is_empty() {
                return Err("bytes after end".into());
            }
            return Ok(None);
        }
        let (name, value) = line
            .split_once(' ')
            .filter(|(n, v)| !n.is_empty() && n.len() <= MAX_WORD && v.len() <= MAX_WORD)
            .ok_or_else(|| format!("malformed field line {:?}", printable(line)))?;
        if !self.blobs.contains(&name) {
            return Ok(Some(Field::Scalar(name, value)));
        }
        let len: usize = value.parse().map_err(|_| {
            format!(
                "field {name}: length {:?} is not a number",
                printable(value)
            )
        })?;
        if len > self.rest.len() {
            return Err(format!(
                "field {name}: {len} bytes announced, {} left",
                self.rest.len()
            ));
        }
        let (data, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(Some(Field::Blob(name, data)))
    }
}

fn printable(s: &str) -> String {
    kennel_common::protocol::printable_excerpt(s.as_bytes())
}

/// Parses a number field, naming it in the error.
pub fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("field {name}: {:?} is not a valid number", printable(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_refuses_damage() {
        let mut w = Writer::new("T 1");
        w.scalar("a", 5).blob("b", b"x\ny\0").scalar("c", "word");
        let bytes = w.finish();
        let mut r = Reader::new(&bytes, "T 1", &["b"]).unwrap();
        assert_eq!(r.next_field().unwrap(), Some(Field::Scalar("a", "5")));
        assert_eq!(r.next_field().unwrap(), Some(Field::Blob("b", b"x\ny\0")));
        assert_eq!(r.next_field().unwrap(), Some(Field::Scalar("c", "word")));
        assert_eq!(r.next_field().unwrap(), None);
        for cut in 0..bytes.len() {
            let mut ok = true;
            match Reader::new(&bytes[..cut], "T 1", &["b"]) {
                Err(_) => ok = false,
                Ok(mut r) => loop {
                    match r.next_field() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                },
            }
            assert!(!ok, "a message cut at {cut} was read whole");
        }
        assert!(Reader::new(b"X 1\nend\n", "T 1", &[]).is_err());
    }
}
