//! RFC 4180 CSV at memory speed: a memory-mapped file cut into parts that start on record
//! boundaries, parsed in parallel by a hand-written splitter ([`records`]), results in
//! input order.
//!
//! A newline is a record boundary only outside quotes, and quotes may hold newlines, so a
//! part cannot simply start after any newline. [`CsvLayout::plan`] proposes a cut near
//! every `part_bytes` at the first line start from which a few records have the header's
//! number of fields, or else at the first newline where the count of quote bytes since
//! the previous cut is even, then *proves* every cut in parallel: part `i` is parsed from
//! its start, and its cut is right only if the parse reaches the end of the part exactly at
//! the end of a record. Part 0 starts after the header, which is right, so by induction
//! every proven cut is where a serial parse would be. A cut that fails the proof (a line
//! inside a quoted field that looked like records, stray quotes in unquoted fields that
//! made the parity wrong) moves to the end of the record it fell in, and the part after it
//! is counted again from there: a malformed file costs time, never correctness. The proof
//! pass also counts the records of each part, so every part knows its first row before any
//! cell is visited.
//!
//! Parsing follows `csv-core` and the `csv` crate exactly (it never fails: a quote inside an unquoted field is
//! kept as data, an unterminated quote runs to the end of the file, blank lines are
//! skipped); [`CsvLayout::plan`] reports the unterminated quote, and visits report rows
//! whose field count differs from the header's and cells that are not UTF-8.

use std::ops::Range;

use memchr::{memchr, memchr_iter};
use rayon::prelude::*;

use self::records::{Record, Records};
use self::specials::Specials;

use crate::table::{CellRewriter, ColumnInfo, ColumnKind, ColumnSample, TableError, sample_rows};

mod records;
mod specials;

/// The byte-order mark some tools put before the header.
const BOM: &[u8] = b"\xef\xbb\xbf";
/// Delimiters [`sniff_delimiter`] chooses among, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];
/// How much of the file the delimiter sniffer reads.
const SNIFF_BYTES: usize = 64 * 1024;
/// At most this many problems of one kind are kept per part; the rest are only counted.
const MAX_ISSUES_PER_PART: usize = 16;

/// How to read a CSV file.
#[derive(Clone, Copy, Debug)]
pub struct CsvOptions {
    /// The field delimiter; `None` sniffs it among comma, tab, semicolon and pipe.
    pub delimiter: Option<u8>,
    /// Whether the first record names the columns.
    pub has_header: bool,
    /// The size a part aims at.
    pub part_bytes: usize,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            delimiter: None,
            has_header: true,
            part_bytes: 1 << 20,
        }
    }
}

/// A CSV file's shape: delimiter, columns and the parts it is read in.
#[derive(Clone, Debug)]
pub struct CsvLayout {
    /// The field delimiter.
    pub delimiter: u8,
    /// The columns, named by the header (or `1`, `2`, … without one).
    pub columns: Vec<ColumnInfo>,
    /// Whether the file starts with a UTF-8 byte-order mark.
    pub bom: bool,
    /// Whether the header ends in CRLF (rewritten files keep the line ending).
    pub crlf: bool,
    /// The header record's bytes (BOM excluded), empty without a header.
    pub header: Range<usize>,
    /// The parts, in order.
    pub parts: Vec<Part>,
    /// Problems with the file as a whole (an unterminated quote, a header that is not UTF-8).
    pub issues: Vec<String>,
}

/// A piece of the body that starts and ends on record boundaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Byte range in the file.
    pub bytes: Range<usize>,
    /// The 0-based data row of the part's first record.
    pub first_row: u64,
    /// Records in the part.
    pub rows: u64,
}

/// A problem found in the records of a part, located by row and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowIssue {
    /// 0-based data row.
    pub row: u64,
    /// What is wrong (no cell values, only positions and counts).
    pub message: String,
}

/// What visiting a part found besides its cells.
#[derive(Clone, Debug, Default)]
pub struct PartReport {
    /// Problems, at most a few per kind.
    pub issues: Vec<RowIssue>,
    /// Rows whose field count differs from the header's.
    pub ragged_rows: u64,
    /// Cells that are not valid UTF-8.
    pub invalid_utf8_cells: u64,
}

