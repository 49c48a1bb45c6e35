//! The lexicon: every dictionary of a rule set in one hash map from a normalised entry to
//! the set (a bit mask) of dictionaries that hold it.
//!
//! PERF: dictionary rules match whole words, so instead of an Aho-Corasick automaton over
//! 100k entries (about 100 MB/s, DESIGN §9) the matcher splits text into words once and
//! looks up each capitalised word in this map — one hash lookup per candidate word, and
//! multi-word entries ("Salt Lake City") only where a word starts one.

use rustc_hash::FxHashMap;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The bit marking a word that begins some multi-word entry.
pub(crate) const STARTS_PHRASE: u64 = 1 << 63;

/// The letter case a dictionary rule requires of each word it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaseRule {
    Any,
    Title,
    Upper,
    TitleOrUpper,
}

/// All dictionaries of a rule set, keyed by normalised entry.
#[derive(Debug, Default)]
pub(crate) struct Lexicon {
    entries: FxHashMap<Box<[u8]>, u64>,
    max_words: usize,
}

impl Lexicon {
    /// Builds the lexicon; the dictionary at position `i` gets bit `i`.
    pub(crate) fn new<'a>(dictionaries: impl Iterator<Item = &'a [String]>) -> Lexicon {
        let mut entries: FxHashMap<Box<[u8]>, u64> = FxHashMap::default();
        let mut max_words = 1;
        let mut key = Vec::new();
        for (bit, words) in dictionaries.enumerate() {
            for word in words {
                key.clear();
                let mut count = 0;
                for part in word.split_whitespace() {
                    if count > 0 {
                        key.push(b' ');
                    }
                    push_normalized(&mut key, part.as_bytes());
                    count += 1;
                }
                if count == 0 {
                    continue;
                }
                if count > 1 {
                    max_words = max_words.max(count.min(8));
                    let first = key.split(|&b| b == b' ').next().unwrap_or_default();
                    *entries.entry(first.into()).or_default() |= STARTS_PHRASE;
                }
                *entries.entry(key.as_slice().into()).or_default() |= 1 << bit;
            }
        }
        Lexicon { entries, max_words }
    }

    /// The dictionaries holding a normalised key (see [`push_normalized`]).
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> u64 {
        self.entries.get(key).copied().unwrap_or(0)
    }

    /// The most words in any entry.
    pub(crate) fn max_words(&self) -> usize {
        self.max_words
    }

    /// Whether the lexicon holds no entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Appends `word` lower-cased, with apostrophes (typographic or not) and diacritics
/// removed, so `García`, `GARCIA` and `Garcia` share one key and the Census lists (plain
/// ASCII, written `Oneill`) still find `Nguyễn` and `O'Neill`. Entries and looked-up words
/// are folded alike. Keys are bytes, so an ASCII word (most of them) is copied and folded
/// without a UTF-8 check; bytes that are not UTF-8 add nothing.
#[inline]
pub(crate) fn push_normalized(key: &mut Vec<u8>, word: &[u8]) {
    if word.is_ascii() {
        if word.contains(&b'\'') {
            let letters = word.iter().filter(|&&b| b != b'\'');
            key.extend(letters.map(u8::to_ascii_lowercase));
        } else {
            let from = key.len();
            key.extend_from_slice(word);
            key[from..].make_ascii_lowercase();
        }
        return;
    }
    let Ok(word) = std::str::from_utf8(word) else {
        return;
    };
    let mut buffer = [0; 4];
    for c in word.nfd() {
        match c {
            '\u{2019}' | '\u{2018}' | '\'' => {}
            c if is_combining_mark(c) => {}
            c => {
                for lower in c.to_lowercase() {
                    key.extend_from_slice(lower.encode_utf8(&mut buffer).as_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_fold_case_and_mark_phrases() {
        let first = vec!["Maria".to_owned(), "José".to_owned()];
        let cities = vec!["Salt Lake City".to_owned(), "Salt".to_owned()];
        let lexicon = Lexicon::new([first.as_slice(), cities.as_slice()].into_iter());
        assert_eq!(lexicon.get(b"maria"), 1);
        assert_eq!(lexicon.get(b"jose"), 1);
        assert_eq!(lexicon.get(b"salt lake city"), 2);
        assert_eq!(lexicon.get(b"salt"), 2 | STARTS_PHRASE);
        assert_eq!(lexicon.get(b"lake"), 0);
        assert_eq!(lexicon.max_words(), 3);
    }

    #[test]
    fn diacritics_and_apostrophes_fold() {
        let mut key = Vec::new();
        push_normalized(&mut key, "Nguyễn".as_bytes());
        assert_eq!(key, b"nguyen");
        key.clear();
        push_normalized(&mut key, "O’Brien".as_bytes());
        assert_eq!(key, b"obrien");
        key.clear();
        push_normalized(&mut key, b"D'Souza-O'Neill");
        assert_eq!(key, b"dsouza-oneill");
        key.clear();
        push_normalized(&mut key, "ŻUKOWSKI".as_bytes());
        assert_eq!(key, b"zukowski");
        key.clear();
        push_normalized(&mut key, b"Ab\xFF");
        assert_eq!(key, b"");
    }
}
