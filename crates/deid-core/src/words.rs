//! Splitting text into words for dictionary rules.
//!
//! A word is a run of letters, digits and combining marks, with an apostrophe (`'` or `’`)
//! or hyphen kept inside when letters stand on both sides, so `O'Brien`, `Smith-Jones`,
//! `Zoë` and `Nguyễn` (composed or with combining marks) are single words. Character
//! classes come from the standard library's Unicode tables; ASCII takes a byte fast path.
//! A possessive `'s` is not part of the word (`Smith's` gives `Smith`), as names are
//! labelled without it. Invalid UTF-8 bytes separate words and never panic; offsets are
//! byte offsets.

/// A word: its byte span and the shape of its letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) shape: Shape,
}

/// The letter case and content of a word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The first character is an upper-case letter.
    pub(crate) initial_upper: bool,
    /// Some letter after the first is lower-case.
    pub(crate) has_lower: bool,
    /// Some letter after the first is upper-case.
    pub(crate) later_upper: bool,
    /// The word holds a digit.
    pub(crate) has_digit: bool,
    /// The word holds a non-ASCII character.
    pub(crate) non_ascii: bool,
}

impl Shape {
    /// `Smith`, `McDonald`, `O'Brien`: capital first, some lower-case after.
    pub(crate) fn is_title(self) -> bool {
        self.initial_upper && self.has_lower && !self.has_digit
    }

    /// `SMITH`: two or more letters, all capitals.
    pub(crate) fn is_upper(self) -> bool {
        self.initial_upper && self.later_upper && !self.has_lower && !self.has_digit
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    /// Letters without case (CJK, Arabic…) and combining marks.
    Other,
    Joiner,
    Separator,
}

/// Decodes the character at `at`; invalid UTF-8 gives `None` and a length of 1.
#[inline]
fn decode(text: &[u8], at: usize) -> (Option<char>, usize) {
    let lead = text[at];
    let len = match lead {
        0x00..=0x7F => return (Some(lead as char), 1),
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return (None, 1),
    };
    match text
        .get(at..at + len)
        .and_then(|b| std::str::from_utf8(b).ok())
    {
        Some(s) => (s.chars().next(), len),
        None => (None, 1),
    }
}

#[inline]
fn classify(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            'A'..='Z' => Class::Upper,
            'a'..='z' => Class::Lower,
            '0'..='9' => Class::Digit,
            '\'' | '-' => Class::Joiner,
            _ => Class::Separator,
        };
    }
    if c == '\u{2019}' {
        Class::Joiner
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_lowercase() {
        Class::Lower
    } else if c.is_numeric() {
        Class::Digit
    } else if c.is_alphabetic() || is_combining_mark(c) {
        Class::Other
    } else {
        Class::Separator
    }
}

/// Pushes `word`, without a trailing possessive `'s` or `’s`.
fn push_word(text: &[u8], mut word: Word, out: &mut Vec<Word>) {
    let body = &text[word.start..word.end];
    for suffix in [&b"'s"[..], "\u{2019}s".as_bytes()] {
        if body.len() > suffix.len() + 1 && body.ends_with(suffix) {
            word.end -= suffix.len();
            break;
        }
    }
    out.push(word);
}

/// The combining diacritical mark blocks (for decomposed text such as `Nguye\u{302}\u{303}n`).
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Letter classes of ASCII bytes, as bits; 0 for every other byte.
const UPPER: u8 = 1;
const LOWER: u8 = 2;
const DIGIT: u8 = 4;
static ASCII_CLASSES: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 128 {
        let b = byte as u8;
        table[byte] = if b.is_ascii_uppercase() {
            UPPER
        } else if b.is_ascii_lowercase() {
            LOWER
        } else if b.is_ascii_digit() {
            DIGIT
        } else {
            0
        };
        byte += 1;
    }
    table
};

/// The word starting at `start` when it is ASCII letters and digits only and the byte after
/// it (if any) is ASCII and no joiner: the same word [`words_into`] finds byte by byte.
fn plain_ascii_word(text: &[u8], start: usize) -> Option<Word> {
    let first = ASCII_CLASSES[usize::from(text[start])];
    if first == 0 {
        return None;
    }
    let mut later = 0;
    let mut end = start + 1;
    while let Some(&byte) = text.get(end) {
        let class = ASCII_CLASSES[usize::from(byte)];
        if class == 0 {
            if byte >= 0x80 || byte == b'\'' || byte == b'-' {
                return None;
            }
            break;
        }
        later |= class;
        end += 1;
    }
    Some(Word {
        start,
        end,
        shape: Shape {
            initial_upper: first == UPPER,
            has_lower: later & LOWER != 0,
            later_upper: later & UPPER != 0,
            has_digit: (first | later) & DIGIT != 0,
            non_ascii: false,
        },
    })
}

