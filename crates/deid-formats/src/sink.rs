//! Findings out: JSONL (the DESIGN §5 contract), a JSON array, SARIF 2.1.0, or a summary
//! table of counts by type and file.
//!
//! A sink never writes a matched value unless the record carries one, which the caller
//! adds only when the user asked for values (`--show-values`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use deid_core::EntityType;
use serde::Serialize;

/// One finding as written out. JSONL and JSON are written by hand (`push_record`); a test
/// keeps those bytes equal to what this `Serialize` gives.
#[derive(Clone, Debug, Serialize)]
pub struct FindingRecord<'a> {
    /// The input path as given (or `-`).
    pub path: &'a str,
    /// The document id (JSONL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<&'a str>,
    /// The field path within the record (JSONL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// 0-based data row (tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Column name (tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<&'a str>,
    /// UTF-8 byte offset of the first byte, in the document text or cell.
    pub start: usize,
    /// UTF-8 byte offset one past the end.
    pub end: usize,
    /// The entity type.
    #[serde(rename = "type")]
    pub entity: EntityType,
    /// The rule id.
    pub rule: &'a str,
    /// Confidence after context, rounded to three decimals.
    pub confidence: f64,
    /// The matched text, only with `--show-values`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
}

/// Rounds a confidence for output, so that output does not depend on float noise.
pub fn round_confidence(confidence: f32) -> f64 {
    round_thousandths(f64::from(confidence) * 1000.0) / 1000.0
}

/// `x.round()`, without a call to libm's `round` when `x` is in `0.0..=1000.0` (as
/// thousandths of a confidence are): baseline x86-64 has no rounding instruction, and the
/// call took 4 % of a table scan writing ~5 M findings. The integer part plus one when the
/// rest is a half or more: the truncation and the subtraction are both exact there.
fn round_thousandths(x: f64) -> f64 {
    if !(0.0..=1000.0).contains(&x) {
        return x.round();
    }
    let whole = f64::from(x as u32);
    whole + f64::from(u8::from(x - whole >= 0.5))
}

/// The output format of findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkFormat {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// Counts by type and file.
    Summary,
}

/// The size of the blocks a sink writes its records in.
const BLOCK_BYTES: usize = 64 << 10;

/// A rule as SARIF lists it.
#[derive(Clone, Debug)]
pub struct RuleDescription {
    /// The rule id.
    pub id: String,
    /// The rule's name.
    pub name: String,
    /// The entity type it reports.
    pub entity: EntityType,
}

/// Writes findings in one format.
pub struct FindingSink<W: Write> {
    format: SinkFormat,
    out: W,
    /// Records serialised and not yet written: they go out in blocks of [`BLOCK_BYTES`],
    /// and the rest when the sink finishes. A sink dropped unfinished, as a failed run's
    /// is, does not write them.
    ///
    /// PERF: serde_json writes a record as a dozen small pieces; into a `Vec` each is an
    /// inlined copy, into a `BufWriter` a call. Tables report every labelled cell, so this
    /// was a tenth of a table scan's time. Copying each record on into a `BufWriter` took
    /// another 3 % of a one-thread scan of the 256 MiB bench CSV; a block as large as the
    /// caller's `BufWriter` (64 KiB) passes through it.
    pending: Vec<u8>,
    written: u64,
    rules: Vec<RuleDescription>,
    counts: BTreeMap<String, BTreeMap<EntityType, u64>>,
    scanned: BTreeMap<String, ()>,
}

impl<W: Write> FindingSink<W> {
    /// Starts a sink; SARIF needs the rule list up front.
    pub fn new(format: SinkFormat, out: W, rules: Vec<RuleDescription>) -> FindingSink<W> {
        FindingSink {
            format,
            out,
            pending: Vec::with_capacity(BLOCK_BYTES),
            written: 0,
            rules,
            counts: BTreeMap::new(),
            scanned: BTreeMap::new(),
        }
    }

    /// Records that a file was scanned (the summary lists clean files too).
    pub fn file_scanned(&mut self, path: &str) {
        self.scanned.insert(path.to_owned(), ());
    }

