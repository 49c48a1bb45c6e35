//! Errors from loading and compiling rule packs.

use std::fmt;

/// Why a rule pack could not be loaded or compiled.
///
/// The error says where: which pack ([`Error::pack`]) and, when one rule is at fault,
/// which rule ([`Error::rule`]). It never carries scanned data.
#[derive(Clone, Debug)]
pub struct Error {
    pack: String,
    rule: Option<String>,
    kind: ErrorKind,
}

/// The kind of a rule pack [`Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Io(String),
    /// The TOML is malformed or has a key the format does not know.
    Parse(String),
    /// A value is out of range, missing or contradicts another.
    Invalid(String),
    /// A pattern does not compile.
    Pattern(String),
    /// An example or negative example failed (`deid rules check`).
    Example(String),
}

impl Error {
    pub(crate) fn new(pack: impl Into<String>, rule: Option<&str>, kind: ErrorKind) -> Error {
        Error {
            pack: pack.into(),
            rule: rule.map(str::to_owned),
            kind,
        }
    }

    /// The pack the error is in: its file path, or `bundled:<name>`.
    pub fn pack(&self) -> &str {
        &self.pack
    }

    /// The id of the rule at fault, when there is one.
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pack)?;
        if let Some(rule) = &self.rule {
            write!(f, ": rule `{rule}`")?;
        }
        match &self.kind {
            ErrorKind::Io(m) => write!(f, ": cannot read: {m}"),
            ErrorKind::Parse(m) => write!(f, ": {m}"),
            ErrorKind::Invalid(m) => write!(f, ": {m}"),
            ErrorKind::Pattern(m) => write!(f, ": pattern does not compile: {m}"),
            ErrorKind::Example(m) => write!(f, ": {m}"),
        }
    }
}

impl std::error::Error for Error {}
