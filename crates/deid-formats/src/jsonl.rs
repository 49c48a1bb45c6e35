//! JSONL records: one JSON object per line.
//!
//! A record's text fields are its string values, found recursively and named by their
//! path (`note`, `visit.summary`, `notes.0`). By default every string field is scanned
//! except the id field, whose value names the document in findings. Rewriting a record
//! ([`splice_strings`]) copies the line byte for byte except the rewritten strings, so every
//! field, the field order, spacing, escapes and number spellings stay as written.
//!
//! PERF: a line is checked once by serde_json (valid JSON, no repeated key) and then read
//! in place: its fields are found by walking the bytes, and only the strings a caller asks
//! for are unescaped. Building a `serde_json::Value` per line as well (a map, a string and
//! an allocation per field, the gold spans of a labelled corpus included) was over a third
//! of the time spent reading the dev notes.

use std::borrow::Cow;
use std::ops::Range;

/// Which fields of a record are scanned, and which names the document.
#[derive(Clone, Debug)]
pub struct FieldSelection {
    /// Field paths to scan; empty means every string field but the id field.
    pub fields: Vec<String>,
    /// The field (a path, like `fields`) whose value is the document id.
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

/// A line that holds one JSON object, checked by [`parse_record`] and read in place.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    /// The object's text, without a byte order mark.
    body: &'a [u8],
}

/// Shows the record's size only: its text may hold identifiers.
impl std::fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Record({} bytes)", self.body.len())
    }
}

/// Parses one line into a record.
///
/// # Errors
/// When the line is not valid JSON, not UTF-8, or not an object. The message names the
/// column but never quotes the line, which may hold identifiers.
pub fn parse_record(line: &[u8], line_number: u64) -> Result<Record<'_>, JsonlError> {
    // Files saved by some Windows tools start with a UTF-8 byte order mark.
    let body = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let error = |message| JsonlError {
        line: line_number,
        message,
    };
    // A reader keeps one of two equal keys, and the other copy would be written out
    // unscanned, so such records are refused.
    serde_json::from_slice::<UniqueKeys>(body).map_err(|e| {
        error(match e.classify() {
            serde_json::error::Category::Data => format!(
                "a field name repeats in one object (column {}): each copy could hold \
                 identifiers, so the record is refused",
                e.column()
            ),
            _ => format!("invalid JSON at column {}: {}", e.column(), classify(&e)),
        })
    })?;
    // Valid JSON: its first byte says what it is.
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => Ok(Record { body }),
        other => Err(error(format!(
            "expected a JSON object, found {}",
            kind_of(other)
        ))),
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

    // PERF: every object of every line comes through here, so keys are borrowed from the
    // line where they hold no escape, and a small object's keys are compared in a list:
    // an owned `String` per key in a SipHash set was ~9 % of reading the dev notes.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut keys: Vec<Key<'de>> = Vec::new();
        let mut many: std::collections::HashSet<Key<'de>> = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let repeated = if many.is_empty() && keys.len() < SMALL_OBJECT_KEYS {
                let repeated = keys.contains(&key);
                keys.push(key);
                repeated
            } else {
                many.extend(keys.drain(..));
                !many.insert(key)
            };
            if repeated {
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

/// Objects with up to this many keys are checked for repeats by comparing with each key.
const SMALL_OBJECT_KEYS: usize = 16;

/// An object key, borrowed from the line unless it holds an escape.
#[derive(PartialEq, Eq, Hash)]
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> serde::de::Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
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

/// What a valid JSON text that starts with `first` is.
fn kind_of(first: Option<u8>) -> &'static str {
    match first {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Whether a line holds nothing but whitespace (kept as is, not a record).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The document id of a record: the id field's string or number, if present.
pub fn document_id(record: &Record<'_>, selection: &FieldSelection) -> Option<String> {
    scalar_field(record, &selection.id_field)
}

/// The string or number at a field path (`id`, `meta.note_id`: keys and array indexes
/// joined by dots, as [`for_each_text_field`] names fields), as text; a number as it is
/// spelled. The first in document order, should a key with a dot make two fields share a
/// path.
pub fn scalar_field(record: &Record<'_>, name: &str) -> Option<String> {
    let mut found = None;
    walk(record.body, &mut |path: &str, token: &[u8]| {
        if found.is_none() && path == name {
            found = match token.first() {
                Some(b'"') => Some(string_content(token).into_owned()),
                Some(b'-' | b'0'..=b'9') => std::str::from_utf8(token).ok().map(str::to_owned),
                _ => None,
            };
        }
    });
    found
}

/// Calls `visit(path, text)` for every selected string field, in document order.
pub fn for_each_text_field(
    record: &Record<'_>,
    selection: &FieldSelection,
    visit: &mut dyn FnMut(&str, &str),
) {
    walk(record.body, &mut |path: &str, token: &[u8]| {
        if token.first() == Some(&b'"') && selection.wants(path) {
            visit(path, &string_content(token));
        }
    });
}

/// The text of a string token (quotes included) of a checked record.
fn string_content(token: &[u8]) -> Cow<'_, str> {
    let inner = &token[1..token.len() - 1];
    match std::str::from_utf8(inner) {
        Ok(plain) if !inner.contains(&b'\\') => Cow::Borrowed(plain),
        _ => Cow::Owned(serde_json::from_slice(token).unwrap_or_default()),
    }
}

/// Copies a record's line with the strings at the given field paths replaced, and every
/// other byte — spacing, escapes, number spellings such as `1e3` — exactly as it was.
///
/// `line` must be a JSON object that [`parse_record`] accepted. Paths are those that
/// [`for_each_text_field`] reports.
pub fn splice_strings(line: &[u8], replacements: &[(String, String)], out: &mut Vec<u8>) {
    let body = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    out.extend_from_slice(&line[..line.len() - body.len()]);
    let walked = walk(body, &mut Splice { replacements, out });
    out.extend_from_slice(&body[walked..]);
}

/// Copies what a walk reports, with the strings at the replacements' paths rewritten.
struct Splice<'a> {
    replacements: &'a [(String, String)],
    out: &'a mut Vec<u8>,
}