impl CsvLayout {
    /// Reads the header and cuts the body into proven parts.
    pub fn plan(path: &str, bytes: &[u8], options: CsvOptions) -> Result<CsvLayout, TableError> {
        let bom = bytes.starts_with(BOM);
        let start = if bom { BOM.len() } else { 0 };
        let delimiter = options
            .delimiter
            .unwrap_or_else(|| sniff_delimiter(&bytes[start..]));
        let mut record = Record::default();
        let mut issues = Vec::new();
        let mut first = Records::new(delimiter, &bytes[start..]);
        first.next(&mut record);
        let (header, body_start) = if options.has_header {
            let end = start + first.offset();
            (start..end, end)
        } else {
            (start..start, start)
        };
        let crlf = bytes[header.clone()].ends_with(b"\r\n");
        let columns: Vec<ColumnInfo> = if options.has_header {
            record
                .fields()
                .enumerate()
                .map(|(i, name)| ColumnInfo {
                    name: match std::str::from_utf8(name) {
                        Ok(name) => name.to_owned(),
                        Err(_) => {
                            issues.push(format!(
                                "header, column {}: not valid UTF-8; named by a lossy copy",
                                i + 1
                            ));
                            String::from_utf8_lossy(name).into_owned()
                        }
                    },
                    kind: ColumnKind::Text,
                })
                .collect()
        } else {
            (1..=record.len())
                .map(|i| ColumnInfo {
                    name: i.to_string(),
                    kind: ColumnKind::Text,
                })
                .collect()
        };
        if options.has_header && columns.is_empty() && body_start < bytes.len() {
            return Err(TableError::at(path, "line 1", "the header is empty"));
        }
        let shape = RecordShape {
            delimiter,
            fields: columns.len(),
        };
        let cuts = propose_cuts(bytes, body_start, options.part_bytes.max(1), shape);
        let (parts, open_quote) = prove_cuts(bytes, delimiter, &cuts);
        if open_quote {
            issues.push(
                "the last record has an unterminated quote: it runs to the end of the file"
                    .to_owned(),
            );
        }
        Ok(CsvLayout {
            delimiter,
            columns,
            bom,
            crlf,
            header,
            parts,
            issues,
        })
    }

