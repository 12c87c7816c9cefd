//! Request-type aliases: another word for a built-in type, with its own answer form, so a
//! client written for another server is served by configuration, not code
//! (`--type-alias i_have_a_request_please=requetetype1/addr-port`, or a `[types.NAME]` table
//! in the configuration file). `ArKc0s/OSPS`'s client asks `i_have_a_request_please` and
//! parses `ADDR PORT`: one line of configuration serves it.

use kennel_common::protocol::{printable_excerpt, RequestKind};

/// One alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub request: RequestKind,
    /// Answer `ADDR PORT` instead of a bare port.
    pub addr_port: bool,
}

/// Longest alias name (the control parser reports at most 40 characters of an unknown word).
pub const MAX_ALIAS: usize = 40;

impl Alias {
    /// Parses `NAME=TYPE` or `NAME=TYPE/addr-port` (or `/port`, the default).
    pub fn parse(spec: &str) -> Result<Alias, String> {
        let (name, rest) = spec.split_once('=').ok_or_else(|| {
            format!("--type-alias {spec:?}: expected NAME=TYPE[/port|/addr-port]")
        })?;
        let (target, form) = rest.split_once('/').unwrap_or((rest, "port"));
        let valid = !name.is_empty()
            && name.len() <= MAX_ALIAS
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(format!(
                "--type-alias: {:?} is not a type name (1 to {MAX_ALIAS} letters, digits, _ - .)",
                printable_excerpt(name.as_bytes())
            ));
        }
        if RequestKind::from_name(name.as_bytes()).is_some() {
            return Err(format!("--type-alias: {name} is already a built-in type"));
        }
        let request = RequestKind::from_name(target.as_bytes()).ok_or_else(|| {
            let known: Vec<&str> = RequestKind::ALL.iter().map(|t| t.name()).collect();
            format!(
                "--type-alias {name}: unknown type {target:?} (one of {})",
                known.join(", ")
            )
        })?;
        let addr_port = match form {
            "port" => false,
            "addr-port" => true,
            other => {
                return Err(format!(
                    "--type-alias {name}: answer {other:?} is neither port nor addr-port"
                ))
            }
        };
        Ok(Alias {
            name: name.to_string(),
            request,
            addr_port,
        })
    }

    /// The flag value that `parse` reads back.
    pub fn spec(&self) -> String {
        format!(
            "{}={}/{}",
            self.name,
            self.request.name(),
            if self.addr_port { "addr-port" } else { "port" }
        )
    }
}

impl crate::flag::ArgValue for Alias {
    fn push_args(&self, long: &'static str, out: &mut Vec<String>) {
        out.push(format!("--{long}"));
        out.push(self.spec());
    }
}

/// The alias whose name the control parser reported as an unknown word, if any.
pub fn find<'a>(aliases: &'a [Alias], word: &str) -> Option<&'a Alias> {
    aliases.iter().find(|a| a.name == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_parse_round_trip_and_refuse_nonsense() {
        let a = Alias::parse("i_have_a_request_please=requetetype1/addr-port").unwrap();
        assert_eq!((a.request, a.addr_port), (RequestKind::TIME, true));
        assert_eq!(Alias::parse(&a.spec()), Ok(a));
        assert!(!Alias::parse("hello=echo").unwrap().addr_port);
        for bad in [
            "noequals",
            "=echo",
            "x=nosuch",
            "x=echo/sideways",
            "echo=echo",
            "two words=echo",
        ] {
            assert!(Alias::parse(bad).is_err(), "{bad:?}");
        }
    }
}