impl Visit for Splice<'_> {
    fn between(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn scalar(&mut self, path: &str, token: &[u8]) {
        let replacement = (token.first() == Some(&b'"'))
            .then(|| self.replacements.iter().find(|(p, _)| p == path))
            .flatten();
        match replacement {
            // Serialising a string cannot fail.
            Some((_, text)) => {
                let _ = serde_json::to_writer(&mut *self.out, text);
            }
            None => self.out.extend_from_slice(token),
        }
    }
}

/// What a walk over a checked JSON text reports, in order.
trait Visit {
    /// Bytes between scalars: whitespace, brackets, commas, colons and keys.
    fn between(&mut self, _bytes: &[u8]) {}

    /// A string (quotes included), number, `true`, `false` or `null`, and its path.
    fn scalar(&mut self, path: &str, token: &[u8]);
}

impl<F: FnMut(&str, &[u8])> Visit for F {
    fn scalar(&mut self, path: &str, token: &[u8]) {
        self(path, token);
    }
}

/// Walks the JSON value at the start of `bytes` (valid JSON: [`parse_record`] checked it)
/// and returns where it ends. Paths join keys and array indexes with dots (`meta.k.0`).
fn walk(bytes: &[u8], visit: &mut impl Visit) -> usize {
    let mut walker = Walker {
        bytes,
        at: 0,
        path: String::new(),
        visit,
    };
    walker.value();
    walker.at.min(bytes.len())
}

struct Walker<'a, V> {
    bytes: &'a [u8],
    at: usize,
    path: String,
    visit: &'a mut V,
}