    /// Writes one finding.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write(&mut self, record: &FindingRecord<'_>) -> io::Result<()> {
        match self.format {
            SinkFormat::Jsonl | SinkFormat::Json => {
                self.open_json_line();
                push_record(&mut self.pending, record);
                self.close_json_line();
            }
            SinkFormat::Sarif => {
                if self.written == 0 {
                    self.sarif_header()?;
                } else {
                    self.pending.extend_from_slice(b",\n");
                }
                serde_json::to_writer(&mut self.pending, &sarif_result(record))?;
            }
            SinkFormat::Summary => {
                // PERF: the path is copied once per file, not once per finding.
                let counts = match self.counts.get_mut(record.path) {
                    Some(counts) => counts,
                    None => self.counts.entry(record.path.to_owned()).or_default(),
                };
                *counts.entry(record.entity).or_default() += 1;
            }
        }
        self.written += 1;
        self.write_full_block()
    }

    /// Writes the finding of a table cell reported whole: `template`'s record with this
    /// row, an end at the cell's length and, when shown, the cell's value.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write_cell(
        &mut self,
        template: &CellTemplate,
        row: u64,
        end: usize,
        value: Option<&str>,
    ) -> io::Result<()> {
        match self.format {
            SinkFormat::Jsonl | SinkFormat::Json => {
                self.open_json_line();
                template.push(&mut self.pending, row, end, value);
                self.close_json_line();
                self.written += 1;
                self.write_full_block()
            }
            SinkFormat::Sarif | SinkFormat::Summary => self.write(&FindingRecord {
                row: Some(row),
                end,
                value,
                ..template.record()
            }),
        }
    }

    /// Starts a JSON record: in a JSON array, after its opening or a separator.
    fn open_json_line(&mut self) {
        if self.format == SinkFormat::Json {
            let separator: &[u8] = if self.written == 0 { b"[\n" } else { b",\n" };
            self.pending.extend_from_slice(separator);
        }
    }

    /// Ends a JSON record: a JSON Lines record ends its line.
    fn close_json_line(&mut self) {
        if self.format == SinkFormat::Jsonl {
            self.pending.push(b'\n');
        }
    }

    /// Writes the pending records once they fill a block.
    fn write_full_block(&mut self) -> io::Result<()> {
        if self.pending.len() >= BLOCK_BYTES {
            self.out.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// The number of findings written.
    pub fn count(&self) -> u64 {
        self.written
    }

    /// Ends the output (closing brackets, the summary table) and returns the writer.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&self.pending)?;
        match self.format {
            SinkFormat::Jsonl => {}
            SinkFormat::Json => {
                self.out
                    .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?
            }
            SinkFormat::Sarif => {
                if self.written == 0 {
                    self.sarif_header()?;
                }
                self.out.write_all(b"\n]}]}\n")?;
            }
            SinkFormat::Summary => self.write_summary()?,
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn sarif_header(&mut self) -> io::Result<()> {
        let rules: Vec<serde_json::Value> = self
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "name": r.name,
                    "shortDescription": {"text": format!("{} ({})", r.name, r.entity)},
                    "properties": {"entity": r.entity},
                })
            })
            .collect();
        let driver = serde_json::json!({
            "name": "deid",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://example.invalid/deid",
            "rules": rules,
        });
        writeln!(
            self.out,
            "{{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":{driver}}},\"results\":["
        )
    }

    fn write_summary(&mut self) -> io::Result<()> {
        let mut totals: BTreeMap<EntityType, u64> = BTreeMap::new();
        for counts in self.counts.values() {
            for (entity, n) in counts {
                *totals.entry(*entity).or_default() += n;
            }
        }
        let files_with = self.counts.len();
        let files = self.scanned.len().max(files_with);
        writeln!(
            self.out,
            "{} finding(s) in {files_with} of {files} file(s)",
            self.written
        )?;
        if totals.is_empty() {
            return Ok(());
        }
        writeln!(self.out, "\n{:<16} {:>10}", "TYPE", "FINDINGS")?;
        for (entity, n) in &totals {
            writeln!(self.out, "{:<16} {n:>10}", entity.as_str())?;
        }
        writeln!(self.out, "\n{:<10} {:<16} FILE", "FINDINGS", "TOP TYPE")?;
        for (path, counts) in &self.counts {
            let total: u64 = counts.values().sum();
            let top = counts
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(e, _)| e.as_str())
                .unwrap_or("-");
            writeln!(self.out, "{total:<10} {top:<16} {path}")?;
        }
        Ok(())
    }
}

