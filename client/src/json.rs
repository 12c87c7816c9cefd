//! A minimal JSON object writer: kennelctl's output is a handful of flat fields, which does not
//! justify a serialisation framework as a dependency.

use std::fmt::Write as _;

/// Quotes and escapes `s` as a JSON string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON object built field by field.
#[derive(Default)]
pub struct Obj {
    fields: Vec<String>,
}

impl Obj {
    pub fn new() -> Obj {
        Obj::default()
    }

    pub fn raw(&mut self, key: &str, json: &str) {
        self.fields.push(format!("{}:{json}", quote(key)));
    }

    pub fn str(&mut self, key: &str, value: &str) {
        self.raw(key, &quote(value));
    }

    pub fn num(&mut self, key: &str, value: u64) {
        self.raw(key, &value.to_string());
    }

    pub fn bool(&mut self, key: &str, value: bool) {
        self.raw(key, if value { "true" } else { "false" });
    }

    pub fn opt_num(&mut self, key: &str, value: Option<u64>) {
        match value {
            Some(v) => self.num(key, v),
            None => self.raw(key, "null"),
        }
    }

    pub fn opt_str(&mut self, key: &str, value: Option<String>) {
        match value {
            Some(v) => self.str(key, &v),
            None => self.raw(key, "null"),
        }
    }

    pub fn finish(self) -> String {
        format!("{{{}}}", self.fields.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nesting() {
        assert_eq!(quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        let mut o = Obj::new();
        o.num("n", 3);
        o.opt_num("m", None);
        o.bool("b", true);
        o.raw("l", "[1,2]");
        assert_eq!(o.finish(), r#"{"n":3,"m":null,"b":true,"l":[1,2]}"#);
    }
}