    /// Records in the body.
    pub fn rows(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.first_row + p.rows)
    }

    /// The name of column `index`; fields past the header are named by position.
    pub fn column_name(&self, index: usize) -> String {
        match self.columns.get(index) {
            Some(column) => column.name.clone(),
            None => (index + 1).to_string(),
        }
    }

    /// A deterministic sample of up to `per_column` non-empty values per column, from rows
    /// spread over the whole file (sparse columns get twice as many rows to fill up).
    pub fn sample(&self, bytes: &[u8], per_column: usize) -> Vec<ColumnSample> {
        let picks: Vec<u64> = sample_rows(self.rows(), per_column * 2).collect();
        let per_part: Vec<(&Part, Vec<u64>)> = self
            .parts
            .iter()
            .map(|part| {
                let rows = part.first_row..part.first_row + part.rows;
                (
                    part,
                    picks.iter().copied().filter(|r| rows.contains(r)).collect(),
                )
            })
            .filter(|(_, rows): &(&Part, Vec<u64>)| !rows.is_empty())
            .collect();
        let found: Vec<Vec<(u64, usize, String)>> = per_part
            .par_iter()
            .map(|(part, picked)| {
                // PERF: a part is read up to its last picked row only, unchecked: with
                // parts of a MiB, the 1 GiB bench CSV has picks in 400 of its 1,024 parts,
                // and reading those whole took ~0.2 s of a one-thread scan's 2.4 s.
                let mut cells = Vec::new();
                let mut records = Records::new(self.delimiter, &bytes[part.bytes.clone()]);
                let mut record = Record::default();
                let mut row = part.first_row;
                for &pick in picked {
                    while row <= pick && records.next(&mut record) {
                        if row == pick {
                            cells.extend(record.cells().map(|(column, value)| {
                                (row, column, String::from_utf8_lossy(value).into_owned())
                            }));
                        }
                        row += 1;
                    }
                }
                cells
            })
            .collect();
        let mut samples = vec![ColumnSample::default(); self.columns.len()];
        for sample in &mut samples {
            sample.rows_seen = picks.len() as u64;
        }
        for (_, column, value) in found.into_iter().flatten() {
            if let Some(sample) = samples.get_mut(column)
                && sample.values.len() < per_column
            {
                sample.values.push(value);
            }
        }
        for sample in &mut samples {
            sample.empty = sample.rows_seen.saturating_sub(sample.values.len() as u64);
        }
        samples
    }

    /// Calls `visit(row, column, value)` for every non-empty cell of a part, with absolute
    /// 0-based rows.
    pub fn visit_part(
        &self,
        bytes: &[u8],
        part: &Part,
        visit: &mut dyn FnMut(u64, usize, &[u8]),
    ) -> PartReport {
        self.for_each_record(bytes, part, |row, record| {
            for (column, value) in record.cells() {
                visit(row, column, value);
            }
        })
    }

    /// Calls `each(row, record)` for every record of a part and checks each record's shape.
    fn for_each_record<'a>(
        &self,
        bytes: &'a [u8],
        part: &Part,
        mut each: impl FnMut(u64, &Record<'a>),
    ) -> PartReport {
        let mut report = PartReport::default();
        let mut record = Record::default();
        let input = &bytes[part.bytes.clone()];
        // PERF: std's validation took 5 % of the samples of a one-thread scan of the 1 GiB
        // bench CSV; with simdutf8 (in the tree already, through parquet) the scan ran
        // ~3 % faster.
        let utf8_part = simdutf8::basic::from_utf8(input).is_ok();
        let mut records = Records::new(self.delimiter, input);
        let mut row = part.first_row;
        while records.next(&mut record) {
            self.check_record(row, &record, utf8_part, &mut report);
            each(row, &record);
            row += 1;
        }
        report
    }

    /// Appends the part rewritten to `out`: every record re-serialised with this file's
    /// delimiter and line ending, quoting only where a field needs it.
    pub fn rewrite_part(
        &self,
        bytes: &[u8],
        part: &Part,
        rewriter: &dyn CellRewriter,
        out: &mut Vec<u8>,
    ) -> (PartReport, u64) {
        let mut cell = Vec::new();
        let mut changed = 0;
        let subject_column = rewriter.subject_column();
        let report = self.for_each_record(bytes, part, |_, record| {
            let subject = subject_column
                .and_then(|c| record.fields().nth(c))
                .filter(|s| !s.is_empty());
            let mut written = 0;
            for (column, value) in record.fields().enumerate() {
                if rewriter.drops(column) {
                    continue;
                }
                if written > 0 {
                    out.push(self.delimiter);
                }
                written += 1;
                cell.clear();
                if !value.is_empty()
                    && rewriter.touches(column)
                    && rewriter.rewrite(column, value, subject, &mut cell)
                {
                    changed += 1;
                    write_field(&cell, self.delimiter, out);
                } else {
                    write_field(value, self.delimiter, out);
                }
            }
            out.extend_from_slice(if self.crlf { b"\r\n" } else { b"\n" });
        });
        (report, changed)
    }

    /// The header as the rewritten file starts: BOM and header record re-serialised,
    /// without the columns `rewriter` drops.
    pub fn write_header(&self, bytes: &[u8], rewriter: &dyn CellRewriter, out: &mut Vec<u8>) {
        if self.bom {
            out.extend_from_slice(BOM);
        }
        if self.header.is_empty() {
            return;
        }
        let mut record = Record::default();
        Records::new(self.delimiter, &bytes[self.header.clone()]).next(&mut record);
        let kept = record
            .fields()
            .enumerate()
            .filter(|(column, _)| !rewriter.drops(*column));
        for (i, (_, name)) in kept.enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            write_field(name, self.delimiter, out);
        }
        out.extend_from_slice(if self.crlf { b"\r\n" } else { b"\n" });
    }

    /// Counts a ragged row and cells that are not UTF-8. `utf8_part` says the whole part is
    /// valid UTF-8, and then so is every field (fields are cut at ASCII bytes only).
    fn check_record(&self, row: u64, record: &Record, utf8_part: bool, report: &mut PartReport) {
        let fields = record.len();
        if self.header.is_empty() && self.columns.is_empty() {
            return;
        }
        if fields != self.columns.len() {
            note(&mut report.ragged_rows, &mut report.issues, row, || {
                format!(
                    "{fields} field(s) where the header has {}",
                    self.columns.len()
                )
            });
        }
        if utf8_part {
            return;
        }
        for (column, value) in record.fields().enumerate() {
            if std::str::from_utf8(value).is_err() {
                note(
                    &mut report.invalid_utf8_cells,
                    &mut report.issues,
                    row,
                    || {
                        format!(
                            "column {:?}: not valid UTF-8 (scanned as bytes)",
                            self.column_name(column)
                        )
                    },
                );
            }
        }
    }
}