/// The record of a table cell reported whole, rendered once per column: the cells of a
/// labelled column differ only in row and length (and value, when shown).
///
/// PERF: every labelled cell is a finding (1.85 M for the 64 MiB bench table), written on
/// the one thread that keeps them in input order, a third busy thread in a two-core scan.
/// From templates that thread (start-up included) took ~0.51 s of CPU instead of ~0.69 s
/// (perf samples, 3 runs each); rendering on the worker threads instead was measured and
/// dropped (docs/DESIGN.md).
#[derive(Clone, Debug)]
pub struct CellTemplate {
    path: String,
    column: String,
    entity: EntityType,
    rule: String,
    confidence: f64,
    /// The JSON record up to the row, from the row to the end offset, and after it up to
    /// the value.
    until_row: Vec<u8>,
    until_end: Vec<u8>,
    after_end: Vec<u8>,
}

impl CellTemplate {
    /// The record of a cell of `column` in `path`, starting at 0, of `entity` found by
    /// `rule` with `confidence` (as written: [`round_confidence`]).
    pub fn new(
        path: &str,
        column: &str,
        entity: EntityType,
        rule: &str,
        confidence: f64,
    ) -> CellTemplate {
        let mut template = CellTemplate {
            path: path.to_owned(),
            column: column.to_owned(),
            entity,
            rule: rule.to_owned(),
            confidence,
            until_row: Vec::new(),
            until_end: Vec::new(),
            after_end: Vec::new(),
        };
        let record = template.record();
        let mut pieces = [Vec::new(), Vec::new(), Vec::new()];
        push_until_row(&mut pieces[0], &record);
        push_until_end(&mut pieces[1], &record);
        push_after_end(&mut pieces[2], &record);
        [template.until_row, template.until_end, template.after_end] = pieces;
        template
    }

    /// The entity type of the template's cells.
    pub fn entity(&self) -> EntityType {
        self.entity
    }

    /// The record of the template's cells, with row 0 and end 0.
    fn record(&self) -> FindingRecord<'_> {
        FindingRecord {
            path: &self.path,
            doc: None,
            field: None,
            row: Some(0),
            column: Some(&self.column),
            start: 0,
            end: 0,
            entity: self.entity,
            rule: &self.rule,
            confidence: self.confidence,
            value: None,
        }
    }

    /// Appends the JSON record of the cell at `row`, ending at `end`, with its value when
    /// shown: the same bytes as [`push_record`] for the full record.
    fn push(&self, line: &mut Vec<u8>, row: u64, end: usize, value: Option<&str>) {
        let mut number = itoa::Buffer::new();
        line.extend_from_slice(&self.until_row);
        line.extend_from_slice(number.format(row).as_bytes());
        line.extend_from_slice(&self.until_end);
        line.extend_from_slice(number.format(end).as_bytes());
        line.extend_from_slice(&self.after_end);
        push_close(line, value);
    }
}

/// Appends `record` as one JSON object, the same bytes `serde_json` writes for it.
///
/// PERF: a table scan reports every labelled cell (1.85 M findings for a 64 MiB CSV), and
/// serde's writer escaped each string byte by byte through its formatter and printed the
/// confidence as a general float: about a tenth of the scan. Strings here are copied whole
/// when no byte needs escaping, and a confidence (thousandths in 0..=1) is printed as such.
fn push_record(line: &mut Vec<u8>, record: &FindingRecord<'_>) {
    let mut number = itoa::Buffer::new();
    push_until_row(line, record);
    if let Some(row) = record.row {
        line.extend_from_slice(number.format(row).as_bytes());
    }
    push_until_end(line, record);
    line.extend_from_slice(number.format(record.end).as_bytes());
    push_after_end(line, record);
    push_close(line, record.value);
}

