//! The gate's scanner: deid's engine and readers (text, JSONL, CSV, Parquet) run on one
//! queued file, with findings reduced to counts and masked notes for reviewers.

use std::io::{self, Write};
use std::path::Path;

use deid::Engine;
use deid_formats::sink::{FindingSink, SinkFormat};
use deid_gate::scan::{MAX_NOTES, mask};
use deid_gate::{Findings, Note, Scanner};

use super::super::pipeline;

/// Scans with an engine compiled once at service start.
pub(super) struct EngineScanner {
    engine: Engine,
}

impl EngineScanner {
    pub(super) fn new(engine: Engine) -> EngineScanner {
        EngineScanner { engine }
    }
}

impl Scanner for EngineScanner {
    fn scan(&self, path: &Path, _name: &str) -> Result<Findings, String> {
        let mut sink = FindingSink::new(SinkFormat::Jsonl, Collector::default(), Vec::new());
        let read = pipeline::scan_file(&self.engine, path, &mut sink).map_err(|e| {
            // The pipeline's errors name the gate's stored path, which means nothing to a
            // reviewer; keep the cause.
            format!("{:#}", e).replace(&path.display().to_string(), "file")
        })?;
        let collector = sink.finish().map_err(|e| e.to_string())?;
        if read.errors > 0 {
            return Err(format!(
                "{} part(s) could not be read (malformed records or cells)",
                read.errors
            ));
        }
        if read.files == 0 && std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Err("not a format deid reads".to_owned());
        }
        Ok(collector.findings)
    }
}

/// Reads the findings JSONL as the sink writes it: counts every finding, keeps the first
/// notes with their values masked, and drops the values.
#[derive(Default)]
struct Collector {
    line: Vec<u8>,
    findings: Findings,
}

impl Collector {
    fn take_line(&mut self) {
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(&self.line) else {
            return;
        };
        let entity = record["type"].as_str().unwrap_or("UNKNOWN").to_owned();
        *self.findings.counts.entry(entity.clone()).or_default() += 1;
        if self.findings.notes.len() < MAX_NOTES {
            self.findings.notes.push(Note {
                entity,
                location: location(&record),
                excerpt: mask(record["value"].as_str().unwrap_or_default()),
            });
        }
    }
}

/// Where a finding is, without anything from the data but column and field names.
fn location(record: &serde_json::Value) -> String {
    let span = format!("bytes {}-{}", record["start"], record["end"]);
    match (
        record["row"].as_u64(),
        record["column"].as_str(),
        record["field"].as_str(),
    ) {
        (Some(row), Some(column), _) => format!("row {}, column {column}", row + 1),
        (_, _, Some(field)) => format!("field {field}, {span}"),
        _ => span,
    }
}

impl Write for Collector {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..end]);
            self.take_line();
            self.line.clear();
            rest = &rest[end + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