/// Splits `text` into words, appending them to `out`.
pub(crate) fn words_into(text: &[u8], out: &mut Vec<Word>) {
    let mut at = 0;
    let mut current: Option<Word> = None;
    // A joiner seen right after a letter: the word continues only if a letter follows.
    let mut pending_joiner = false;
    while at < text.len() {
        let byte = text[at];
        // PERF: three tight paths take most bytes of prose: a whole ASCII word with a plain
        // byte after it, ASCII lower-case letters inside a word, and ASCII bytes that are
        // neither letters nor digits between words.
        if current.is_none()
            && let Some(word) = plain_ascii_word(text, at)
        {
            at = word.end;
            out.push(word);
            continue;
        }
        match &mut current {
            Some(word) if byte.is_ascii_lowercase() => {
                let run = text[at..]
                    .iter()
                    .position(|b| !b.is_ascii_lowercase())
                    .unwrap_or(text.len() - at);
                word.shape.has_lower = true;
                at += run;
                word.end = at;
                pending_joiner = false;
                continue;
            }
            None if byte < 0x80 && !byte.is_ascii_alphanumeric() => {
                at += text[at..]
                    .iter()
                    .position(|b| *b >= 0x80 || b.is_ascii_alphanumeric())
                    .unwrap_or(text.len() - at);
                continue;
            }
            _ => {}
        }
        let (class, len) = if byte < 0x80 {
            (classify(byte as char), 1)
        } else {
            match decode(text, at) {
                (Some(c), len) => (classify(c), len),
                (None, len) => (Class::Separator, len),
            }
        };
        match class {
            Class::Separator | Class::Joiner => {
                if class == Class::Joiner && current.is_some() && !pending_joiner {
                    pending_joiner = true;
                } else if let Some(word) = current.take() {
                    push_word(text, word, out);
                    pending_joiner = false;
                }
            }
            _ => {
                let shape_of = |shape: &mut Shape, first: bool| {
                    match class {
                        Class::Upper if first => shape.initial_upper = true,
                        Class::Upper => shape.later_upper = true,
                        Class::Lower if !first => shape.has_lower = true,
                        Class::Digit => shape.has_digit = true,
                        _ => {}
                    }
                    shape.non_ascii |= len > 1;
                };
                match &mut current {
                    Some(word) => {
                        if pending_joiner && class == Class::Digit {
                            // `A-1` is two tokens, `Smith-Jones` one.
                            push_word(text, *word, out);
                            let mut shape = Shape::default();
                            shape_of(&mut shape, true);
                            *word = Word {
                                start: at,
                                end: at + len,
                                shape,
                            };
                        } else {
                            shape_of(&mut word.shape, false);
                            word.end = at + len;
                        }
                    }
                    None => {
                        let mut shape = Shape::default();
                        shape_of(&mut shape, true);
                        current = Some(Word {
                            start: at,
                            end: at + len,
                            shape,
                        });
                    }
                }
                pending_joiner = false;
            }
        }
        at += len;
    }
    if let Some(word) = current {
        push_word(text, word, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        words_into(text.as_bytes(), &mut out);
        out.iter().map(|w| &text[w.start..w.end]).collect()
    }

    #[test]
    fn names_with_marks_apostrophes_and_hyphens_are_one_word() {
        assert_eq!(
            words("José Zoë O'Brien Smith-Jones"),
            ["José", "Zoë", "O'Brien", "Smith-Jones"]
        );
        assert_eq!(
            words("Nguyễn, Nguye\u{302}\u{303}n."),
            ["Nguyễn", "Nguye\u{302}\u{303}n"]
        );
        assert_eq!(words("O’Neil's Smith’s it's"), ["O’Neil", "Smith", "it"]);
    }

    #[test]
    fn joiners_at_edges_and_between_digits_split() {
        assert_eq!(words("'quoted' -dash- end-"), ["quoted", "dash", "end"]);
        assert_eq!(words("A-1 2-3"), ["A", "1", "2", "3"]);
        assert_eq!(words("a--b"), ["a", "b"]);
    }

    #[test]
    fn invalid_utf8_separates_words() {
        let mut out = Vec::new();
        words_into(b"ab\xFFcd\xE2\x82", &mut out);
        assert_eq!(
            out.iter().map(|w| (w.start, w.end)).collect::<Vec<_>>(),
            [(0, 2), (3, 5)]
        );
    }

    #[test]
    fn shapes() {
        let mut out = Vec::new();
        words_into("Smith SMITH smith McDonald Élodie A".as_bytes(), &mut out);
        let titles: Vec<bool> = out.iter().map(|w| w.shape.is_title()).collect();
        let uppers: Vec<bool> = out.iter().map(|w| w.shape.is_upper()).collect();
        assert_eq!(titles, [true, false, false, true, true, false]);
        assert_eq!(uppers, [false, true, false, false, false, false]);
        // Digits anywhere, first or later, whether the word is plain ASCII or not.
        out.clear();
        words_into("MRN123 9x Zoë7 x-ray Abc".as_bytes(), &mut out);
        let digits: Vec<bool> = out.iter().map(|w| w.shape.has_digit).collect();
        let non_ascii: Vec<bool> = out.iter().map(|w| w.shape.non_ascii).collect();
        assert_eq!(digits, [true, true, true, false, false]);
        assert_eq!(non_ascii, [false, false, true, false, false]);
        assert!(out[0].shape.initial_upper && out[0].shape.later_upper);
        assert!(!out[1].shape.initial_upper && out[1].shape.has_lower);
        assert_eq!((out[3].start, out[3].end, out[4].end), (16, 21, 25));
    }
}
