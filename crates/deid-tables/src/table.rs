//! What every table format shares: columns, cells, samples for the classifier, and the
//! rewriter that decides each cell's new value.
//!
//! A table is read in *parts* (CSV chunks that start on record boundaries, Parquet row
//! groups) that can be visited in parallel; row numbers inside a part are relative to the
//! part, and the caller adds the rows of the parts before it, in order.

use std::fmt;

/// The kind of values a column holds, as the file declares it.
///
/// CSV columns are always [`ColumnKind::Text`]; Parquet columns carry their Arrow type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// UTF-8 strings (also dictionary-encoded and large strings).
    Text,
    /// Raw bytes.
    Binary,
    /// Calendar dates (Arrow Date32/Date64).
    Date,
    /// Timestamps.
    Timestamp,
    /// Whole numbers.
    Integer,
    /// Floating-point and decimal numbers.
    Float,
    /// Booleans.
    Boolean,
    /// Anything else (durations, intervals…): rendered as text, never rewritten in place.
    Other,
}

impl ColumnKind {
    /// Whether values of this kind can carry identifiers at all. Booleans and floats cannot
    /// (a float is never an SSN or a ZIP code: the leading zeros and the shape are gone).
    pub fn may_hold_identifiers(self) -> bool {
        !matches!(self, ColumnKind::Boolean | ColumnKind::Float)
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Text => "text",
            ColumnKind::Binary => "binary",
            ColumnKind::Date => "date",
            ColumnKind::Timestamp => "timestamp",
            ColumnKind::Integer => "integer",
            ColumnKind::Float => "float",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Other => "other",
        })
    }
}

/// One column: its name (nested Parquet fields as a dotted path, list items with `[]`,
/// e.g. `contact.phones[]`) and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The column's name as the header or schema spells it.
    pub name: String,
    /// What the file says the column holds.
    pub kind: ColumnKind,
}

/// A deterministic sample of one column's non-empty values: the classifier's input.
#[derive(Clone, Debug, Default)]
pub struct ColumnSample {
    /// Sampled values rendered as text (dates as `YYYY-MM-DD`, timestamps in RFC 3339).
    pub values: Vec<String>,
    /// Rows looked at to draw the sample.
    pub rows_seen: u64,
    /// Of those, rows whose cell was empty or null.
    pub empty: u64,
}

/// Decides what becomes of each cell when a table is rewritten.
///
/// Implementations must be deterministic: a part may be processed on any thread.
pub trait CellRewriter: Sync {
    /// Whether cells of `column` may change; other columns are copied untouched.
    fn touches(&self, column: usize) -> bool;

    /// Whether `column` is left out of the output altogether. Parquet drops top-level
    /// columns only.
    fn drops(&self, column: usize) -> bool {
        let _ = column;
        false
    }

    /// The column whose cell names the row's subject (whose dates move together); its
    /// value reaches [`CellRewriter::rewrite`] as `subject`. Parquet finds it among the
    /// top-level columns only.
    fn subject_column(&self) -> Option<usize> {
        None
    }

    /// Writes the new value of one non-empty cell to `out` (which is empty on entry) and
    /// returns `true`, or returns `false` to keep the cell as it is. `subject` is the row's
    /// cell in [`CellRewriter::subject_column`], when there is one and it is not empty.
    fn rewrite(
        &self,
        column: usize,
        value: &[u8],
        subject: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> bool;
}

/// An error reading or writing a table; it names the file and, where known, the place.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {}{message}", location.as_deref().map(|l| format!("{l}: ")).unwrap_or_default())]
pub struct TableError {
    /// The file.
    pub path: String,
    /// Where in the file: `row 12, column "dob"`, `row group 3`, `line 7`.
    pub location: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl TableError {
    /// An error about the file as a whole.
    pub fn file(path: &str, message: impl Into<String>) -> TableError {
        TableError {
            path: path.to_owned(),
            location: None,
            message: message.into(),
        }
    }

    /// An error at a place in the file.
    pub fn at(path: &str, location: impl Into<String>, message: impl Into<String>) -> TableError {
        TableError {
            path: path.to_owned(),
            location: Some(location.into()),
            message: message.into(),
        }
    }
}

/// Picks about `want` row indices out of `rows`, spread evenly and always the same for the
/// same `rows`: the classifier sees the whole file, not only its head.
pub fn sample_rows(rows: u64, want: usize) -> impl Iterator<Item = u64> {
    let want = want.max(1) as u64;
    let step = rows.div_ceil(want).max(1);
    (0..rows).step_by(step as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_rows() {
        let rows: Vec<u64> = sample_rows(10, 3).collect();
        assert_eq!(rows, [0, 4, 8]);
        assert_eq!(sample_rows(2, 100).count(), 2);
        assert_eq!(sample_rows(0, 5).count(), 0);
    }

    #[test]
    fn errors_name_file_and_place() {
        let e = TableError::at("a.csv", "row 3, column \"dob\"", "invalid UTF-8");
        assert_eq!(e.to_string(), "a.csv: row 3, column \"dob\": invalid UTF-8");
        assert_eq!(
            TableError::file("b.parquet", "not Parquet").to_string(),
            "b.parquet: not Parquet"
        );
    }
}
