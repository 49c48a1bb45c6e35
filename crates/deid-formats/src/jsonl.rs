//! JSONL records: one JSON object per line.
//!
//! A record's text fields are its string values, found recursively and named by their
//! path (`note`, `visit.summary`, `notes.0`). By default every string field is scanned
//! except the id field, whose value names the document in findings. Rewriting a record
//! keeps every field, the field order (serde_json's `preserve_order`) and numbers exactly as
//! written (`arbitrary_precision`); only the rewritten strings change.

use std::ops::Range;

use serde_json::{Map, Value};

/// Which fields of a record are scanned, and which names the document.
#[derive(Clone, Debug)]
pub struct FieldSelection {
    /// Field paths to scan; empty means every string field but the id field.
    pub fields: Vec<String>,
    /// The top-level field whose value is the document id.
    pub id_field: String,
}

impl Default for FieldSelection {
    fn default() -> FieldSelection {
        FieldSelection { fields: Vec::new(), id_field: "id".to_owned() }
    }
}

impl FieldSelection {
    fn wants(&self, path: &str) -> bool {
        if self.fields.is_empty() { path != self.id_field } else { self.fields.iter().any(|f| f == path) }
    }
}

/// A line that is not a JSON object.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct JsonlError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong (never the line's content).
    pub message: String,
}

/// Parses one line into a record.
///
/// # Errors
/// When the line is not valid JSON, not UTF-8, or not an object. The message names the
/// column but never quotes the line, which may hold identifiers.
pub fn parse_record(line: &[u8], line_number: u64) -> Result<Map<String, Value>, JsonlError> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(JsonlError {
            line: line_number,
            message: format!("expected a JSON object, found {}", kind_of(&other)),
        }),
        Err(e) => Err(JsonlError {
            line: line_number,
            message: format!("invalid JSON at column {}: {}", e.column(), classify(&e)),
        }),
    }
}