/// Counts one problem of a kind, and keeps its description while the kind has few.
fn note(count: &mut u64, issues: &mut Vec<RowIssue>, row: u64, message: impl FnOnce() -> String) {
    *count += 1;
    if *count as usize <= MAX_ISSUES_PER_PART {
        issues.push(RowIssue {
            row,
            message: message(),
        });
    }
}

/// Picks the delimiter among comma, tab, semicolon and pipe: the one that splits the first
/// lines (outside quotes) into the same number of fields most consistently.
pub fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let mut best = (b',', 0usize, 0usize);
    for &delimiter in &DELIMITERS {
        let mut counts = Vec::new();
        let mut record = Record::default();
        let mut records = Records::new(delimiter, head);
        // Whole records only: the last may be cut by the sniff window.
        while counts.len() < 20 && records.next(&mut record) {
            if records.offset() == head.len() && head.len() < bytes.len() {
                break;
            }
            counts.push(record.len());
        }
        let Some(&first) = counts.first() else {
            continue;
        };
        let agreeing = counts.iter().filter(|&&n| n == first).count();
        if first > 1 && (agreeing, first) > (best.1, best.2) {
            best = (delimiter, agreeing, first);
        }
    }
    best.0
}

/// What the records of a file look like: their delimiter and how many fields they hold.
#[derive(Clone, Copy, Debug)]
struct RecordShape {
    delimiter: u8,
    fields: usize,
}

/// Records that must all have the file's shape for a line start to pass as a record start.
const RECORDS_TO_AGREE: usize = 4;
/// Line starts tried after a target before the quotes are counted instead.
const LINES_TO_TRY: usize = 16;
/// How far past a tried line start its records are read.
const GUESS_WINDOW: usize = 64 << 10;

/// Proposes cuts: the body start, then a record start past every `step` bytes, then the
/// end. The record start is guessed from the records that follow it ([`guess_record_start`])
/// or, when no guess holds, found by quote parity ([`parity_cut`]).
///
/// PERF: parity alone counts every quote of the file on one thread before any part can be
/// proven: ~0.15 s of a one-thread scan of the 1 GiB bench CSV (2.4 s). A guess reads a
/// few records per cut. Either way the cuts are proven ([`prove_cuts`]): a wrong guess
/// costs a part counted twice, never correctness.
fn propose_cuts(bytes: &[u8], body_start: usize, step: usize, shape: RecordShape) -> Vec<usize> {
    let mut cuts = vec![body_start];
    let mut at = body_start;
    while bytes.len() - at > step {
        let target = at + step;
        match guess_record_start(bytes, target, shape).or_else(|| parity_cut(bytes, at, target)) {
            Some(cut) if cut < bytes.len() => {
                cuts.push(cut);
                at = cut;
            }
            _ => break,
        }
    }
    cuts.push(bytes.len());
    cuts.dedup();
    cuts
}

/// The first line start after `target` from which the next [`RECORDS_TO_AGREE`] records
/// all have the file's number of fields, reading at most [`GUESS_WINDOW`] bytes from it;
/// `None` when none of the next [`LINES_TO_TRY`] line starts passes. A line start inside a
/// quoted field reads the rest of that field as records, which seldom have that shape.
fn guess_record_start(bytes: &[u8], target: usize, shape: RecordShape) -> Option<usize> {
    if shape.fields == 0 {
        return None;
    }
    let mut line = target;
    for _ in 0..LINES_TO_TRY {
        let start = line + memchr(b'\n', &bytes[line..])? + 1;
        let window = &bytes[start..bytes.len().min(start + GUESS_WINDOW)];
        let at_eof = start + window.len() == bytes.len();
        let mut records = Records::new(shape.delimiter, window);
        let mut record = Record::default();
        let agree = (0..RECORDS_TO_AGREE).all(|_| {
            records.next(&mut record)
                && record.len() == shape.fields
                && (at_eof || records.offset() < window.len())
        });
        if agree {
            return Some(start);
        }
        line = start;
    }
    None
}

