//! deid's transforms: turning findings into replacement text.
//!
//! A [`Transform`] decides what replaces one finding; [`apply_into`] splices the
//! replacements into the text. The matcher knows nothing of this crate: policies (which
//! transform for which entity type) plug in here without touching detection.
//!
//! A [`Policy`] maps entity types and table columns to an [`Action`]; a [`Redactor`] binds
//! it to a [`Key`] and applies it (its [`Redactor::for_subject`] is a [`Transform`]). The
//! actions live in their own modules: [`mask`], [`pseudonym`] (`hash`), [`fpe`]
//! (`encrypt`), [`dates`] (`shift`, and dates under `generalize`), [`generalize`] (ZIP and
//! age), [`surrogate`], [`token`].
//!
//! ```
//! use deid_core::{EntityType, Finding};
//! use deid_transform::{Tag, apply_into};
//!
//! let text = b"Call Ann at 312-555-0142.";
//! let findings = [
//!     Finding { start: 5, end: 8, entity: EntityType::Name, rule: 0, confidence: 0.9 },
//!     Finding { start: 12, end: 24, entity: EntityType::Phone, rule: 1, confidence: 0.9 },
//! ];
//! let mut out = Vec::new();
//! apply_into(text, &findings, &Tag, &mut out);
//! assert_eq!(out, b"Call [NAME] at [PHONE].");
//! ```

use deid_core::Finding;

pub mod counters;
pub mod dates;
mod ff1;
pub mod fpe;
pub mod generalize;
pub mod key;
pub mod mask;
pub mod policy;
pub mod pseudonym;
mod redactor;
pub mod surrogate;
pub mod token;

pub use key::{Key, Purpose};
pub use policy::{Action, Policy, PolicyError, ShiftSettings};
pub use redactor::{Redactor, RedactorError, SubjectTransform, Tally, TallyEntry};

/// What replaces a finding.
pub trait Transform: Send + Sync {
    /// Appends the replacement for `finding`, whose original bytes are `value`, to `out`.
    fn replace_into(&self, finding: &Finding, value: &[u8], out: &mut Vec<u8>);
}

/// Replaces every finding with its type in brackets: `[NAME]`, `[SSN]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tag;

impl Transform for Tag {
    fn replace_into(&self, finding: &Finding, _value: &[u8], out: &mut Vec<u8>) {
        out.push(b'[');
        out.extend_from_slice(finding.entity.as_str().as_bytes());
        out.push(b']');
    }
}

/// Appends `text` to `out` with every finding replaced by `transform`.
///
/// `findings` must be sorted by start and must not overlap, as the matcher reports them;
/// a finding that overlaps the previous one is skipped rather than splicing garbage.
pub fn apply_into(text: &[u8], findings: &[Finding], transform: &dyn Transform, out: &mut Vec<u8>) {
    let mut at = 0;
    for finding in findings {
        if finding.start < at || finding.end > text.len() {
            continue;
        }
        out.extend_from_slice(&text[at..finding.start]);
        transform.replace_into(finding, &text[finding.start..finding.end], out);
        at = finding.end;
    }
    out.extend_from_slice(&text[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use deid_core::EntityType;

    #[test]
    fn overlapping_and_out_of_range_findings_are_skipped() {
        let f = |start, end| Finding {
            start,
            end,
            entity: EntityType::Date,
            rule: 0,
            confidence: 1.0,
        };
        let mut out = Vec::new();
        apply_into(b"0123456789", &[f(1, 3), f(2, 4), f(8, 12)], &Tag, &mut out);
        assert_eq!(out, b"0[DATE]3456789");
    }
}