/// The record up to its row: path, document and field, and the row's key when it has one.
fn push_until_row(line: &mut Vec<u8>, record: &FindingRecord<'_>) {
    line.extend_from_slice(b"{\"path\":");
    push_str(line, record.path);
    for (key, value) in [
        (&b",\"doc\":"[..], record.doc),
        (b",\"field\":", record.field),
    ] {
        if let Some(value) = value {
            line.extend_from_slice(key);
            push_str(line, value);
        }
    }
    if record.row.is_some() {
        line.extend_from_slice(b",\"row\":");
    }
}

/// The record from after its row to the end offset's key: column and start.
fn push_until_end(line: &mut Vec<u8>, record: &FindingRecord<'_>) {
    if let Some(column) = record.column {
        line.extend_from_slice(b",\"column\":");
        push_str(line, column);
    }
    line.extend_from_slice(b",\"start\":");
    line.extend_from_slice(itoa::Buffer::new().format(record.start).as_bytes());
    line.extend_from_slice(b",\"end\":");
}

/// The record after its end offset, up to the value: type, rule and confidence.
fn push_after_end(line: &mut Vec<u8>, record: &FindingRecord<'_>) {
    line.extend_from_slice(b",\"type\":\"");
    line.extend_from_slice(record.entity.as_str().as_bytes());
    line.extend_from_slice(b"\",\"rule\":");
    push_str(line, record.rule);
    line.extend_from_slice(b",\"confidence\":");
    push_confidence(line, record.confidence);
}

/// The value, when the record carries one, and the closing brace.
fn push_close(line: &mut Vec<u8>, value: Option<&str>) {
    if let Some(value) = value {
        line.extend_from_slice(b",\"value\":");
        push_str(line, value);
    }
    line.push(b'}');
}

/// Appends `text` as a JSON string.
fn push_str(line: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        serde_json::to_writer(&mut *line, text).expect("writing to a Vec cannot fail");
    } else {
        line.push(b'"');
        line.extend_from_slice(text.as_bytes());
        line.push(b'"');
    }
}

