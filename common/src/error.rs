//! One error type for the library, whose messages name the object concerned, so that every
//! binary can print `kennel-…: <message>` and a user knows what to fix.

use std::fmt;
use std::io;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug)]
pub enum Error {
    /// A system call failed; `what` says on which object.
    Io { what: String, source: io::Error },
    /// An object exists but is not ours (wrong owner, type, permissions): refused, untouched.
    Foreign(String),
    /// An object of ours holds values that break its invariants.
    Corrupt(String),
    /// Another live process already owns the instance.
    InUse(String),
    /// A wait ran out of time.
    Timeout(String),
    /// A setting or argument is invalid.
    Invalid(String),
}

impl Error {
    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub fn nix(what: impl Into<String>, errno: nix::errno::Errno) -> Error {
        Error::io(what, io::Error::from(errno))
    }

    /// A failed system call, for closures that say which object around it.
    pub fn from_errno(errno: nix::errno::Errno) -> Error {
        Error::io("system call", io::Error::from(errno))
    }

    /// True when the error is "no such file or object".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Foreign(m) => write!(f, "refused: {m}"),
            Error::Corrupt(m) => write!(f, "corrupt: {m}"),
            Error::InUse(m) => write!(f, "in use: {m}"),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
            Error::Invalid(m) => write!(f, "invalid: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
