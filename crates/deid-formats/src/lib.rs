//! deid's readers and writers: where bytes come from and where results go.
//!
//! - [`input`]: files, directories (recursed) and stdin, memory-mapped where possible;
//!   binary files detected; JSONL and plain text told apart by extension and content.
//! - [`text`]: plain text cut into units at blank lines, for parallel scanning.
//! - [`jsonl`]: JSONL records: which string fields to scan, the document id, and
//!   rewriting fields while keeping every record, field and order.
//! - [`output`]: atomic output files (temp file + rename).
//! - [`sink`]: findings as JSONL, JSON, SARIF or a summary table.
//!
//! Nothing here knows about rules or matching: the `deid` crate drives the matcher over
//! these units.

pub mod input;
pub mod jsonl;
pub mod output;
pub mod sink;
pub mod text;
