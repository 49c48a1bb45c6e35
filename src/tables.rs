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

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::RwLock;

use deid_core::{EntityType, Finding, Scratch};
use deid_tables::CellRewriter;
use deid_tables::classify::Label;
use deid_transform::counters::Counters;
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

/// Scans the free-text cells of a table, remembering the findings of each distinct cell
/// text: a scan's findings depend on the text alone, and table columns repeat their
/// values (templated comments, default phrases), so a repeat costs a hash lookup instead
/// of a scan. `Sync`: worker threads share one memo, so a text is scanned once whichever
/// thread meets it first (a memo per thread scanned each text once per thread, and two
/// threads gained nothing over one on the bench table).
///
/// Memory stays bounded: cells longer than [`MEMO_CELL_BYTES`] are scanned every time,
/// and a memo shard that outgrows its share of [`MEMO_BYTES`] of cell text and findings
/// starts over.
pub struct CellScanner<'e> {
    engine: &'e Engine,
    memo: [MemoShard; MEMO_SHARDS],
}

/// The memo is cut into shards by cell, each behind a lock of its own on a cache line of
/// its own. PERF: with one lock, the threads of a two-thread scan of the 1 GiB bench CSV
/// took turns owning its cache line on every cell: `Cells::scan` rose from 5.6 % of the
/// samples on one thread to 10.7 % on two.
const MEMO_SHARDS: usize = 16;

#[derive(Default)]
#[repr(align(128))]
struct MemoShard(RwLock<Memo>);

