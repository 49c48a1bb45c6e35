//! Tables under a policy: what happens to each column, as a [`CellRewriter`] that the CSV
//! and Parquet writers of [`deid_tables`] (and [`deid_tables::parquet::rewrite_array`] for
//! Arrow arrays) drive.
//!
//! A column's fate comes from the policy's `[columns]` entry when it names the column, else
//! from the column's label (an entity type, `FREE_TEXT`, or none) and the policy's action
//! for that type.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, StringArray};
//! use deid::tables::PolicyRewriter;
//! use deid_tables::classify::Label;
//!
//! let engine = deid::Engine::new()?;
//! let redactor = deid::Redactor::new(deid::Policy::safe_harbor().keyless(), None, None)?;
//! let columns = ["zip".to_owned()];
//! let labels = [Label::Entity(deid::EntityType::Zip)];
//! let rewriter = PolicyRewriter::new(&engine, &redactor, "visits.csv", &columns, &labels);
//! let zips: ArrayRef = Arc::new(StringArray::from(vec!["02139", "03601"]));
//! let out = deid_tables::parquet::rewrite_array(&zips, 0, &rewriter)?;
//! let out = out.as_any().downcast_ref::<StringArray>().unwrap();
//! assert_eq!((out.value(0), out.value(1)), ("021", "000"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use deid_core::EntityType;
use deid_tables::CellRewriter;
use deid_tables::classify::Label;
use deid_transform::{Action, Policy, Redactor};

use crate::Engine;

/// A table's name as policies and classes files key it: the file name without its
/// extension (`patients` for `data/patients.csv`).
pub fn file_stem(file: &str) -> String {
    Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What a policy does to one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnPlan {
    /// Copied as it is.
    Keep,
    /// Every cell replaced by `action`, as a value of `entity`.
    Whole {
        /// The type the cells are treated as.
        entity: EntityType,
        /// What replaces each cell.
        action: Action,
    },
    /// Every cell scanned; findings replaced as the policy says for their types.
    Scan,
    /// Left out of the output.
    Drop,
}

impl ColumnPlan {
    /// A column's plan: the policy's column action if it names the column (by
    /// `FILE_STEM.COLUMN` or `COLUMN`, see [`file_stem`]), else the action for the
    /// column's label.
    pub fn new(policy: &Policy, file_stem: &str, column: &str, label: Label) -> ColumnPlan {
        match policy.column_action(file_stem, column) {
            Some(Action::Keep) => ColumnPlan::Keep,
            Some(Action::Drop) => ColumnPlan::Drop,
            Some(action) => ColumnPlan::Whole {
                // A column the classifier could not type is an identifier of its own kind.
                entity: match label {
                    Label::Entity(entity) => entity,
                    _ => EntityType::OtherId,
                },
                action,
            },
            None => match label {
                Label::Entity(entity) => match policy.action(entity) {
                    Action::Keep => ColumnPlan::Keep,
                    action => ColumnPlan::Whole { entity, action },
                },
                Label::FreeText => ColumnPlan::Scan,
                Label::None => ColumnPlan::Keep,
            },
        }
    }
}

impl fmt::Display for ColumnPlan {
    /// The action's name, `scan` for free text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnPlan::Keep => f.write_str("keep"),
            ColumnPlan::Whole { action, .. } => f.write_str(action.as_str()),
            ColumnPlan::Scan => f.write_str("scan"),
            ColumnPlan::Drop => f.write_str("drop"),
        }
    }
}

/// Rewrites a table's cells as a policy says, counting the cells it changes per column.
/// `Sync`: the table writers call it from every worker thread.
pub struct PolicyRewriter<'a> {
    engine: &'a Engine,
    redactor: &'a Redactor,
    plans: Vec<ColumnPlan>,
    /// The column naming each row's subject (the policy's `shift.subject`).
    subject: Option<usize>,
    /// The subject of rows without one: the file.
    file: &'a [u8],
    changed: Vec<AtomicU64>,
}

impl<'a> PolicyRewriter<'a> {
    /// Plans every column of a table named `file` with these column names and labels.
    pub fn new(
        engine: &'a Engine,
        redactor: &'a Redactor,
        file: &'a str,
        columns: &[String],
        labels: &[Label],
    ) -> PolicyRewriter<'a> {
        let policy = redactor.policy();
        let stem = file_stem(file);
        let plans = columns
            .iter()
            .zip(labels)
            .map(|(column, label)| ColumnPlan::new(policy, &stem, column, *label))
            .collect();
        let subject = policy
            .shift()
            .subject
            .as_deref()
            .and_then(|subject| columns.iter().position(|c| c.eq_ignore_ascii_case(subject)));
        PolicyRewriter {
            engine,
            redactor,
            plans,
            subject,
            file: file.as_bytes(),
            changed: columns.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The plan of column `index` (columns past the planned ones are kept).
    pub fn plan(&self, index: usize) -> ColumnPlan {
        self.plans.get(index).copied().unwrap_or(ColumnPlan::Keep)
    }

    /// Cells of column `index` changed so far.
    pub fn changed(&self, index: usize) -> u64 {
        self.changed
            .get(index)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }
}

impl CellRewriter for PolicyRewriter<'_> {
    fn touches(&self, column: usize) -> bool {
        matches!(
            self.plan(column),
            ColumnPlan::Whole { .. } | ColumnPlan::Scan
        )
    }

    fn drops(&self, column: usize) -> bool {
        self.plan(column) == ColumnPlan::Drop
    }

    fn subject_column(&self) -> Option<usize> {
        self.subject
    }

    fn rewrite(
        &self,
        column: usize,
        value: &[u8],
        subject: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> bool {
        let subject = subject.unwrap_or(self.file);
        let changed = match self.plan(column) {
            ColumnPlan::Whole { entity, action } => {
                self.redactor
                    .replace_into(entity, action, value, subject, out);
                out.as_slice() != value
            }
            ColumnPlan::Scan => {
                let findings = self.engine.scan_bytes(value);
                if !findings.is_empty() {
                    let transform = self.redactor.for_subject(subject);
                    deid_transform::apply_into(value, &findings, &transform, out);
                }
                !findings.is_empty()
            }
            ColumnPlan::Keep | ColumnPlan::Drop => false,
        };
        if changed {
            self.changed[column].fetch_add(1, Ordering::Relaxed);
        }
        changed
    }
}