/// Whether some byte of `bytes` must be escaped in a JSON string.
///
/// PERF: a table's findings repeat the path, column and rule in every record, and a
/// short-circuiting byte loop over them took 7 % of a Parquet scan's instructions
/// (cachegrind). Here 16-byte chunks are tested without branches, which the compiler
/// turns into vector compares, and the tail is the last 16 bytes again, overlapping. A
/// string of 8 to 15 bytes is two overlapping words tested at once (SWAR). Padding the
/// tail into a stack buffer instead cost a failed store-to-load forward per string: the
/// wide load waited on the narrow stores, 55 % of this function's samples and a fifth of
/// the writer thread's time on a table of ~5 M findings.
fn needs_escape(bytes: &[u8]) -> bool {
    fn any_special(chunk: &[u8; 16]) -> bool {
        chunk.iter().fold(false, |found, &b| {
            found | (b < 0x20) | (b == b'"') | (b == b'\\')
        })
    }
    /// Whether a byte of `word` is below 0x20, `"` or `\`: the classic tests for a zero
    /// byte and for a byte below `n`, whose yes or no is exact (borrows only blur which
    /// byte it is).
    fn any_special_byte(word: u64) -> bool {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
        let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH_BITS;
        let zero = |word: u64| below(word, 1);
        (below(word, 0x20)
            | zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\'))))
            != 0
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    match bytes.len() {
        0..8 => bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\'),
        8..16 => any_special_byte(word(0)) | any_special_byte(word(bytes.len() - 8)),
        len => {
            let chunk =
                |at: usize| -> &[u8; 16] { bytes[at..at + 16].try_into().expect("16 bytes") };
            (0..len / 16).any(|i| any_special(chunk(i * 16))) || any_special(chunk(len - 16))
        }
    }
}

/// Appends a confidence the way `serde_json` prints the `f64`: `0.9`, `0.875`, `1.0`.
fn push_confidence(line: &mut Vec<u8>, confidence: f64) {
    let thousandths = round_thousandths(confidence * 1000.0);
    // A multiple of 1/1000 in 0..=1 prints as its shortest decimal, which is this one.
    if !(0.0..=1000.0).contains(&thousandths) || thousandths / 1000.0 != confidence {
        serde_json::to_writer(&mut *line, &confidence).expect("writing to a Vec cannot fail");
        return;
    }
    let thousandths = thousandths as u32;
    line.extend_from_slice(if thousandths == 1000 { b"1." } else { b"0." });
    match thousandths % 1000 {
        0 => line.push(b'0'),
        fraction => {
            let digits = [fraction / 100, fraction / 10 % 10, fraction % 10];
            let kept = if digits[2] != 0 {
                3
            } else if digits[1] != 0 {
                2
            } else {
                1
            };
            line.extend(digits[..kept].iter().map(|&d| b'0' + d as u8));
        }
    }
}

fn sarif_result(record: &FindingRecord<'_>) -> serde_json::Value {
    let mut properties =
        serde_json::json!({"entity": record.entity, "confidence": record.confidence});
    for (key, value) in [
        ("doc", record.doc),
        ("field", record.field),
        ("column", record.column),
    ] {
        if let Some(value) = value {
            properties[key] = value.into();
        }
    }
    if let Some(row) = record.row {
        properties["row"] = row.into();
    }
    let mut region =
        serde_json::json!({"byteOffset": record.start, "byteLength": record.end - record.start});
    if let Some(value) = record.value {
        region["snippet"] = serde_json::json!({"text": value});
    }
    serde_json::json!({
        "ruleId": record.rule,
        "level": "error",
        "message": {"text": format!("{} found by rule {}", record.entity, record.rule)},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": record.path},
            "region": region,
        }}],
        "properties": properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str) -> FindingRecord<'_> {
        FindingRecord {
            path,
            doc: Some("n1"),
            field: None,
            row: None,
            column: None,
            start: 3,
            end: 14,
            entity: EntityType::Ssn,
            rule: "ssn.formatted",
            confidence: 0.9,
            value: None,
        }
    }

    fn render(format: SinkFormat, n: usize) -> String {
        let rules = vec![RuleDescription {
            id: "ssn.formatted".into(),
            name: "SSN".into(),
            entity: EntityType::Ssn,
        }];
        let mut sink = FindingSink::new(format, Vec::new(), rules);
        for _ in 0..n {
            sink.write(&record("a.jsonl")).unwrap();
        }
        String::from_utf8(sink.finish().unwrap()).unwrap()
    }

    #[test]
    fn jsonl_follows_the_contract() {
        let out = render(SinkFormat::Jsonl, 1);
        assert_eq!(
            out,
            "{\"path\":\"a.jsonl\",\"doc\":\"n1\",\"start\":3,\"end\":14,\"type\":\"SSN\",\"rule\":\"ssn.formatted\",\"confidence\":0.9}\n"
        );
    }

    #[test]
    fn records_are_written_as_serde_writes_them() {
        let mut line = Vec::new();
        let texts = [
            "notes/a.jsonl",
            "quote \" and \\ and \n\t\u{1}",
            "Zoë Nguyễn",
            "",
        ];
        for thousandths in 0..=1000u32 {
            let text = texts[thousandths as usize % texts.len()];
            let some = thousandths % 2 == 0;
            let record = FindingRecord {
                path: text,
                doc: some.then_some(text),
                field: (!some).then_some("note.text"),
                row: some.then_some(u64::from(thousandths) * 1_000_003),
                column: some.then_some(text),
                start: thousandths as usize,
                end: usize::MAX,
                entity: EntityType::ALL[thousandths as usize % EntityType::ALL.len()],
                rule: "name.titled",
                confidence: round_confidence(thousandths as f32 / 1000.0),
                value: some.then_some(text),
            };
            line.clear();
            push_record(&mut line, &record);
            assert_eq!(
                String::from_utf8(line.clone()).unwrap(),
                serde_json::to_string(&record).unwrap()
            );
        }
        for odd in [1.5, -0.25, 0.1234] {
            line.clear();
            push_confidence(&mut line, odd);
            assert_eq!(line, serde_json::to_vec(&odd).unwrap());
        }
    }

    #[test]
    fn thousandths_round_as_f64_round_does() {
        let mut xs = vec![
            0.0,
            0.5,
            0.499_999_999_999_999_94,
            1.5,
            2.5,
            999.5,
            999.499_999_999_999_9,
            1000.0,
            1000.4,
            -0.5,
            -3.7,
            f64::NAN,
            f64::INFINITY,
        ];
        xs.extend((0..=100_000).map(|i| f64::from(i) / 100.0));
        xs.extend((0..=10_000).map(|i| f64::from(i as f32 / 10_000.0) * 1000.0));
        for x in xs {
            let (ours, std) = (round_thousandths(x), x.round());
            assert!(
                ours == std || (ours.is_nan() && std.is_nan()),
                "{x}: {ours} != {std}"
            );
        }
    }

    #[test]
    fn escapes_are_found_at_every_position_of_long_and_short_strings() {
        let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        for len in 0..40 {
            let plain = "a".repeat(len);
            assert!(!needs_escape(plain.as_bytes()), "{len}");
            for at in 0..len {
                for byte in 0..=u8::MAX {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = byte;
                    assert_eq!(needs_escape(&bytes), special(byte), "{len} {at} {byte}");
                    // Next to a high byte, whose borrow must not leak into the answer.
                    if at + 1 < len {
                        bytes[at + 1] = 0xff;
                        assert_eq!(needs_escape(&bytes), special(byte), "{len} {at} {byte}");
                    }
                }
            }
        }
    }

    #[test]
    fn json_and_sarif_are_valid_json_with_and_without_findings() {
        for n in [0, 2] {
            let json: serde_json::Value =
                serde_json::from_str(&render(SinkFormat::Json, n)).unwrap();
            assert_eq!(json.as_array().unwrap().len(), n);
            let sarif: serde_json::Value =
                serde_json::from_str(&render(SinkFormat::Sarif, n)).unwrap();
            assert_eq!(sarif["version"], "2.1.0");
            assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), n);
            assert_eq!(
                sarif["runs"][0]["tool"]["driver"]["rules"][0]["id"],
                "ssn.formatted"
            );
        }
    }

    /// Findings of a table's cells, and whether each is reported whole (from a template).
    fn cells(path: &str) -> Vec<(FindingRecord<'_>, bool)> {
        let whole = |row: u64, end: usize, value: Option<&'static str>| FindingRecord {
            path,
            doc: None,
            field: None,
            row: Some(row),
            column: Some("pat \"nm\""),
            start: 0,
            end,
            entity: EntityType::Name,
            rule: "column.label",
            confidence: 0.875,
            value,
        };
        vec![
            (whole(0, 9, None), true),
            (
                FindingRecord {
                    column: Some("note"),
                    start: 4,
                    entity: EntityType::Ssn,
                    rule: "ssn.formatted",
                    confidence: 0.9,
                    ..whole(0, 15, Some("123-45-6789"))
                },
                false,
            ),
            (whole(7, 12, Some("Zo\u{eb} \"Q\"\n")), true),
            (whole(1_000_000_007, 3, Some("")), true),
        ]
    }

    #[test]
    fn cells_written_from_a_template_are_the_records_written_whole() {
        let template = CellTemplate::new(
            "t.csv",
            "pat \"nm\"",
            EntityType::Name,
            "column.label",
            0.875,
        );
        for format in [
            SinkFormat::Jsonl,
            SinkFormat::Json,
            SinkFormat::Sarif,
            SinkFormat::Summary,
        ] {
            let mut whole = FindingSink::new(format, Vec::new(), Vec::new());
            let mut templated = FindingSink::new(format, Vec::new(), Vec::new());
            for (record, from_template) in cells("t.csv") {
                whole.write(&record).unwrap();
                if from_template {
                    let row = record.row.unwrap();
                    templated
                        .write_cell(&template, row, record.end, record.value)
                        .unwrap();
                } else {
                    templated.write(&record).unwrap();
                }
            }
            assert_eq!(templated.count(), whole.count());
            let (whole, templated) = (whole.finish().unwrap(), templated.finish().unwrap());
            assert_eq!(
                String::from_utf8(templated).unwrap(),
                String::from_utf8(whole).unwrap(),
                "{format:?}"
            );
        }
    }

    #[test]
    fn summary_counts_by_type_and_file() {
        let out = render(SinkFormat::Summary, 2);
        assert!(out.starts_with("2 finding(s) in 1 of 1 file(s)"), "{out}");
        assert!(out.contains("SSN"));
    }
}
