//! JSONL records: one JSON object per line.
//!
//! A record's text fields are its string values, found recursively and named by their
//! path (`note`, `visit.summary`, `notes.0`). By default every string field is scanned
//! except the id field, whose value names the document in findings. Rewriting a record
//! ([`splice_strings`]) copies the line byte for byte except the rewritten strings, so every
//! field, the field order, spacing, escapes and number spellings stay as written.

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
        FieldSelection {
            fields: Vec::new(),
            id_field: "id".to_owned(),
        }
    }
}

impl FieldSelection {
    fn wants(&self, path: &str) -> bool {
        if self.fields.is_empty() {
            path != self.id_field
        } else {
            self.fields.iter().any(|f| f == path)
        }
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
    // Files saved by some Windows tools start with a UTF-8 byte order mark.
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    // A parsed map keeps the last of two equal keys; the first copy would then be written
    // out unscanned. Such records are refused.
    if let Err(e) = serde_json::from_slice::<UniqueKeys>(line)
        && e.classify() == serde_json::error::Category::Data
    {
        return Err(JsonlError {
            line: line_number,
            message: format!(
                "a field name repeats in one object (column {}): each copy could hold \
                 identifiers, so the record is refused",
                e.column()
            ),
        });
    }
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

/// Deserialises any JSON value and fails on an object with a repeated key, at any depth.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("repeated key"));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
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
    scalar_field(record, &selection.id_field)
}

/// A top-level field's string or number, as text.
pub fn scalar_field(record: &Map<String, Value>, name: &str) -> Option<String> {
    match record.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Calls `visit(path, text)` for every selected string field, in document order.
pub fn for_each_text_field(
    record: &Map<String, Value>,
    selection: &FieldSelection,
    visit: &mut dyn FnMut(&str, &str),
) {
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

fn visit_value(
    value: &Value,
    path: &mut String,
    selection: &FieldSelection,
    visit: &mut dyn FnMut(&str, &Value),
) {
    match value {
        Value::String(_) if selection.wants(path) => visit(path, value),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                with_child(path, &i.to_string(), |p| {
                    visit_value(item, p, selection, visit)
                });
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

fn with_child(path: &mut String, child: &str, f: impl FnOnce(&mut String)) {
    let len = path.len();
    path.push('.');
    path.push_str(child);
    f(path);
    path.truncate(len);
}

/// Copies a record's line with the strings at the given field paths replaced, and every
/// other byte — spacing, escapes, number spellings such as `1e3` — exactly as it was.
///
/// `line` must be a JSON object that [`parse_record`] accepted. Paths are those that
/// [`for_each_text_field`] reports.
pub fn splice_strings(line: &[u8], replacements: &[(String, String)], out: &mut Vec<u8>) {
    let body = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    out.extend_from_slice(&line[..line.len() - body.len()]);
    let mut splicer = Splicer {
        bytes: body,
        at: 0,
        path: String::new(),
        replacements,
        out,
    };
    splicer.value();
    let rest = &body[splicer.at.min(body.len())..];
    splicer.out.extend_from_slice(rest);
}

/// A walk over valid JSON that copies it to `out`, replacing selected string values.
struct Splicer<'a> {
    bytes: &'a [u8],
    at: usize,
    path: String,
    replacements: &'a [(String, String)],
    out: &'a mut Vec<u8>,
}

impl Splicer<'_> {
    fn copy_while(&mut self, keep: impl Fn(u8) -> bool) {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(|&b| keep(b)) {
            self.at += 1;
        }
        self.out.extend_from_slice(&self.bytes[start..self.at]);
    }

    fn whitespace(&mut self) {
        self.copy_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    }

    /// The end of the string token starting at `self.at` (a `"`).
    fn string_end(&self) -> usize {
        let mut i = self.at + 1;
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        self.bytes.len()
    }

    fn value(&mut self) {
        self.whitespace();
        match self.bytes.get(self.at) {
            Some(b'"') => {
                let end = self.string_end();
                match self
                    .replacements
                    .iter()
                    .find(|(path, _)| *path == self.path)
                {
                    Some((_, text)) => {
                        // Serialising a string cannot fail.
                        let _ = serde_json::to_writer(&mut *self.out, text);
                    }
                    None => self.out.extend_from_slice(&self.bytes[self.at..end]),
                }
                self.at = end;
            }
            Some(b'{') => self.container(b'}', true),
            Some(b'[') => self.container(b']', false),
            Some(_) => {
                self.copy_while(|b| !matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n'))
            }
            None => {}
        }
    }

    fn container(&mut self, close: u8, object: bool) {
        self.out.push(self.bytes[self.at]);
        self.at += 1;
        let mut index = 0usize;
        loop {
            self.whitespace();
            match self.bytes.get(self.at) {
                None => return,
                Some(&b) if b == close => {
                    self.out.push(b);
                    self.at += 1;
                    return;
                }
                Some(b',') => {
                    self.out.push(b',');
                    self.at += 1;
                    continue;
                }
                Some(_) => {}
            }
            let child = if object {
                let end = self.string_end();
                let key: String =
                    serde_json::from_slice(&self.bytes[self.at..end]).unwrap_or_default();
                self.out.extend_from_slice(&self.bytes[self.at..end]);
                self.at = end;
                self.whitespace();
                if self.bytes.get(self.at) == Some(&b':') {
                    self.out.push(b':');
                    self.at += 1;
                }
                key
            } else {
                index += 1;
                (index - 1).to_string()
            };
            let len = self.path.len();
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(&child);
            self.value();
            self.path.truncate(len);
        }
    }
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
    std::iter::from_fn(move || parts.as_mut()?.next())
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_visited_in_order() {
        let line = br#"{"id":"n1","text":"Call Ann","n":1.50,"meta":{"who":"Ann","k":[ "x", 2 ]}}"#;
        let record = parse_record(line, 1).unwrap();
        let selection = FieldSelection::default();
        assert_eq!(document_id(&record, &selection).as_deref(), Some("n1"));
        let mut seen = Vec::new();
        for_each_text_field(&record, &selection, &mut |p, t| {
            seen.push(format!("{p}={t}"))
        });
        assert_eq!(seen, ["text=Call Ann", "meta.who=Ann", "meta.k.0=x"]);
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for line in [
            &br#"{"id":1,"text":"SSN 536-90-4399","text":"nothing"}"#[..],
            br#"{"id":1,"m":{"a":"x","b":[{"c":1,"c":2}]}}"#,
            br#"{"id":1,"t\u0065xt":"a","text":"b"}"#,
        ] {
            let error = parse_record(line, 7).expect_err("a repeated key");
            assert_eq!(error.line, 7);
            assert!(error.message.contains("repeats"), "{}", error.message);
            assert!(!error.message.contains("536"), "{}", error.message);
        }
        // Equal keys in different objects, numbers of every spelling: fine.
        let line = br#"{"id":1,"a":{"k":1e3},"b":{"k":-0.0,"n":123456789012345678901234567890}}"#;
        assert!(parse_record(line, 1).is_ok());
    }

    #[test]
    fn splicing_keeps_every_other_byte() {
        let line = "\u{feff}{\"id\": \"n1\", \"text\" : \"Call Ann\", \"n\": 1e3, \"m\": {\"k\": [\"x\", \"caf\\u00e9 \\/\"]}}";
        let replacements = vec![
            ("text".to_owned(), "Call [NAME]".to_owned()),
            ("m.k.1".to_owned(), "é\"".to_owned()),
        ];
        let mut out = Vec::new();
        splice_strings(line.as_bytes(), &replacements, &mut out);
        let expected = "\u{feff}{\"id\": \"n1\", \"text\" : \"Call [NAME]\", \"n\": 1e3, \"m\": {\"k\": [\"x\", \"é\\\"\"]}}";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn selected_fields_only() {
        let record = parse_record(br#"{"id":"1","a":"x","b":"y"}"#, 1).unwrap();
        let selection = FieldSelection {
            fields: vec!["b".into()],
            id_field: "id".into(),
        };
        let mut seen = Vec::new();
        for_each_text_field(&record, &selection, &mut |p, _| seen.push(p.to_owned()));
        assert_eq!(seen, ["b"]);
    }

    #[test]
    fn bad_lines_name_the_line_but_not_the_content() {
        let error = parse_record(br#"{"ssn": "536-90-4399""#, 7).unwrap_err();
        assert_eq!(error.line, 7);
        assert!(!error.to_string().contains("4399"), "{error}");
        assert!(
            parse_record(b"[1]", 1)
                .unwrap_err()
                .message
                .contains("array")
        );
        assert!(parse_record(b"{\"a\": \"\xff\"}", 1).is_err());
    }

    #[test]
    fn chunks_hold_whole_lines_and_count_them() {
        let text = b"a\nbb\r\nccc\n\nd";
        let chunks = line_chunks(text, 3);
        assert_eq!(
            chunks.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
            [1, 3, 4]
        );
        let all: Vec<&[u8]> = chunks
            .iter()
            .flat_map(|(r, _)| lines(&text[r.clone()]).collect::<Vec<_>>())
            .collect();
        assert_eq!(all, [&b"a"[..], b"bb", b"ccc", b"", b"d"]);
    }
}
