//! Records and fields, split by hand: the hot loop of the CSV reader.
//!
//! The semantics are `csv-core`'s with its defaults (double quotes escape quotes, no escape
//! byte, no comments, CR, LF and CRLF all end a record, blank lines are skipped): a quote
//! opens a quoted field only at the start of a field, `""` inside quotes is one quote,
//! bytes after a closing quote are appended as they are, a quote inside an unquoted field
//! is data, and an unterminated quote runs to the end of the file. Unlike `csv-core`,
//! which moves every byte through a DFA into an output buffer, this reader jumps between
//! the few bytes that matter ([`Specials`] between fields, `memchr` inside quotes) and
//! hands out unquoted fields as slices of the input, copying only quoted fields. The
//! tests, a proptest and the `csv_chunks` fuzz target hold it to the `csv` crate.

use memchr::memchr;

use super::specials::Specials;

/// Where a field's value lives.
#[derive(Clone, Copy, Debug)]
enum Value {
    /// A slice of the input.
    Input(usize, usize),
    /// A slice of the record's unescaped bytes.
    Unescaped(usize, usize),
}

/// One parsed record: its fields, as slices of the input or of unescaped bytes.
#[derive(Default)]
pub(super) struct Record<'a> {
    input: &'a [u8],
    fields: Vec<Value>,
    unescaped: Vec<u8>,
}

impl<'a> Record<'a> {
    /// The number of fields.
    pub(super) fn len(&self) -> usize {
        self.fields.len()
    }

    /// The field values, in order.
    pub(super) fn fields(&self) -> impl Iterator<Item = &[u8]> {
        self.fields.iter().map(|value| match *value {
            Value::Input(start, end) => &self.input[start..end],
            Value::Unescaped(start, end) => &self.unescaped[start..end],
        })
    }

    /// The non-empty fields with their 0-based columns: a record's cells.
    pub(super) fn cells(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.fields()
            .enumerate()
            .filter(|(_, value)| !value.is_empty())
    }
}

/// Reads the records of an input one after another.
pub(super) struct Records<'a> {
    input: &'a [u8],
    /// Offset of the next unread byte.
    at: usize,
    /// Where the bytes that end unquoted fields are.
    ends: Specials<'a>,
}

impl<'a> Records<'a> {
    /// A reader of the records of `input`, which starts at a record boundary.
    pub(super) fn new(delimiter: u8, input: &'a [u8]) -> Records<'a> {
        Records {
            input,
            at: 0,
            ends: Specials::new(input, [delimiter, b'\n', b'\r', b'\r']),
        }
    }

    /// The bytes read so far.
    pub(super) fn offset(&self) -> usize {
        self.at
    }

    /// Reads the next record into `record`, skipping blank lines first; `false` when
    /// nothing but blank lines was left. The end of the input ends an open record.
    pub(super) fn next(&mut self, record: &mut Record<'a>) -> bool {
        let input = self.input;
        record.input = input;
        record.fields.clear();
        record.unescaped.clear();
        while self.at < input.len() && matches!(input[self.at], b'\r' | b'\n') {
            self.at += 1;
        }
        if self.at == input.len() {
            return false;
        }
        let mut at = self.at;
        loop {
            let (value, end) = self.field(record, at);
            record.fields.push(value);
            let Some(&terminator) = input.get(end) else {
                self.at = end;
                return true;
            };
            self.at = match terminator {
                b'\r' if input.get(end + 1) == Some(&b'\n') => end + 2,
                b'\r' | b'\n' => end + 1,
                // The delimiter: another field follows, empty if the input ends here.
                _ => {
                    at = end + 1;
                    if at == input.len() {
                        record.fields.push(Value::Input(at, at));
                        self.at = at;
                        return true;
                    }
                    continue;
                }
            };
            return true;
        }
    }

    /// Reads the field at `start`: its value and the offset of the byte that ends it (a
    /// delimiter, CR, LF, or the end of input).
    fn field(&mut self, record: &mut Record<'a>, start: usize) -> (Value, usize) {
        let input = self.input;
        if input[start] != b'"' {
            let end = self.field_end(start);
            return (Value::Input(start, end), end);
        }
        let unescaped = &mut record.unescaped;
        let from = unescaped.len();
        let mut at = start + 1;
        loop {
            let Some(quote) = memchr(b'"', &input[at..]).map(|i| at + i) else {
                // An unterminated quote runs to the end of the input.
                unescaped.extend_from_slice(&input[at..]);
                return (Value::Unescaped(from, unescaped.len()), input.len());
            };
            if input.get(quote + 1) == Some(&b'"') {
                unescaped.extend_from_slice(&input[at..=quote]);
                at = quote + 2;
                continue;
            }
            unescaped.extend_from_slice(&input[at..quote]);
            // After the closing quote, bytes up to the end of the field are data.
            let rest = quote + 1;
            let end = self.field_end(rest);
            unescaped.extend_from_slice(&input[rest..end]);
            return (Value::Unescaped(from, unescaped.len()), end);
        }
    }

    /// The offset of the delimiter or line break that ends an unquoted field (or the rest
    /// of a quoted one after its closing quote) starting at `from`, or the end of the input.
    fn field_end(&mut self, from: usize) -> usize {
        self.ends.find(from).unwrap_or(self.input.len())
    }
}

/// What [`count`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Count {
    /// Records, a cut one included.
    pub(super) rows: u64,
    /// Where the record the input ran out in starts, when that is not the end of the file.
    pub(super) cut: Option<usize>,
    /// The file ended inside a quoted field.
    pub(super) open_quote: bool,
    /// Where counting stopped: the end of the input, or of the `limit`-th record.
    pub(super) end: usize,
}

/// Counts the records of `input`, at most `limit`, as [`Records`] would split them, without
/// keeping any field: the proof pass of the part planner. Only quotes and line breaks
/// matter here — a quote opens a quoted field only right after a delimiter or at a record
/// start — so the loop jumps from one to the next and never stops at a delimiter.
pub(super) fn count(delimiter: u8, input: &[u8], at_eof: bool, limit: u64) -> Count {
    let len = input.len();
    let mut rows = 0;
    let mut at = 0;
    let mut stops = Specials::new(input, [b'"', b'\n', b'\r', b'\r']);
    let ended = |rows, open_quote, record_start| Count {
        rows,
        cut: (!at_eof).then_some(record_start),
        open_quote: at_eof && open_quote,
        end: len,
    };
    loop {
        while at < len && matches!(input[at], b'\r' | b'\n') {
            at += 1;
        }
        if at == len || rows == limit {
            return Count {
                rows,
                cut: None,
                open_quote: false,
                end: at,
            };
        }
        rows += 1;
        let record_start = at;
        loop {
            let Some(next) = stops.find(at) else {
                return ended(rows, false, record_start);
            };
            if input[next] != b'"' {
                at = next + 1;
                break;
            }
            if next != record_start && input[next - 1] != delimiter {
                // A quote inside an unquoted field is data.
                at = next + 1;
                continue;
            }
            at = next + 1;
            loop {
                let Some(quote) = memchr(b'"', &input[at..]).map(|i| at + i) else {
                    return ended(rows, true, record_start);
                };
                at = quote + 1;
                if input.get(at) != Some(&b'"') {
                    break;
                }
                at += 1;
            }
        }
    }
}
