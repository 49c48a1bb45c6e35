//! End-to-end tests of tables in the `deid` binary: `classify`, `scan` and `redact` on CSV
//! and Parquet, and bad table inputs.
//!
//! The bundled pack is relied on only for stable facts (a dashed SSN, an e-mail address, a
//! NANP phone number); column labels are pinned with `--column` where a test is about the
//! table path rather than the classifier.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

/// Identifiers used in inputs; none may reach stderr.
const SECRETS: &[&str] = &[
    "536-90-4399",
    "ann.lee@example.org",
    "Lopez",
    "312-555-0142",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn jsonl(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

fn deid(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_deid"))
        .args(args)
        .output()
        .expect("deid runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for secret in SECRETS {
        assert!(
            !stderr.contains(secret),
            "stderr holds {secret:?}: {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "deid panicked: {stderr}");
    Run {
        code: out.status.code().expect("deid exits"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// A small patients table: an SSN column with a meaningless header, names, a free-text
/// column with a quoted newline, and a column that holds nothing.
const PATIENTS: &str = "id,col_7,email,note,lab\n\
    1,536-90-4399,ann.lee@example.org,\"Seen with daughter.\nCall 312-555-0142, ext 2.\",7.1\n\
    2,219-09-9999,bo.ray@example.com,,6.8\n\
    3,078-05-1120,cy.dee@example.net,Stable.,5.9\n\
    4,457-55-5462,di.fox@example.org,No change.,6.0\n\
    5,123-45-6789,ed.gum@example.com,Doing well.,6.2\n";

#[test]
fn classify_labels_columns_by_values_and_writes_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "patients.csv", PATIENTS);
    let run = deid(&["classify", "--format", "json", &csv]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let classes: Value = serde_json::from_str(&run.stdout).unwrap();
    let columns = &classes[csv.as_str()];
    assert_eq!(columns["col_7"], "SSN");
    assert_eq!(columns["email"], "EMAIL");
    assert_eq!(columns["note"], "FREE_TEXT");
    assert_eq!(columns["lab"], Value::Null);

    let table = deid(&[
        "classify", "--format", "table", "--column", "lab=none", &csv,
    ]);
    assert!(table.stdout.contains("col_7"), "{}", table.stdout);
    assert!(table.stdout.contains("EVIDENCE"));
    assert!(table.stdout.contains("pinned by the user"));
}

#[test]
fn scan_reports_cells_with_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "patients.csv", PATIENTS);
    let run = deid(&["scan", "--format", "jsonl", "-q", &csv]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.jsonl();
    let ssn = findings
        .iter()
        .find(|f| f["column"] == "col_7" && f["row"] == 0)
        .expect("the SSN cell of row 0");
    assert_eq!(
        (
            ssn["type"].as_str(),
            ssn["start"].as_u64(),
            ssn["end"].as_u64()
        ),
        (Some("SSN"), Some(0), Some(11))
    );
    assert!(ssn.get("value").is_none());
    // The phone number sits on the second physical line of row 0's quoted note.
    let phone = findings
        .iter()
        .find(|f| f["column"] == "note" && f["type"] == "PHONE")
        .expect("the phone in the note");
    assert_eq!(phone["row"], 0);
    let note = "Seen with daughter.\nCall 312-555-0142, ext 2.";
    let start = phone["start"].as_u64().unwrap() as usize;
    assert!(note[start..].starts_with("312-555-0142"), "{phone}");
    assert!(
        findings
            .iter()
            .all(|f| f["column"] != "lab" && f["column"] != "id")
    );
    assert!(
        findings
            .iter()
            .any(|f| f["row"] == 4 && f["column"] == "email")
    );
}

#[test]
fn findings_of_a_table_of_many_parts_come_in_row_order() {
    // About 6 MiB in parts of 1 MiB: more parts than two threads scan at once, so findings
    // of one window are written while the next is scanned.
    let dir = tempfile::tempdir().unwrap();
    let filler = "stable on room air; plan unchanged ".repeat(6);
    let mut csv = String::from("ssn,remark\n");
    let rows = 30_000;
    for row in 0..rows {
        let ssn = format!("{:03}-{:02}-{:04}", 100 + row % 500, 1 + row % 98, 1 + row);
        csv.push_str(&format!("{ssn},{filler}\n"));
    }
    let path = write(dir.path(), "many_parts.csv", &csv);
    let run = deid(&["scan", "--format", "jsonl", "-q", "-j", "2", &path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // One thread has parts enough to scan cells where they are read, two copy them to
    // scan in parallel tasks: the findings are the same.
    let one_thread = deid(&["scan", "--format", "jsonl", "-q", "-j", "1", &path]);
    assert_eq!(one_thread.stdout, run.stdout);
    let rows_found: Vec<u64> = run
        .jsonl()
        .iter()
        .map(|f| {
            assert_eq!(f["column"], "ssn", "{f}");
            f["row"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(rows_found, (0..rows as u64).collect::<Vec<_>>());
}

#[test]
fn repeated_free_text_cells_are_reported_and_redacted_on_every_row() {
    // Cells of the same text share one scan: each row must still get its findings.
    const FREE: &str = "note=FREE_TEXT";
    let dir = tempfile::tempdir().unwrap();
    let note = "Call 312-555-0142 after 5pm.";
    let mut csv = String::from("id,note\n");
    for row in 0..600 {
        let text = if row % 3 == 0 { note } else { "Doing well." };
        csv.push_str(&format!("{row},{text}\n"));
    }
    let path = write(dir.path(), "repeats.csv", &csv);
    let run = deid(&[
        "scan", "--format", "jsonl", "-q", "-j", "2", "--column", FREE, &path,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let rows: Vec<u64> = run
        .jsonl()
        .iter()
        .filter(|f| f["column"] == "note")
        .map(|f| {
            assert_eq!(
                (f["type"].as_str(), f["start"].as_u64()),
                (Some("PHONE"), Some(5))
            );
            f["row"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(rows, (0..600).step_by(3).collect::<Vec<u64>>());

    let out = dir.path().join("out.csv");
    let out_path = out.to_str().unwrap();
    let run = deid(&[
        "redact", "-q", "-j", "2", "--column", FREE, &path, "-o", out_path,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let redacted = std::fs::read_to_string(&out).unwrap();
    assert!(!redacted.contains("312-555-0142"));
    assert_eq!(
        redacted.matches("Call [PHONE] after 5pm.").count(),
        200,
        "{redacted:.300}"
    );
}

#[test]
fn redact_keeps_shape_delimiter_and_quoting() {
    let dir = tempfile::tempdir().unwrap();
    let semicolons = PATIENTS.replace(',', ";").replace("; ext", ", ext");
    let csv = write(dir.path(), "patients.csv", &semicolons);
    let out = dir.path().join("out.csv");
    let run = deid(&["redact", "-q", &csv, "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[0][1], "[SSN]");
    assert_eq!(&rows[0][2], "[EMAIL]");
    assert!(
        rows[0][3].starts_with("Seen with daughter.\nCall [PHONE]"),
        "{:?}",
        &rows[0][3]
    );
    assert_eq!(&rows[2][3], "Stable.");
    assert_eq!(&rows[0][4], "7.1");
    assert_eq!(&rows[1][0], "2");
    assert!(text.starts_with("id;col_7;email;note;lab\n"));
}

#[test]
fn pinned_columns_override_the_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "patients.csv", PATIENTS);
    let classes = write(
        dir.path(),
        "classes.json",
        r#"{"data/patients.csv": {"id": "MRN", "email": null}}"#,
    );
    let out = dir.path().join("out.csv");
    let run = deid(&[
        "redact",
        "-q",
        "--classes",
        &classes,
        &csv,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("[MRN],[SSN],ann.lee@example.org"), "{text}");

    let bad = deid(&["scan", "--column", "email=PHONY", &csv]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("PHONY"), "{}", bad.stderr);
}

#[test]
fn tables_are_told_by_content_in_a_mixed_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "export", PATIENTS.replace(',', "\t"));
    write(dir.path(), "note.txt", "SSN 536-90-4399 on file.\n");
    let run = deid(&[
        "scan",
        "--format",
        "jsonl",
        "-q",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.jsonl();
    assert!(
        findings
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("export") && f["column"] == "col_7")
    );
    assert!(
        findings
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("note.txt") && f.get("row").is_none())
    );
}

fn parquet_fixture(path: &Path) {
    let schema_batch = |ids: Vec<i64>, ssns: Vec<Option<&str>>, notes: Vec<&str>| {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("ssn", Arc::new(StringArray::from(ssns)) as ArrayRef),
            ("note", Arc::new(StringArray::from(notes)) as ArrayRef),
        ])
        .unwrap()
    };
    let batch = schema_batch(
        vec![1, 2, 3, 4, 5],
        vec![
            Some("536-90-4399"),
            None,
            Some("078-05-1120"),
            Some("457-55-5462"),
            Some("123-45-6789"),
        ],
        vec![
            "Call 312-555-0142 today.",
            "Stable.",
            "No change.",
            "Mail ann.lee@example.org.",
            "Fine.",
        ],
    );
    write_parquet(path, &batch, 2);
}

/// Writes `batch` to `path` in row groups of `group_rows`.
fn write_parquet(path: &Path, batch: &RecordBatch, group_rows: usize) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut writer =
        ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn parquet_scan_and_redact_keep_schema_rows_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.parquet");
    parquet_fixture(&input);
    let run = deid(&[
        "scan",
        "--format",
        "jsonl",
        "-q",
        "--column",
        "note=FREE_TEXT",
        input.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.jsonl();
    assert!(
        findings
            .iter()
            .any(|f| f["column"] == "ssn" && f["row"] == 4)
    );
    assert!(
        findings
            .iter()
            .any(|f| f["column"] == "note" && f["row"] == 3 && f["type"] == "EMAIL")
    );

    let out = dir.path().join("out.parquet");
    let run = deid(&[
        "redact",
        "-q",
        "--column",
        "note=FREE_TEXT",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap()).unwrap();
    let groups: Vec<i64> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, [2, 2, 1]);
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let column = |batch: &RecordBatch, name: &str| -> Vec<Option<String>> {
        let array = batch
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        array.iter().map(|v| v.map(str::to_owned)).collect()
    };
    let ssns: Vec<Option<String>> = batches.iter().flat_map(|b| column(b, "ssn")).collect();
    assert_eq!(ssns[0].as_deref(), Some("[SSN]"));
    assert_eq!(ssns[1], None, "nulls stay null");
    let notes: Vec<Option<String>> = batches.iter().flat_map(|b| column(b, "note")).collect();
    assert_eq!(notes[0].as_deref(), Some("Call [PHONE] today."));
    assert_eq!(notes[1].as_deref(), Some("Stable."));
    let ids = batches[0].column_by_name("id").unwrap();
    assert!(
        ids.as_any().downcast_ref::<Int64Array>().is_some(),
        "untouched columns keep their type"
    );
}

/// A Parquet file of `rows` rows in row groups of `group_rows`: an SSN column and a note
/// column with a phone number in every seventh row.
fn parquet_of_rows(path: &Path, rows: usize, group_rows: usize) {
    let ssns: Vec<String> = (0..rows)
        .map(|i| format!("{:03}-{:02}-{:04}", 100 + i % 500, 10 + i % 80, 1000 + i))
        .collect();
    let notes: Vec<String> = (0..rows)
        .map(|i| match i % 7 {
            0 => format!("Visit {i}: call 312-555-0142 today."),
            _ => format!("Visit {i}: stable."),
        })
        .collect();
    let batch = RecordBatch::try_from_iter([
        ("ssn", Arc::new(StringArray::from(ssns)) as ArrayRef),
        ("note", Arc::new(StringArray::from(notes)) as ArrayRef),
    ])
    .unwrap();
    write_parquet(path, &batch, group_rows);
}

#[test]
fn a_large_row_group_gives_the_findings_of_small_ones_in_order() {
    // More rows than one decoded batch (8,192), so the big row group is scanned in slices.
    const ROWS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let scan = |group_rows: usize| {
        let input = dir.path().join(format!("groups-of-{group_rows}.parquet"));
        parquet_of_rows(&input, ROWS, group_rows);
        let run = deid(&[
            "scan",
            "--format",
            "jsonl",
            "-q",
            "-j",
            "2",
            "--column",
            "ssn=SSN",
            "--column",
            "note=FREE_TEXT",
            input.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        run.jsonl()
            .into_iter()
            .map(|mut finding| {
                finding.as_object_mut().unwrap().remove("path");
                finding
            })
            .collect::<Vec<Value>>()
    };
    let whole = scan(ROWS);
    assert_eq!(whole, scan(1_000));
    let count = |column: &str| whole.iter().filter(|f| f["column"] == column).count();
    assert_eq!(count("ssn"), ROWS);
    assert_eq!(count("note"), ROWS.div_ceil(7));
    let rows: Vec<u64> = whole.iter().map(|f| f["row"].as_u64().unwrap()).collect();
    assert!(rows.is_sorted(), "findings in row order");
    assert_eq!(rows.last(), Some(&(ROWS as u64 - 1)), "0-based rows");
}

mod bad_input {
    use super::*;

    #[test]
    fn truncated_parquet_is_an_error_naming_the_file_and_leaves_no_output() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("t.parquet");
        parquet_fixture(&input);
        let bytes = std::fs::read(&input).unwrap();
        std::fs::write(&input, &bytes[..bytes.len() / 2]).unwrap();
        let out = dir.path().join("out.parquet");
        let run = deid(&[
            "redact",
            "-q",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("t.parquet"), "{}", run.stderr);
        assert!(!out.exists());
        let scan = deid(&["scan", input.to_str().unwrap()]);
        assert_eq!(scan.code, 2);
    }

    #[test]
    fn an_unterminated_quote_at_eof_warns_and_is_fatal_with_strict() {
        let dir = tempfile::tempdir().unwrap();
        let csv = write(dir.path(), "open.csv", "a,b\n1,\"never closed\n2,3\n");
        let run = deid(&["scan", "--format", "jsonl", &csv]);
        assert!(run.code < 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("open.csv: warning:") && run.stderr.contains("unterminated quote"),
            "{}",
            run.stderr
        );
        let out = dir.path().join("out.csv");
        let strict = deid(&["redact", "--strict", &csv, "-o", out.to_str().unwrap()]);
        assert_eq!(strict.code, 2, "{}", strict.stderr);
        assert!(!out.exists());
    }

    #[test]
    fn ragged_rows_and_invalid_utf8_are_reported_with_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let csv = write(
            dir.path(),
            "ragged.csv",
            b"a,b\n1,2\n3,4,5\n\xff\xfe,6\n".as_slice(),
        );
        let run = deid(&["scan", "--format", "jsonl", &csv]);
        assert!(run.code < 2, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("ragged.csv: row 1: warning: 3 field(s) where the header has 2"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("ragged.csv: row 2: warning: column \"a\": not valid UTF-8"),
            "{}",
            run.stderr
        );
        let strict = deid(&["scan", "--strict", &csv]);
        assert_eq!(strict.code, 2);
    }

    #[test]
    fn invalid_utf8_in_a_header_is_named_lossily() {
        let dir = tempfile::tempdir().unwrap();
        let csv = write(dir.path(), "h.csv", b"ok,b\xffad\n1,2\n".as_slice());
        let run = deid(&["classify", "--format", "json", &csv]);
        assert!(run.code < 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("header, column 2: not valid UTF-8"),
            "{}",
            run.stderr
        );
        assert!(run.stdout.contains("b\u{fffd}ad"));
    }

    #[test]
    fn an_empty_table_redacts_to_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let csv = write(dir.path(), "empty.csv", "");
        let out = dir.path().join("out.csv");
        let run = deid(&["redact", "-q", &csv, "-o", out.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(std::fs::read(&out).unwrap(), b"");
    }

    #[test]
    fn a_million_columns_in_a_header_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let header: Vec<String> = (0..1_000_000).map(|i| format!("c{i}")).collect();
        let body = vec![""; 1_000_000].join(",");
        let csv = write(
            dir.path(),
            "wide.csv",
            format!("{}\n{body}\n", header.join(",")),
        );
        let run = deid(&["classify", "--format", "json", "-q", &csv]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let classes: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(classes[csv.as_str()].as_object().unwrap().len(), 1_000_000);
    }

    #[test]
    fn a_100_mb_cell_is_copied_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = b"id,blob\n1,\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100 << 20));
        data.extend_from_slice(b"\"\n2,y\n");
        let csv = write(dir.path(), "big.csv", &data);
        let out = dir.path().join("out.csv");
        let run = deid(&[
            "redact",
            "-q",
            "--column",
            "blob=none",
            "--column",
            "id=none",
            &csv,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let written = std::fs::metadata(&out).unwrap().len();
        // The cell needs no quotes: two bytes fewer.
        assert_eq!(written, data.len() as u64 - 2);
    }

    #[test]
    fn parquet_from_stdin_is_a_clear_error() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tables.rs");
        assert!(path.exists());
        let run = deid(&["scan", "--input-format", "parquet", "-"]);
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("stdin"), "{}", run.stderr);
    }
}

/// Policies, keys and the keyed actions, end to end (issue 4).
mod policies {
    use super::*;

    /// Visits of two patients; MRNs repeat across rows and tables.
    const VISITS: &str = "patient,mrn,visit,zip,age\n\
        p1,MR00123456,03/14/2021,02139,91\n\
        p1,MR00123456,04/02/2021,03601,89\n\
        p2,MR00999888,2021-03-14,10027,90\n\
        p2,MR00999888,2021-05-01,10027,45\n";

    fn keygen(dir: &Path) -> String {
        let key = dir.join("deid.key");
        let run = deid(&["keygen", "-o", key.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        key.display().to_string()
    }

    fn read_csv(path: &Path) -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(path)
            .unwrap();
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
        let i = rows[0].iter().position(|c| c == name).expect(name);
        rows[1..].iter().map(|r| r[i].clone()).collect()
    }

    fn parquet_mrns(path: &Path, mrns: &[&str]) {
        let batch = RecordBatch::try_from_iter([(
            "mrn",
            Arc::new(StringArray::from(mrns.to_vec())) as ArrayRef,
        )])
        .unwrap();
        let mut writer =
            ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn parquet_column(path: &Path, name: &str) -> Vec<String> {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut values = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let array = batch.column_by_name(name).unwrap();
            let strings = array.as_any().downcast_ref::<StringArray>().unwrap();
            values.extend(strings.iter().map(|v| v.unwrap_or_default().to_owned()));
        }
        values
    }

    fn policy(dir: &Path, action: &str) -> String {
        write(
            dir,
            &format!("{action}.toml"),
            format!("name = '{action}'\n[entities]\nMRN = '{action}'\n"),
        )
    }

    /// A temporary directory with `visits.csv` (VISITS) in it.
    struct Fixture {
        dir: tempfile::TempDir,
        csv: String,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let csv = write(dir.path(), "visits.csv", VISITS);
            Fixture { dir, csv }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        /// Runs `deid redact ARGS… -o OUT` (OUT named in the directory) and returns the run
        /// and OUT.
        fn redact(&self, args: &[&str], out: &str) -> (Run, PathBuf) {
            let out = self.path().join(out);
            let mut all = vec!["redact"];
            all.extend_from_slice(args);
            all.extend_from_slice(&["-o", out.to_str().unwrap()]);
            (deid(&all), out)
        }

        /// Like [`Fixture::redact`], quietly, and asserts success.
        fn redact_ok(&self, args: &[&str], out: &str) -> PathBuf {
            let mut quiet = vec!["-q"];
            quiet.extend_from_slice(args);
            let (run, out) = self.redact(&quiet, out);
            assert_eq!(run.code, 0, "{}", run.stderr);
            out
        }
    }

    #[test]
    fn the_same_mrn_gets_the_same_hash_and_token_in_csv_and_parquet() {
        let fixture = Fixture::new();
        let key = keygen(fixture.path());
        let labs = fixture.path().join("labs.parquet");
        let lab_originals = ["MR00999888", "MR00123456", "MR00123456", "MR00555000"];
        parquet_mrns(&labs, &lab_originals);
        let lab_originals = lab_originals.map(String::from);
        // Rows of the join on MRN: 2×2 + 2×1 in the originals.
        let joined = |a: &[String], b: &[String]| {
            a.iter()
                .map(|x| b.iter().filter(|y| *y == x).count())
                .sum::<usize>()
        };
        let before = column(&read_csv(Path::new(&fixture.csv)), "mrn");
        assert_eq!(joined(&before, &lab_originals), 6);
        for action in ["hash", "token"] {
            let policy = policy(fixture.path(), action);
            let redact = |out: &str, key: &str| {
                let args = [
                    "--policy",
                    &policy,
                    "--key-file",
                    key,
                    "--column",
                    "mrn=MRN",
                ];
                let inputs = [fixture.csv.as_str(), labs.to_str().unwrap()];
                fixture.redact_ok(&[&args[..], &inputs[..]].concat(), out)
            };
            let out = redact(action, &key);
            let visits = column(&read_csv(&out.join("visits.csv")), "mrn");
            let lab_mrns = parquet_column(&out.join("labs.parquet"), "mrn");
            assert!(
                visits[0].starts_with("MRN-") && visits[0] != "MR00123456",
                "{visits:?}"
            );
            assert_eq!(visits[0], visits[1]);
            assert_ne!(visits[1], visits[2]);
            assert_eq!(joined(&visits, &lab_mrns), 6, "{action}");

            // A second run with the same key (and store) gives the same tokens.
            let again = redact(&format!("{action}-again"), &key);
            assert_eq!(column(&read_csv(&again.join("visits.csv")), "mrn"), visits);

            // A new key (and so a new store) changes every token.
            let other_dir = tempfile::tempdir().unwrap();
            let other_key = keygen(other_dir.path());
            let rotated = redact(&format!("{action}-rotated"), &other_key);
            let rotated = column(&read_csv(&rotated.join("visits.csv")), "mrn");
            assert!(
                rotated.iter().zip(&visits).all(|(a, b)| a != b),
                "{rotated:?}"
            );
        }
    }

    #[test]
    fn shifted_dates_keep_each_subjects_intervals_and_format() {
        let fixture = Fixture::new();
        let key = keygen(fixture.path());
        let original = [
            "03/14/2021",
            "04/02/2021",
            "2021-03-14",
            "2021-05-01",
            "March 14, 2021",
            "April 2, 2021",
        ];
        let mut rows = String::from("patient,visit\n");
        for (i, date) in original.iter().enumerate() {
            rows.push_str(&format!("p{},\"{date}\"\n", i / 2));
        }
        let visits = write(fixture.path(), "shifts.csv", rows);
        let policy = write(
            fixture.path(),
            "shift.toml",
            "name = 'shift'\n[entities]\nDATE = 'shift'\n\
             [shift]\nmin_days = -30\nmax_days = 30\nsubject = 'patient'\n",
        );
        let args = [
            "--policy",
            &policy,
            "--key-file",
            &key,
            "--column",
            "visit=DATE",
            "--column",
            "patient=none",
            &visits,
        ];
        let shifted = column(&read_csv(&fixture.redact_ok(&args, "out.csv")), "visit");
        let parse = |v: &str| {
            chrono::NaiveDate::parse_from_str(v, "%m/%d/%Y")
                .or_else(|_| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d"))
                .or_else(|_| chrono::NaiveDate::parse_from_str(v, "%B %-d, %Y"))
                .unwrap_or_else(|e| panic!("{v:?} lost its format: {e}"))
        };
        let mut offsets = Vec::new();
        for pair in 0..3 {
            let (a, b) = (2 * pair, 2 * pair + 1);
            let before = parse(original[b]) - parse(original[a]);
            let after = parse(&shifted[b]) - parse(&shifted[a]);
            assert_eq!(before, after, "subject {pair}: {shifted:?}");
            let offset = (parse(&shifted[a]) - parse(original[a])).num_days();
            assert!((-30..=30).contains(&offset) && offset != 0, "{offset}");
            offsets.push(offset);
        }
        assert!(
            offsets[0] != offsets[1] || offsets[1] != offsets[2],
            "{offsets:?}"
        );
    }

    #[test]
    fn encrypted_values_decrypt_to_the_original_and_keep_their_format() {
        let fixture = Fixture::new();
        let key = keygen(fixture.path());
        let policy = write(
            fixture.path(),
            "fpe.toml",
            "name = 'fpe'\n[entities]\nMRN = 'encrypt'\n",
        );
        let args = [
            "--policy",
            &policy,
            "--key-file",
            &key,
            "--column",
            "mrn=MRN",
            &fixture.csv,
        ];
        let encrypted = column(&read_csv(&fixture.redact_ok(&args, "out.csv")), "mrn");
        for (cipher, plain) in encrypted
            .iter()
            .zip(["MR00123456", "MR00123456", "MR00999888"])
        {
            assert_ne!(cipher, plain);
            assert_eq!(cipher.len(), plain.len());
            assert!(cipher[2..].bytes().all(|b| b.is_ascii_digit()), "{cipher}");
            assert!(
                cipher[..2].bytes().all(|b| b.is_ascii_uppercase()),
                "{cipher}"
            );
        }
        let run = deid(&[
            "decrypt",
            "--key-file",
            &key,
            "--type",
            "MRN",
            &encrypted[0],
            &encrypted[2],
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, "MR00123456\nMR00999888\n");
    }

    #[test]
    fn the_default_policy_generalises_exactly_and_works_without_a_key() {
        let fixture = Fixture::new();
        let report = fixture.path().join("report.json");
        let (run, out) = fixture.redact(
            &[
                "--column",
                "visit=DATE",
                "--column",
                "zip=ZIP",
                "--column",
                "age=AGE_OVER_89",
                "--column",
                "mrn=MRN",
                "--column",
                "patient=none",
                &fixture.csv,
                "--report",
                report.to_str().unwrap(),
            ],
            "out.csv",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("no key"), "{}", run.stderr);
        let rows = read_csv(&out);
        assert_eq!(column(&rows, "visit"), ["2021", "2021", "2021", "2021"]);
        assert_eq!(column(&rows, "zip"), ["021", "000", "100", "100"]);
        assert_eq!(column(&rows, "age"), ["90+", "89", "90+", "45"]);
        assert_eq!(column(&rows, "mrn"), ["[MRN]"; 4]);

        let report = std::fs::read_to_string(&report).unwrap();
        for value in ["MR00123456", "02139", "03/14/2021", "p1"] {
            assert!(!report.contains(value), "the report holds {value}");
        }
        let report: Value = serde_json::from_str(&report).unwrap();
        assert_eq!(report["policy"]["name"], "safe-harbor");
        assert_eq!(report["policy"]["keyless"], true);
        assert_eq!(report["policy"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(report["table_rows"], 4);
        assert_eq!(report["by_action"]["generalize"], 12);
        assert!(
            report["columns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["column"] == "zip"
                    && c["action"] == "generalize"
                    && c["cells_changed"] == 4)
        );
    }

    #[test]
    fn keys_are_checked_and_never_silently_missing() {
        let fixture = Fixture::new();
        let hash = policy(fixture.path(), "hash");
        let (run, out) = fixture.redact(&["--policy", &hash, &fixture.csv], "out.csv");
        assert_eq!(run.code, 2);
        assert!(
            run.stderr.contains("`hash`") && run.stderr.contains("entities.MRN"),
            "{}",
            run.stderr
        );
        assert!(!out.exists());

        let key = keygen(fixture.path());
        let again = deid(&["keygen", "-o", &key]);
        let nested = fixture.path().join("keys/sub/deid.key");
        assert_eq!(deid(&["keygen", "-o", nested.to_str().unwrap()]).code, 0);
        let dir_mode = std::fs::metadata(nested.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            dir_mode & 0o777,
            0o700,
            "a created key directory is private"
        );
        assert_eq!(again.code, 2, "keygen must not overwrite a key");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (run, _) = fixture.redact(
            &["--policy", &hash, "--key-file", &key, &fixture.csv],
            "out.csv",
        );
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
    }

    #[test]
    fn policy_show_prints_every_type_and_drop_removes_columns() {
        let show = deid(&["policy", "show"]);
        assert_eq!(show.code, 0, "{}", show.stderr);
        assert!(
            show.stdout.contains("ZIP = \"generalize\""),
            "{}",
            show.stdout
        );
        assert!(show.stdout.contains("MRN = \"token\""));
        assert!(show.stdout.contains("# sha256"));
        let keyless = deid(&["policy", "show", "--keyless"]);
        assert!(
            keyless.stdout.contains("MRN = \"tag\""),
            "{}",
            keyless.stdout
        );

        let fixture = Fixture::new();
        let policy = write(
            fixture.path(),
            "drop.toml",
            "name = 'd'\n[columns]\n'visits.age' = 'drop'\n",
        );
        let out = fixture.redact_ok(&["--policy", &policy, &fixture.csv], "out.csv");
        let rows = read_csv(&out);
        assert_eq!(rows[0], ["patient", "mrn", "visit", "zip"]);
        assert!(rows.iter().all(|r| r.len() == 4));
    }
}
