//! Records and fields, split by hand: the hot loop of the CSV reader.
//!
//! The semantics are `csv-core`'s with its defaults (double quotes escape quotes, no escape
//! byte, no comments, CR, LF and CRLF all end a record, blank lines are skipped): a quote
//! opens a quoted field only at the start of a field, `""` inside quotes is one quote,
//! bytes after a closing quote are appended as they are, a quote inside an unquoted field
//! is data, and an unterminated quote runs to the end of the file. Unlike `csv-core`,
//! which moves every byte through a DFA into an output buffer, this reader jumps between
//! the few bytes that matter with `memchr` and hands out unquoted fields as slices of the
//! input, copying only quoted fields. The tests, a proptest and the `csv_chunks` fuzz target
//! hold it to the `csv` crate.

use memchr::{memchr, memchr3};

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
    /// The input ran out (not at the end of the file) inside the record.
    pub(super) cut: bool,
    /// The file ended inside a quoted field of this record.
    pub(super) open_quote: bool,
}

impl<'a> Record<'a> {
    /// Parses one record from the start of `input` (skipping blank lines first) and returns
    /// the bytes consumed. With `at_eof`, the end of `input` is the end of the file and
    /// ends any open record; without it, a record cut by the end of `input` is marked
    /// [`Record::cut`] (input that ends right after a terminator is not cut).
    pub(super) fn read(&mut self, delimiter: u8, input: &'a [u8], at_eof: bool) -> usize {
        self.input = input;
        self.fields.clear();
        self.unescaped.clear();
        self.cut = false;
        self.open_quote = false;
        let mut at = input
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(input.len());
        if at == input.len() {
            return at;
        }
        loop {
            let (value, end, quoted_to_end) = self.field(delimiter, at);
            self.fields.push(value);
            if end == input.len() {
                self.cut = !at_eof;
                self.open_quote = at_eof && quoted_to_end;
                return end;
            }
            match input[end] {
                b'\r' => {
                    let after = end + 1;
                    return if input.get(after) == Some(&b'\n') {
                        after + 1
                    } else {
                        after
                    };
                }
                b'\n' => return end + 1,
                // The delimiter: another field follows, empty if the input ends here.
                _ => at = end + 1,
            }
            if at == input.len() {
                self.fields.push(Value::Input(at, at));
                self.cut = !at_eof;
                return at;
            }
        }
    }

    /// Reads the field at `start`: its value, the offset of the byte that ends it (a
    /// delimiter, CR, LF, or the end of input), and whether the input ended inside quotes.
    fn field(&mut self, delimiter: u8, start: usize) -> (Value, usize, bool) {
        let input = self.input;
        if input[start] != b'"' {
            let end = field_end(input, delimiter, start);
            return (Value::Input(start, end), end, false);
        }
        let from = self.unescaped.len();
        let mut at = start + 1;
        loop {
            let Some(quote) = memchr(b'"', &input[at..]).map(|i| at + i) else {
                // An unterminated quote runs to the end of the input.
                self.unescaped.extend_from_slice(&input[at..]);
                return (
                    Value::Unescaped(from, self.unescaped.len()),
                    input.len(),
                    true,
                );
            };
            if input.get(quote + 1) == Some(&b'"') {
                self.unescaped.extend_from_slice(&input[at..=quote]);
                at = quote + 2;
                continue;
            }
            self.unescaped.extend_from_slice(&input[at..quote]);
            // After the closing quote, bytes up to the end of the field are data.
            let rest = quote + 1;
            let end = field_end(input, delimiter, rest);
            self.unescaped.extend_from_slice(&input[rest..end]);
            return (Value::Unescaped(from, self.unescaped.len()), end, false);
        }
    }

    /// Whether the read found no record (only blank lines, or nothing).
    pub(super) fn is_blank_line(&self) -> bool {
        self.fields.is_empty()
    }

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
}

/// The offset of the delimiter or line break that ends an unquoted field (or the rest of a
/// quoted one after its closing quote) starting at `from`, or the end of the input.
fn field_end(input: &[u8], delimiter: u8, from: usize) -> usize {
    memchr3(delimiter, b'\n', b'\r', &input[from..]).map_or(input.len(), |i| from + i)
}

/// What [`count`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Count {
    /// Records, a cut one included.
    pub(super) rows: u64,
    /// The input ran out inside a record (not at the end of the file).
    pub(super) cut: bool,
    /// The file ended inside a quoted field.
    pub(super) open_quote: bool,
}

/// Counts the records of `input` as [`Record::read`] would split them, without keeping
/// any field: the proof pass of the part planner. Only quotes and line breaks matter here —
/// a quote opens a quoted field only right after a delimiter or at a record start — so the
/// loop jumps from one to the next and never stops at a delimiter.
pub(super) fn count(delimiter: u8, input: &[u8], at_eof: bool) -> Count {
    let len = input.len();
    let mut rows = 0;
    let mut at = 0;
    let ended = |rows, open_quote| Count {
        rows,
        cut: !at_eof,
        open_quote: at_eof && open_quote,
    };
    loop {
        while at < len && matches!(input[at], b'\r' | b'\n') {
            at += 1;
        }
        if at == len {
            return Count {
                rows,
                cut: false,
                open_quote: false,
            };
        }
        rows += 1;
        let record_start = at;
        loop {
            let Some(next) = memchr3(b'"', b'\n', b'\r', &input[at..]).map(|i| at + i) else {
                return ended(rows, false);
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
                    return ended(rows, true);
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
