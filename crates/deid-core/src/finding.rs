//! Findings: where an identifier was found, of which type, by which rule.

use std::fmt;

use crate::entity::EntityType;

/// One identifier found in a text.
///
/// A finding holds offsets, never the bytes it covers: the value is read back from the
/// scanned text only when asked for (and then through [`Masked`] in any `Debug` output).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finding {
    /// UTF-8 byte offset of the first byte.
    pub start: usize,
    /// UTF-8 byte offset one past the last byte.
    pub end: usize,
    /// The entity type.
    pub entity: EntityType,
    /// The index of the rule in the matcher's rule set ([`crate::Matcher::rule`]).
    pub rule: usize,
    /// Confidence in `[0, 1]` after context.
    pub confidence: f32,
}

impl Finding {
    /// The byte range of the finding.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// The bytes of the finding in the text it was found in.
    pub fn value<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        &text[self.start..self.end]
    }
}

/// A sensitive value that prints masked in `Debug` and `Display`: only its length shows.
///
/// Wrap every value-bearing field in this so that logs, panics and error messages never
/// carry an identifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Masked<T>(pub T);

impl<T: AsRef<[u8]>> fmt::Debug for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<masked {} bytes>", self.0.as_ref().len())
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_never_prints_the_value() {
        let value = Masked("123-45-6789");
        assert_eq!(format!("{value:?}"), "<masked 11 bytes>");
        assert!(!format!("{value}").contains("6789"));
    }
}