impl<V: Visit> Walker<'_, V> {
    /// Reports the bytes from `self.at` while `keep` holds as between scalars.
    fn between_while(&mut self, keep: impl Fn(u8) -> bool) {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(|&b| keep(b)) {
            self.at += 1;
        }
        self.visit.between(&self.bytes[start..self.at]);
    }

    fn whitespace(&mut self) {
        self.between_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    }

    /// Reports one byte as between scalars.
    fn punctuation(&mut self) {
        self.visit.between(&self.bytes[self.at..self.at + 1]);
        self.at += 1;
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
        let end = match self.bytes.get(self.at) {
            Some(b'{') => return self.container(b'}', true),
            Some(b'[') => return self.container(b']', false),
            Some(b'"') => self.string_end(),
            Some(_) => {
                let rest = &self.bytes[self.at..];
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n'))
                    .unwrap_or(rest.len());
                self.at + len
            }
            None => return,
        };
        self.visit.scalar(&self.path, &self.bytes[self.at..end]);
        self.at = end;
    }

    fn container(&mut self, close: u8, object: bool) {
        self.punctuation();
        let mut index = 0usize;
        loop {
            self.whitespace();
            match self.bytes.get(self.at) {
                None => return,
                Some(&b) if b == close => return self.punctuation(),
                Some(b',') => {
                    self.punctuation();
                    continue;
                }
                Some(_) => {}
            }
            let len = self.path.len();
            if !self.path.is_empty() {
                self.path.push('.');
            }
            if object {
                let end = self.string_end();
                let key = &self.bytes[self.at..end];
                self.path.push_str(&string_content(key));
                self.visit.between(key);
                self.at = end;
                self.whitespace();
                if self.bytes.get(self.at) == Some(&b':') {
                    self.punctuation();
                }
            } else {
                self.path.push_str(itoa::Buffer::new().format(index));
                index += 1;
            }
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
    fn fields_are_read_in_place() {
        // Escapes are undone in the text handed out; ids and numbers keep their spelling;
        // a path reaches into objects and arrays; strings inside the gold spans' objects
        // are fields like any other.
        let line = br#" {"meta":{"id":1e3,"n":[{"k":"v"}]},"t\u0065xt":"caf\u00e9 \"A\" \\ x","id":-0.50,"spans":[{"type":"NAME"}]} "#;
        let record = parse_record(line, 1).unwrap();
        let selection = FieldSelection::default();
        assert_eq!(document_id(&record, &selection).as_deref(), Some("-0.50"));
        assert_eq!(scalar_field(&record, "meta.id").as_deref(), Some("1e3"));
        assert_eq!(scalar_field(&record, "meta.n.0.k").as_deref(), Some("v"));
        assert_eq!(scalar_field(&record, "meta"), None);
        assert_eq!(scalar_field(&record, "missing"), None);
        let mut seen = Vec::new();
        for_each_text_field(&record, &selection, &mut |p, t| {
            seen.push(format!("{p}={t}"))
        });
        assert_eq!(
            seen,
            ["meta.n.0.k=v", r#"text=café "A" \ x"#, "spans.0.type=NAME"]
        );
    }

    #[test]
    fn a_record_debugs_as_its_size_only() {
        let record = parse_record(br#"{"text":"Call Ann 555-0100"}"#, 1).unwrap();
        assert_eq!(format!("{record:?}"), "Record(28 bytes)");
    }

    #[test]
    fn lines_that_are_no_object_are_refused_by_kind() {
        for (line, kind) in [
            (&b"[1, 2]"[..], "an array"),
            (b" \"text\"", "a string"),
            (b"12", "a number"),
            (b"-1", "a number"),
            (b"true", "a boolean"),
            (b"null", "null"),
        ] {
            let error = parse_record(line, 3).expect_err("not an object");
            assert_eq!(
                error.message,
                format!("expected a JSON object, found {kind}")
            );
        }
        for line in [&b"{\"id\": 1"[..], b"{\"id\": 1} x", b"\xFF", b""] {
            let error = parse_record(line, 4).expect_err("not JSON");
            assert!(
                error.message.starts_with("invalid JSON at column"),
                "{}",
                error.message
            );
        }
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
        // Large objects keep their keys another way: a repeat is found on either side of
        // the switch, and distinct keys pass.
        let keys = |n: usize| (0..n).map(|i| format!("\"k{i}\":{i}")).collect::<Vec<_>>();
        for (count, repeat) in [(40, Some(3)), (40, Some(30)), (SMALL_OBJECT_KEYS, Some(0))] {
            let mut fields = keys(count);
            fields.extend(repeat.map(|i| format!("\"k{i}\":0")));
            let line = format!("{{{}}}", fields.join(","));
            assert!(
                parse_record(line.as_bytes(), 1).is_err(),
                "{count} {repeat:?}"
            );
        }
        let line = format!("{{{}}}", keys(40).join(","));
        assert!(parse_record(line.as_bytes(), 1).is_ok());
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