fn classify(error: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match error.classify() {
        Category::Io => "read error",
        Category::Syntax => "syntax error",
        Category::Data => "data error",
        Category::Eof => "unexpected end of line",
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether a line holds nothing but whitespace (kept as is, not a record).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The document id of a record: the id field's string or number, if present.
pub fn document_id(record: &Map<String, Value>, selection: &FieldSelection) -> Option<String> {
    match record.get(&selection.id_field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Calls `visit(path, text)` for every selected string field, in document order.
pub fn for_each_text_field(record: &Map<String, Value>, selection: &FieldSelection, visit: &mut dyn FnMut(&str, &str)) {
    let mut path = String::new();
    for (key, value) in record {
        path.clear();
        path.push_str(key);
        visit_value(value, &mut path, selection, &mut |p, v| {
            if let Value::String(s) = v {
                visit(p, s);
            }
        });
    }
}

/// Replaces every selected string field for which `rewrite(path, text)` returns a new text.
pub fn rewrite_text_fields(
    record: &mut Map<String, Value>,
    selection: &FieldSelection,
    rewrite: &mut dyn FnMut(&str, &str) -> Option<String>,
) {
    let mut path = String::new();
    for (key, value) in record.iter_mut() {
        path.clear();
        path.push_str(key);
        visit_value_mut(value, &mut path, selection, rewrite);
    }
}

fn visit_value(value: &Value, path: &mut String, selection: &FieldSelection, visit: &mut dyn FnMut(&str, &Value)) {
    match value {
        Value::String(_) if selection.wants(path) => visit(path, value),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                with_child(path, &i.to_string(), |p| visit_value(item, p, selection, visit));
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                with_child(path, key, |p| visit_value(item, p, selection, visit));
            }
        }
        _ => {}
    }
}

fn visit_value_mut(
    value: &mut Value,
    path: &mut String,
    selection: &FieldSelection,
    rewrite: &mut dyn FnMut(&str, &str) -> Option<String>,
) {
    match value {
        Value::String(text) if selection.wants(path) => {
            if let Some(new) = rewrite(path, text) {
                *text = new;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                with_child(path, &i.to_string(), |p| visit_value_mut(item, p, selection, rewrite));
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                with_child(path, key, |p| visit_value_mut(item, p, selection, rewrite));
            }
        }
        _ => {}
    }
}

fn with_child(path: &mut String, child: &str, f: impl FnOnce(&mut String)) {
    let len = path.len();
    path.push('.');
    path.push_str(child);
    f(path);
    path.truncate(len);
}

/// Cuts `bytes` into chunks of whole lines of about `target` bytes, each with the 1-based
/// number of its first line.
pub fn line_chunks(bytes: &[u8], target: usize) -> Vec<(Range<usize>, u64)> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut line = 1u64;
    while start < bytes.len() {
        let mut end = (start + target).min(bytes.len());
        if end < bytes.len() {
            end = match memchr::memchr(b'\n', &bytes[end..]) {
                Some(p) => end + p + 1,
                None => bytes.len(),
            };
        }
        chunks.push((start..end, line));
        line += memchr::memchr_iter(b'\n', &bytes[start..end]).count() as u64;
        start = end;
    }
    chunks
}

/// The lines of a chunk without their line ends (`\n` or `\r\n`), each with its offset.
pub fn lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    let mut parts = (!chunk.is_empty()).then(|| body.split(|&b| b == b'\n'));
    std::iter::from_fn(move || parts.as_mut()?.next()).map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_visited_and_rewritten_in_order_keeping_the_rest() {
        let line = br#"{"id":"n1","text":"Call Ann","n":1.50,"meta":{"who":"Ann","k":[ "x", 2 ]}}"#;
        let mut record = parse_record(line, 1).unwrap();
        let selection = FieldSelection::default();
        assert_eq!(document_id(&record, &selection).as_deref(), Some("n1"));
        let mut seen = Vec::new();
        for_each_text_field(&record, &selection, &mut |p, t| seen.push(format!("{p}={t}")));
        assert_eq!(seen, ["text=Call Ann", "meta.who=Ann", "meta.k.0=x"]);
        rewrite_text_fields(&mut record, &selection, &mut |_, t| Some(t.replace("Ann", "[NAME]")));
        let out = serde_json::to_string(&record).unwrap();
        assert_eq!(out, r#"{"id":"n1","text":"Call [NAME]","n":1.50,"meta":{"who":"[NAME]","k":["x",2]}}"#);
    }

    #[test]
    fn selected_fields_only() {
        let record = parse_record(br#"{"id":"1","a":"x","b":"y"}"#, 1).unwrap();
        let selection = FieldSelection { fields: vec!["b".into()], id_field: "id".into() };
        let mut seen = Vec::new();
        for_each_text_field(&record, &selection, &mut |p, _| seen.push(p.to_owned()));
        assert_eq!(seen, ["b"]);
    }

    #[test]
    fn bad_lines_name_the_line_but_not_the_content() {
        let error = parse_record(br#"{"ssn": "536-90-4399""#, 7).unwrap_err();
        assert_eq!(error.line, 7);
        assert!(!error.to_string().contains("4399"), "{error}");
        assert!(parse_record(b"[1]", 1).unwrap_err().message.contains("array"));
        assert!(parse_record(b"{\"a\": \"\xff\"}", 1).is_err());
    }

    #[test]
    fn chunks_hold_whole_lines_and_count_them() {
        let text = b"a\nbb\r\nccc\n\nd";
        let chunks = line_chunks(text, 3);
        assert_eq!(chunks.iter().map(|(_, l)| *l).collect::<Vec<_>>(), [1, 3, 4]);
        let all: Vec<&[u8]> = chunks.iter().flat_map(|(r, _)| lines(&text[r.clone()]).collect::<Vec<_>>()).collect();
        assert_eq!(all, [&b"a"[..], b"bb", b"ccc", b"", b"d"]);
    }
}