/// The first newline past `target` where the count of quotes since `at`, a record start,
/// is even: a record start unless a quote sits inside an unquoted field.
fn parity_cut(bytes: &[u8], at: usize, target: usize) -> Option<usize> {
    let mut quotes_even = memchr_iter(b'"', &bytes[at..target])
        .count()
        .is_multiple_of(2);
    let mut pos = target;
    loop {
        let found = pos + memchr::memchr2(b'"', b'\n', &bytes[pos..])?;
        if bytes[found] == b'"' {
            quotes_even = !quotes_even;
        } else if quotes_even {
            return Some(found + 1);
        }
        pos = found + 1;
    }
}

/// Parses every proposed part in parallel and keeps the cuts where a part ends exactly on
/// a record boundary, counting each part's records. A part whose cut lands inside a record
/// ends where that record does instead, and the part after it is counted again from there:
/// a wrong cut costs a record and a part read twice, never a reread of the parts before it.
/// Also says whether the file ends inside a quoted field.
fn prove_cuts(bytes: &[u8], delimiter: u8, cuts: &[usize]) -> (Vec<Part>, bool) {
    let ranges: Vec<Range<usize>> = cuts.windows(2).map(|w| w[0]..w[1]).collect();
    let count = |range: Range<usize>| {
        let at_eof = range.end == bytes.len();
        count_records(&bytes[range], delimiter, at_eof)
    };
    let results: Vec<(u64, PartEnd)> = ranges.par_iter().map(|r| count(r.clone())).collect();
    let mut parts: Vec<Part> = Vec::with_capacity(ranges.len());
    let mut first_row = 0;
    let mut open_quote = false;
    let mut start = cuts.first().copied().unwrap_or(0);
    let mut index = 0;
    while index < ranges.len() {
        let range = ranges[index].clone();
        // A part starts where the one before it ended: its proposed start, or past it.
        let (rows, end_state) = if start == range.start {
            results[index]
        } else {
            count(start..range.end)
        };
        let end = match end_state {
            PartEnd::Misaligned { record } => {
                // One record read on from its start, over the rest of the file.
                let from = start + record;
                let rest = records::count(delimiter, &bytes[from..], true, 1);
                open_quote |= rest.open_quote;
                from + rest.end
            }
            PartEnd::OpenQuote => {
                open_quote = true;
                range.end
            }
            PartEnd::Aligned => range.end,
        };
        parts.push(Part {
            bytes: start..end,
            first_row,
            rows,
        });
        first_row += rows;
        start = end;
        while index < ranges.len() && ranges[index].end <= start {
            index += 1;
        }
    }
    (parts, open_quote)
}

/// Counts the records of `input` as a serial parse from a record start would see them,
/// and says how the input ends.
fn count_records(input: &[u8], delimiter: u8, at_eof: bool) -> (u64, PartEnd) {
    let count = records::count(delimiter, input, at_eof, u64::MAX);
    let end = if let Some(record) = count.cut {
        PartEnd::Misaligned { record }
    } else if count.open_quote {
        PartEnd::OpenQuote
    } else {
        PartEnd::Aligned
    };
    (count.rows, end)
}

