//! deid's tables: CSV and Parquet read in parallel parts, rewritten with their shape kept,
//! and a classifier that tells which columns hold identifiers.
//!
//! - [`table`]: what the formats share — columns, samples, the [`CellRewriter`].
//! - [`csv`]: memory-speed RFC 4180 reading in chunks that start on record boundaries.
//! - [`parquet`]: Parquet through arrow-rs, one part per row group (feature `parquet`, on
//!   by default).
//! - [`classify`]: which columns hold identifiers — header, detector hit rates, statistics.
//! - [`subject`]: what a table lists, from its name, which settles its key and name columns.

pub mod classify;
pub mod csv;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod subject;
pub mod table;

pub use table::{CellRewriter, ColumnInfo, ColumnKind, ColumnSample, TableError, sample_rows};
