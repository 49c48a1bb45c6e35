//! Scanning a submitted file: what it is, what is inside, and what deid finds there.
//!
//! The gate does not know how to read CSV or Parquet: that is the engine's job, and the
//! engine lives in the crate above this one. The gate asks a [`Scanner`] for each file it
//! can read, and decides itself what cannot be read: archives are unpacked (with limits)
//! and every member inspected, pickles are executable content, images, PDFs and model
//! weights are unscannable and need a reviewer's acknowledgement.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::archive::{self, Limits};
use crate::kind::{self, Kind};

/// Reads files the gate owns and reports what identifiers they hold.
///
/// Implemented by the `deid` crate with its engine and readers (text, JSONL, CSV,
/// Parquet). Called from several threads at once.
pub trait Scanner: Send + Sync {
    /// Scans one file. `name` is the file's display name; its extension may choose the
    /// reader. Returns counts by entity type and notes on the first findings.
    ///
    /// # Errors
    /// A message (without values) when the file cannot be read as what it claims to be.
    fn scan(&self, path: &Path, name: &str) -> Result<Findings, String>;
}

/// What a scanner found in one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    /// Counts by entity type.
    pub counts: BTreeMap<String, u64>,
    /// The first findings, for reviewers: never the values themselves.
    pub notes: Vec<Note>,
}

/// One finding as reviewers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The entity type.
    pub entity: String,
    /// Where: `line 12`, `row 4, column ssn`, `record 17, field note`, with the member of an
    /// archive in front.
    pub location: String,
    /// The value's shape with every letter and digit masked (`Xxxx`, `###-##-####`).
    pub excerpt: String,
}

/// The most notes kept per file.
pub const MAX_NOTES: usize = 100;

/// How one submitted file came out of its scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum FileOutcome {
    /// Read entirely; findings, if any, are only of types the policy notes.
    Scanned,
    /// Holds content that cannot be scanned (an image, a PDF, weights, unknown binary, or a
    /// member that could not be read); a reviewer must acknowledge it.
    Unscannable {
        /// What it is and why.
        reasons: Vec<String>,
    },
    /// Holds executable content (a pickle): flagged whatever else it holds.
    Executable {
        /// Which part.
        reasons: Vec<String>,
    },
    /// An archive the gate refuses to unpack (unsafe member, over a limit, corrupt).
    Refused {
        /// Why.
        reason: String,
    },
}

/// The report on one submitted file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileReport {
    /// The outcome before the scan policy is applied.
    pub outcome: FileOutcome,
    /// Findings in the file and all its members.
    pub findings: Findings,
    /// Members scanned (1 for a plain file).
    pub members: u64,
}

/// Inspects one file the gate owns: detects its kind, unpacks archives into `work` (a
/// directory the caller deletes afterwards), and scans what can be scanned.
pub fn inspect(
    scanner: &dyn Scanner,
    path: &Path,
    name: &str,
    limits: &Limits,
    work: &Path,
) -> FileReport {
    let mut report = FileReport {
        outcome: FileOutcome::Scanned,
        findings: Findings::default(),
        members: 0,
    };
    let kind = match head(path) {
        Ok(head) => kind::detect(name, &head),
        Err(e) => {
            report.outcome = FileOutcome::Refused {
                reason: format!("cannot be read: {e}"),
            };
            return report;
        }
    };
    let mut unscannable = Vec::new();
    let mut executable = Vec::new();
    match kind {
        Kind::Archive(format) => match archive::unpack(path, name, format, limits, work) {
            Ok(members) => {
                for member in members {
                    report.members += 1;
                    let located = inspect_leaf(scanner, &member.path, &member.name, member.kind);
                    merge(&mut report, located, &mut unscannable, &mut executable);
                }
            }
            Err(e) => {
                report.outcome = FileOutcome::Refused {
                    reason: e.to_string(),
                };
                return report;
            }
        },
        kind => {
            report.members = 1;
            let leaf = inspect_leaf(scanner, path, name, kind);
            merge(&mut report, leaf, &mut unscannable, &mut executable);
        }
    }
    report.outcome = if !executable.is_empty() {
        FileOutcome::Executable {
            reasons: executable,
        }
    } else if !unscannable.is_empty() {
        FileOutcome::Unscannable {
            reasons: unscannable,
        }
    } else {
        FileOutcome::Scanned
    };
    report
}

/// What one leaf (a plain file or an archive member) gave.
enum Leaf {
    Findings { name: String, findings: Findings },
    Unscannable(String),
    Executable(String),
}

fn inspect_leaf(scanner: &dyn Scanner, path: &Path, name: &str, kind: Kind) -> Leaf {
    match kind {
        Kind::Pickle => Leaf::Executable(format!("{name}: Python pickle (loading it runs code)")),
        Kind::Unscannable(what) => Leaf::Unscannable(format!("{name}: {what}")),
        Kind::Archive(_) => Leaf::Unscannable(format!("{name}: archive nested too deep")),
        Kind::Scannable => match scanner.scan(path, name) {
            Ok(findings) => Leaf::Findings {
                name: name.to_owned(),
                findings,
            },
            Err(message) => Leaf::Unscannable(format!("{name}: could not be read: {message}")),
        },
    }
}

fn merge(
    report: &mut FileReport,
    leaf: Leaf,
    unscannable: &mut Vec<String>,
    executable: &mut Vec<String>,
) {
    match leaf {
        Leaf::Findings { name, findings } => {
            for (entity, count) in findings.counts {
                *report.findings.counts.entry(entity).or_default() += count;
            }
            let room = MAX_NOTES.saturating_sub(report.findings.notes.len());
            let in_member = report.members > 1 || name.contains('!');
            report
                .findings
                .notes
                .extend(findings.notes.into_iter().take(room).map(|mut note| {
                    if in_member {
                        note.location = format!("{name}: {}", note.location);
                    }
                    note
                }));
        }
        Leaf::Unscannable(reason) => unscannable.push(reason),
        Leaf::Executable(reason) => executable.push(reason),
    }
}

/// The first 8 KiB of a file, for kind detection.
fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(8192);
    File::open(path)?.take(8192).read_to_end(&mut head)?;
    Ok(head)
}

/// Masks a value's letters and digits, keeping its shape: `John O'Neil` → `Xxxx X'Xxxx`,
/// `536-90-4399` → `###-##-####`. At most 40 characters are shown.
pub fn mask(value: &str) -> String {
    let mut masked: String = value
        .chars()
        .take(40)
        .map(|c| {
            if c.is_numeric() {
                '#'
            } else if c.is_uppercase() {
                'X'
            } else if c.is_alphabetic() {
                'x'
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    if value.chars().nth(40).is_some() {
        masked.push('…');
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_shape_not_value() {
        assert_eq!(mask("536-90-4399"), "###-##-####");
        assert_eq!(mask("José O'Neil"), "Xxxx X'Xxxx");
        assert_eq!(mask("a\nb"), "x x");
        assert!(mask(&"9".repeat(50)).ends_with('…'));
    }
}