/// Writes one field, quoted only when it holds a delimiter, a quote or a line break (or
/// starts or ends with a space, which some readers would trim).
fn write_field(value: &[u8], delimiter: u8, out: &mut Vec<u8>) {
    // Free-text cells run to hundreds of bytes. Checked byte by byte, this function took
    // 7.5 % of the samples of a one-thread redaction of the 1 GiB bench CSV; 64 bytes at a
    // time, 4.2 % (and `Specials::load` 0.4 % more).
    let holds_special = if value.len() >= 64 {
        Specials::new(value, [b'"', b'\n', b'\r', delimiter])
            .find(0)
            .is_some()
    } else {
        value
            .iter()
            .any(|&b| matches!(b, b'"' | b'\n' | b'\r') || b == delimiter)
    };
    let needs_quotes = holds_special || value.first() == Some(&b' ') || value.last() == Some(&b' ');
    if !needs_quotes {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    let mut rest = value;
    while let Some(i) = memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'"');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// What a record read from a proven start sees at the end of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PartEnd {
    /// The input ends on a record boundary.
    Aligned,
    /// The input ends inside the record that starts at offset `record`: the cut after it
    /// is wrong.
    Misaligned { record: usize },
    /// The file ends inside a quoted field.
    OpenQuote,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every non-empty cell with its absolute row, read part by part.
    fn cells(bytes: &[u8], options: CsvOptions) -> (CsvLayout, Vec<(u64, usize, Vec<u8>)>) {
        let layout = CsvLayout::plan("t.csv", bytes, options).expect("plan");
        let mut cells = Vec::new();
        for part in &layout.parts {
            layout.visit_part(bytes, part, &mut |row, column, value| {
                cells.push((row, column, value.to_vec()));
            });
        }
        (layout, cells)
    }

    /// The same cells as the `csv` crate reads them serially.
    fn reference(bytes: &[u8], delimiter: u8, has_header: bool) -> Vec<(u64, usize, Vec<u8>)> {
        reference_with_rows(bytes, delimiter, has_header).0
    }

    fn reference_with_rows(
        bytes: &[u8],
        delimiter: u8,
        has_header: bool,
    ) -> (Vec<(u64, usize, Vec<u8>)>, u64) {
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(has_header)
            .flexible(true)
            .from_reader(bytes);
        let mut cells = Vec::new();
        let mut rows = 0;
        for (row, record) in reader.byte_records().enumerate() {
            for (column, value) in record.expect("csv never fails on bytes").iter().enumerate() {
                if !value.is_empty() {
                    cells.push((row as u64, column, value.to_vec()));
                }
            }
            rows += 1;
        }
        (cells, rows)
    }

    fn small_parts(delimiter: u8) -> CsvOptions {
        CsvOptions {
            delimiter: Some(delimiter),
            has_header: true,
            part_bytes: 7,
        }
    }

    #[test]
    fn long_fields_are_quoted_when_any_byte_needs_it() {
        let written = |value: &[u8]| {
            let mut out = Vec::new();
            write_field(value, b';', &mut out);
            out
        };
        for length in [10, 64, 130] {
            let plain = vec![b'a'; length];
            assert_eq!(written(&plain), plain);
            let mut comma = plain.clone();
            comma[length / 2] = b',';
            assert_eq!(written(&comma), comma, "a comma is no delimiter here");
            for special in [b'"', b'\n', b'\r', b';'] {
                for at in [0, length / 2, length - 1] {
                    let mut value = plain.clone();
                    value[at] = special;
                    let mut expected = b"\"".to_vec();
                    for &b in &value {
                        expected.push(b);
                        if b == b'"' {
                            expected.push(b);
                        }
                    }
                    expected.push(b'"');
                    assert_eq!(written(&value), expected, "{length} {special} {at}");
                }
            }
        }
    }

    #[test]
    fn reads_rfc4180_quoting_across_parts() {
        let data = b"\xef\xbb\xbfid,note\r\n1,\"two\r\nlines, \"\"quoted\"\"\"\r\n2,plain\r\n\r\n3,\"\"\r\n";
        let (layout, cells) = cells(data, small_parts(b','));
        assert!(layout.bom && layout.crlf);
        assert_eq!(layout.columns[0].name, "id");
        assert_eq!(layout.rows(), 3);
        assert!(layout.parts.len() > 1, "{:?}", layout.parts);
        assert_eq!(cells, reference(data, b',', true));
        assert_eq!(cells[1], (0, 1, b"two\r\nlines, \"quoted\"".to_vec()));
    }

    /// A header and 200 rows of three fields, the second quoted and holding `note`.
    fn notes_table(note: &str) -> String {
        let mut data = String::from("id,note,zip\n");
        for row in 0..200 {
            data.push_str(&format!("{row},\"{note}\",6810{}\n", row % 10));
        }
        data
    }

    #[test]
    fn a_cut_is_guessed_past_lines_inside_quotes() {
        // Read as a record start, the line inside each note gives two fields, not three.
        let data = notes_table("seen, stable\nplan same");
        let shape = RecordShape {
            delimiter: b',',
            fields: 3,
        };
        let body = "id,note,zip\n".len();
        for target in body..data.len() - 200 {
            let start = guess_record_start(data.as_bytes(), target, shape).expect("a guess");
            // Rows start with their id; the lines inside notes with "plan".
            assert!(
                data[..start].ends_with('\n')
                    && data[start..].starts_with(|c: char| c.is_ascii_digit()),
                "guess {start} after {target} is not a record start"
            );
        }
    }

    #[test]
    fn a_wrong_guess_or_ragged_rows_cost_parts_not_cells() {
        // Here the line inside a note does read as a record of three fields, so some
        // guesses are wrong: their proofs fail and their parts merge.
        let data = notes_table("seen, stable\nplan, same");
        for part_bytes in [20, 37, 50, 64] {
            let options = CsvOptions {
                part_bytes,
                ..small_parts(b',')
            };
            let (layout, read) = cells(data.as_bytes(), options);
            assert!(
                layout.parts.len() > 20,
                "{part_bytes}: {}",
                layout.parts.len()
            );
            assert_eq!(read, reference(data.as_bytes(), b',', true));
        }
        // A note first, whose second line reads as a record of three fields: every cut
        // proposed in a first line is wrong. Each such part ends where its last record
        // does and the next part is counted from there, so no part is lost to a merge.
        let mut first = String::from("note,a,b\n");
        for row in 0..300 {
            first.push_str(&format!("\"seen on day {row} and stable\nend\",1,2\n"));
        }
        let shape = RecordShape {
            delimiter: b',',
            fields: 3,
        };
        let proposed = propose_cuts(first.as_bytes(), "note,a,b\n".len(), 50, shape);
        let options = CsvOptions {
            part_bytes: 50,
            ..small_parts(b',')
        };
        let (layout, read) = cells(first.as_bytes(), options);
        // A fixed part may swallow a short last one, no more.
        assert!(
            layout.parts.len() + 2 >= proposed.len(),
            "{} parts of {} proposed",
            layout.parts.len(),
            proposed.len() - 1
        );
        assert_eq!(read, reference(first.as_bytes(), b',', true));
        assert_eq!(layout.rows(), 300);
        // Rows of varying length pass no guess: the quotes are counted instead.
        let mut ragged = String::from("a,b\n");
        for row in 0..200 {
            ragged.push_str(&format!("{row}{}\n", ",\"x\ny\"".repeat(row % 3)));
        }
        let (layout, read) = cells(ragged.as_bytes(), small_parts(b','));
        assert!(layout.parts.len() > 20, "{}", layout.parts.len());
        assert_eq!(read, reference(ragged.as_bytes(), b',', true));
    }

    #[test]
    fn a_byte_order_mark_inside_the_body_is_data() {
        // Found by the `csv_chunks` fuzz target: a part that starts with a BOM.
        let data = b"a,b\n1,2\n\xef\xbb\xbf\n";
        let (_, cells) = cells(data, small_parts(b','));
        assert_eq!(cells, reference(data, b',', true));
        assert_eq!(cells.last(), Some(&(1, 0, b"\xef\xbb\xbf".to_vec())));
    }

    #[test]
    fn sniffs_the_delimiter() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n\"x,y\"\t2\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n"), b'|');
        assert_eq!(sniff_delimiter(b"a,b\n1,2\n"), b',');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }

    #[test]
    fn stray_quotes_cost_parallelism_not_correctness() {
        // A quote inside an unquoted field is data; quote parity is wrong after it.
        let data = b"a,b\nx\"y,1\n2,3\n4,\"5\n6\"\n7,8\n9,10\n";
        let (_, cells) = cells(data, small_parts(b','));
        assert_eq!(cells, reference(data, b',', true));
    }

    #[test]
    fn reports_an_unterminated_quote_and_ragged_rows() {
        let data = b"a,b\n1,2,3\n4,\"open\nstill open";
        let layout = CsvLayout::plan("t.csv", data, small_parts(b',')).expect("plan");
        assert_eq!(layout.issues.len(), 1, "{:?}", layout.issues);
        assert!(layout.issues[0].contains("unterminated quote"));
        let mut reports = Vec::new();
        for part in &layout.parts {
            reports.push(layout.visit_part(data, part, &mut |_, _, _| {}));
        }
        let ragged: u64 = reports.iter().map(|r| r.ragged_rows).sum();
        assert_eq!(ragged, 1);
        assert_eq!(
            reports.iter().flat_map(|r| &r.issues).next().map(|i| i.row),
            Some(0)
        );
    }

    #[test]
    fn names_columns_by_position_without_a_header() {
        let options = CsvOptions {
            has_header: false,
            ..small_parts(b',')
        };
        let (layout, cells) = cells(b"x,y\n1,2\n", options);
        let names: Vec<&str> = layout.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["1", "2"]);
        assert_eq!(cells, reference(b"x,y\n1,2\n", b',', false));
    }

    #[test]
    fn counts_invalid_utf8_cells() {
        let data = b"a,b\n\xff,ok\n";
        let layout = CsvLayout::plan("t.csv", data, CsvOptions::default()).expect("plan");
        let report = layout.visit_part(data, &layout.parts[0], &mut |_, _, _| {});
        assert_eq!(report.invalid_utf8_cells, 1);
        assert!(report.issues[0].message.contains("column \"a\""));
    }

    #[test]
    fn empty_and_header_only_files_have_no_rows() {
        for data in [&b""[..], b"a,b\n", b"a,b"] {
            let layout = CsvLayout::plan("t.csv", data, CsvOptions::default()).expect("plan");
            assert_eq!(layout.rows(), 0, "{data:?}");
        }
    }

    struct Upper;

    impl CellRewriter for Upper {
        fn touches(&self, column: usize) -> bool {
            column == 1
        }

        fn rewrite(&self, _: usize, value: &[u8], _: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
            out.extend(value.iter().map(u8::to_ascii_uppercase));
            true
        }
    }

    #[test]
    fn rewrites_keep_shape_delimiter_and_line_endings() {
        let data = b"\xef\xbb\xbfid;note\r\n1;\"a;b\r\nc\"\r\n2;x \r\n";
        let options = CsvOptions {
            delimiter: None,
            ..small_parts(b';')
        };
        let layout = CsvLayout::plan("t.csv", data, options).expect("plan");
        let mut out = Vec::new();
        layout.write_header(data, &Upper, &mut out);
        let mut changed = 0;
        for part in &layout.parts {
            changed += layout.rewrite_part(data, part, &Upper, &mut out).1;
        }
        assert_eq!(changed, 2);
        assert_eq!(
            out,
            b"\xef\xbb\xbfid;note\r\n1;\"A;B\r\nC\"\r\n2;\"X \"\r\n"
        );
    }

    /// Drops column 1 and writes column 2 as its row's subject (column 0).
    struct DropAndSubject;

    impl CellRewriter for DropAndSubject {
        fn touches(&self, column: usize) -> bool {
            column == 2
        }

        fn drops(&self, column: usize) -> bool {
            column == 1
        }

        fn subject_column(&self) -> Option<usize> {
            Some(0)
        }

        fn rewrite(&self, _: usize, _: &[u8], subject: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
            out.extend_from_slice(subject.unwrap_or(b"none"));
            true
        }
    }

    #[test]
    fn dropped_columns_vanish_and_rewrites_see_their_rows_subject() {
        let data = b"id,secret,dob\np1,x,2001-01-01\n,y,2002-02-02\np3,\"z\nz\",2003-03-03\n";
        let layout = CsvLayout::plan("t.csv", data, small_parts(b',')).expect("plan");
        let mut out = Vec::new();
        layout.write_header(data, &DropAndSubject, &mut out);
        for part in &layout.parts {
            layout.rewrite_part(data, part, &DropAndSubject, &mut out);
        }
        assert_eq!(out, b"id,dob\np1,p1\n,none\np3,p3\n");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
        ))]

        /// The parallel, chunked reader agrees with a serial parse on any input.
        #[test]
        fn chunked_reader_agrees_with_serial_reference(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(0xc3u8), Just(b' ')],
                0..200,
            ),
            part_bytes in 1usize..40,
            has_header in any::<bool>(),
        ) {
            let options = CsvOptions { delimiter: Some(b','), has_header, part_bytes };
            let (layout, cells) = cells(&bytes, options);
            let (expected, rows) = reference_with_rows(&bytes, b',', has_header);
            prop_assert_eq!(&cells, &expected);
            prop_assert_eq!(layout.rows(), rows);
        }
    }
}