/// The shard of `cell`: from its length and its first and last bytes, which is cheap and
/// spreads a table's distinct texts (a skewed spread costs concurrency, nothing else).
fn memo_shard(cell: &[u8]) -> usize {
    let word = |bytes: &[u8]| {
        let mut word = [0; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(word)
    };
    let head = word(&cell[..cell.len().min(8)]);
    let tail = word(&cell[cell.len().saturating_sub(8)..]);
    let mixed =
        (head.rotate_left(29) ^ tail ^ cell.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 60) as usize % MEMO_SHARDS
}

/// The longest cell the memo keeps.
pub const MEMO_CELL_BYTES: usize = 16 << 10;

/// The cell text and findings the memo holds before it starts over.
pub const MEMO_BYTES: usize = 16 << 20;

/// Findings by cell text. Cell text comes from the data, so the hash is keyed (aHash, with
/// keys drawn from the OS at random): crafted cells cannot be made to collide and flood
/// the table. std's SipHash, keyed as well, took ~8 % of a one-thread scan of the 1 GiB
/// bench CSV; with aHash the scan ran 5-9 % faster.
#[derive(Default)]
struct Memo {
    findings: HashMap<Box<[u8]>, Box<[Finding]>, ahash::RandomState>,
    bytes: usize,
}

impl<'e> CellScanner<'e> {
    /// A scanner with an empty memo.
    pub fn new(engine: &'e Engine) -> CellScanner<'e> {
        CellScanner {
            engine,
            memo: Default::default(),
        }
    }

    /// Runs `f` with scratch space of its own (from the engine's pool).
    pub fn with<T>(&self, f: impl FnOnce(&mut Cells<'_>) -> T) -> T {
        self.engine.with_scratch(|scratch| {
            f(&mut Cells {
                engine: self.engine,
                scratch,
                memo: &self.memo,
                found: Vec::new(),
            })
        })
    }
}

/// One thread's view of a [`CellScanner`]: see [`Cells::scan`].
pub struct Cells<'a> {
    engine: &'a Engine,
    scratch: &'a mut Scratch,
    memo: &'a [MemoShard; MEMO_SHARDS],
    found: Vec<Finding>,
}

impl Cells<'_> {
    /// Calls `f` with the findings in `cell` (sorted by start, never overlapping), exactly
    /// what [`Engine::scan_bytes`] returns for it. A poisoned memo is passed by: every
    /// cell is then scanned.
    pub fn scan<T>(&mut self, cell: &[u8], f: impl FnOnce(&[Finding]) -> T) -> T {
        // A cell the memo never keeps is neither hashed nor locked for.
        let shard = Memo::keeps(cell).then(|| &self.memo[memo_shard(cell)].0);
        if let Some(shard) = shard
            && let Ok(memo) = shard.read()
            && let Some(findings) = memo.findings.get(cell)
        {
            return f(findings);
        }
        self.engine
            .scan_bytes_into(cell, self.scratch, &mut self.found);
        if let Some(shard) = shard
            && let Ok(mut memo) = shard.write()
        {
            memo.remember(cell, &self.found, MEMO_BYTES / MEMO_SHARDS);
        }
        f(&self.found)
    }
}

impl Memo {
    /// Whether the memo keeps cells like this one (not longer than [`MEMO_CELL_BYTES`]).
    fn keeps(cell: &[u8]) -> bool {
        cell.len() <= MEMO_CELL_BYTES
    }

    /// Keeps the findings of `cell` unless it is too long, starting over first when the
    /// memo would hold more than `budget` bytes of cell text and findings.
    fn remember(&mut self, cell: &[u8], findings: &[Finding], budget: usize) {
        if !Memo::keeps(cell) {
            return;
        }
        let bytes = cell.len() + std::mem::size_of_val(findings);
        if self.bytes + bytes > budget {
            self.findings.clear();
            self.bytes = 0;
        }
        // Two threads may scan the same new cell at once: count it once.
        if self.findings.insert(cell.into(), findings.into()).is_none() {
            self.bytes += bytes;
        }
    }
}

/// Rewrites a table's cells as a policy says, counting the cells it changes per column.
/// `Sync`: the table writers call it from every worker thread.
pub struct PolicyRewriter<'a> {
    cells: CellScanner<'a>,
    redactor: &'a Redactor,
    plans: Vec<ColumnPlan>,
    /// The column naming each row's subject (the policy's `shift.subject`).
    subject: Option<usize>,
    /// The subject of rows without one: the file.
    file: &'a [u8],
    changed: Counters,
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
            cells: CellScanner::new(engine),
            redactor,
            plans,
            subject,
            file: file.as_bytes(),
            changed: Counters::new(columns.len()),
        }
    }

    /// The plan of column `index` (columns past the planned ones are kept).
    pub fn plan(&self, index: usize) -> ColumnPlan {
        self.plans.get(index).copied().unwrap_or(ColumnPlan::Keep)
    }

    /// Cells of column `index` changed so far.
    pub fn changed(&self, index: usize) -> u64 {
        self.changed.get(index)
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
            ColumnPlan::Scan => self.cells.with(|cells| {
                cells.scan(value, |findings| {
                    if !findings.is_empty() {
                        let transform = self.redactor.for_subject(subject);
                        deid_transform::apply_into(value, findings, &transform, out);
                    }
                    !findings.is_empty()
                })
            }),
            ColumnPlan::Keep | ColumnPlan::Drop => false,
        };
        if changed {
            self.changed.add(column, 1);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_get_the_findings_a_scan_gives_repeated_or_not() {
        let engine = Engine::new().unwrap();
        let note = "Seen by Dr. Maria Lopez; call 312-555-0142.";
        let long = format!("{} SSN 536-90-4399", "stable. ".repeat(MEMO_CELL_BYTES / 8));
        let cells = [
            note,
            "No change.",
            note,
            "",
            long.as_str(),
            long.as_str(),
            note,
        ];
        let scanner = CellScanner::new(&engine);
        for cell in cells {
            let expected = engine.scan_bytes(cell.as_bytes());
            let found = scanner.with(|cells| cells.scan(cell.as_bytes(), <[Finding]>::to_vec));
            assert_eq!(found, expected, "{cell:.40}");
        }
        assert!(!engine.scan_bytes(note.as_bytes()).is_empty());
        assert!(!engine.scan_bytes(long.as_bytes()).is_empty());
    }

    #[test]
    fn memo_shards_spread_texts_that_share_their_ends() {
        // Templated notes: the same start and end, lengths a few apart.
        let mut used = [0; MEMO_SHARDS];
        for i in 0..40 {
            let note = format!("Seen today.{}Plan unchanged.", " stable".repeat(i));
            used[memo_shard(note.as_bytes())] += 1;
        }
        assert!(
            used.iter().filter(|&&n| n > 0).count() >= MEMO_SHARDS / 2,
            "{used:?}"
        );
        assert!(used.iter().all(|&n| n <= 10), "{used:?}");
        assert_eq!(memo_shard(b""), memo_shard(b""));
    }

    #[test]
    fn a_memo_keeps_short_cells_and_starts_over_when_full() {
        let finding = Finding {
            start: 0,
            end: 2,
            entity: EntityType::Name,
            rule: 0,
            confidence: 0.9,
        };
        let budget = 10 + size_of::<Finding>();
        let mut memo = Memo::default();
        memo.remember(b"abcdef", &[finding], budget);
        memo.remember(b"gh", &[], budget);
        memo.remember(b"gh", &[], budget);
        assert_eq!(
            memo.bytes,
            8 + size_of::<Finding>(),
            "findings count, repeats do not"
        );
        assert_eq!(memo.findings.get(&b"abcdef"[..]).map(|f| f.len()), Some(1));
        memo.remember(b"ijk", &[], budget);
        assert_eq!(memo.bytes, 3, "over budget: the memo starts over");
        assert!(!memo.findings.contains_key(&b"abcdef"[..]));
        assert!(memo.findings.contains_key(&b"ijk"[..]));
        memo.remember(&vec![b'x'; MEMO_CELL_BYTES + 1], &[], usize::MAX);
        assert_eq!(memo.findings.len(), 1, "a cell over the limit is not kept");
    }
}
