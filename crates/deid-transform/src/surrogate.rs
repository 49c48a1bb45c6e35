//! Surrogates: realistic fake values in place of real ones.
//!
//! A surrogate reads like what it replaces (a name for a name, a phone number in the same
//! layout), so de-identified text stays natural to read and to process, and any real
//! identifier the detector missed hides among the fake ones. The caller derives `seed` as a
//! keyed HMAC of the entity type and the value, so under one key the same original always
//! gives the same surrogate: a patient named ten times is one fake patient.
//!
//! Where a range is reserved, surrogates come from it and so can never be someone's real
//! value: telephone numbers 555-0100 to 555-0199 (set aside by NANPA for fiction), SSN areas
//! 900 to 999 (never issued), `example.org` (RFC 2606), ZIP codes 00000 to 00499 (never
//! assigned). Names and places are real words from the bundled dictionaries, drawn at
//! random; no surrogate is ever the original itself.
//!
//! The randomness is a deterministic stream, SHA-256 in counter mode over the seed, so the
//! same seed gives the same surrogate on every platform, with no random-number crate whose
//! output could change between versions.

use std::sync::OnceLock;

use deid_core::{EntityType, bundled_file};
use sha2::{Digest, Sha256};

use crate::dates;

/// Returns a fake value of the same type and shape as `value`, drawn from `seed`.
///
/// `seed` should be a keyed hash of the entity type and the value, so that equal originals
/// get equal surrogates and nobody without the key can link the two. Types without a
/// dedicated generator (record numbers, identifiers, addresses on the network) keep their
/// shape: each digit becomes a digit, each letter a letter of the same case, everything
/// else stays.
///
/// ```
/// use deid_core::EntityType;
/// use deid_transform::surrogate::surrogate;
///
/// let phone = surrogate(EntityType::Phone, "(312) 867-5309", &[7; 32]);
/// assert!(phone.starts_with('(') && phone.contains(") 555-01"));
/// ```
pub fn surrogate(entity: EntityType, value: &str, seed: &[u8; 32]) -> String {
    let stream = &mut Stream::new(seed);
    match entity {
        EntityType::Name => name(value, stream),
        EntityType::Phone | EntityType::Fax => differing(value, stream, |s| phone(value, s)),
        EntityType::Email => differing(value, stream, email),
        EntityType::Ssn => differing(value, stream, |s| ssn(value, s)),
        EntityType::StreetAddress => street_address(value, stream),
        EntityType::City => place(&CITIES, value, stream),
        EntityType::County => place(&COUNTIES, value, stream),
        EntityType::Zip => differing(value, stream, |s| zip(value, s)),
        EntityType::Date => differing(value, stream, |s| date(value, s)),
        EntityType::AgeOver89 => differing(value, stream, age),
        _ => differing(value, stream, |s| shape(value, s)),
    }
}

/// How many times a surrogate is drawn before settling for one equal to the original. Only
/// a value with almost nothing to vary (`-`, a lone digit) comes near: after 64 draws of a
/// digit, an equal result has probability 10^-64.
const MAX_DRAWS: usize = 64;

/// A deterministic stream of random numbers: block `i` is SHA-256(seed ‖ `i` as 8 bytes,
/// little-endian), read 8 bytes at a time.
///
/// With a secret seed the blocks are as unpredictable as SHA-256 outputs, so the surrogate
/// reveals nothing about the seed, and thus about the original, beyond its type and shape.
struct Stream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Stream {
    /// A stream at its start.
    fn new(seed: &[u8; 32]) -> Stream {
        Stream {
            seed: *seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    /// The next 8 bytes as a number.
    fn next_u64(&mut self) -> u64 {
        if self.used == self.block.len() {
            self.block = Sha256::new()
                .chain_update(self.seed)
                .chain_update(self.counter.to_le_bytes())
                .finalize()
                .into();
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&self.block[self.used..self.used + 8]);
        self.used += 8;
        u64::from_le_bytes(bytes)
    }

    /// A number uniform in `0..n` (0 if `n` is 0), by multiply-shift: the bias is below
    /// `n / 2^64`.
    fn below(&mut self, n: usize) -> usize {
        // The product shifted down is below `n`, so the cast is exact.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// The next 32 bytes, as a seed for a function that takes one.
    fn seed(&mut self) -> [u8; 32] {
        let mut seed = [0; 32];
        for chunk in seed.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        seed
    }

    /// A digit from `low` to `high` (both `0` to `9`).
    fn digit_in(&mut self, low: u8, high: u8) -> char {
        let span = usize::from(high.saturating_sub(low)) + 1;
        char::from(b'0' + low + self.below(span) as u8)
    }

    fn digit(&mut self) -> char {
        self.digit_in(0, 9)
    }

    /// A letter of `alphabet` (lower-case ASCII), upper-cased if `upper`.
    fn letter(&mut self, alphabet: &[u8], upper: bool) -> char {
        let letter = char::from(alphabet[self.below(alphabet.len())]);
        if upper {
            letter.to_ascii_uppercase()
        } else {
            letter
        }
    }
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const HEX_LETTERS: &[u8] = b"abcdef";

/// Draws with `draw` until the result differs from `original` (ignoring case), at most
/// [`MAX_DRAWS`] times.
fn differing(
    original: &str,
    stream: &mut Stream,
    mut draw: impl FnMut(&mut Stream) -> String,
) -> String {
    let original = original.to_lowercase();
    let mut candidate = draw(stream);
    for _ in 1..MAX_DRAWS {
        if candidate.to_lowercase() != original {
            break;
        }
        candidate = draw(stream);
    }
    candidate
}

/// A bundled word list, read on first use.
struct Dictionary {
    path: &'static str,
    entries: OnceLock<Vec<&'static str>>,
}

static FIRST_NAMES: Dictionary = Dictionary::new("dict/first-names.txt");
static SURNAMES: Dictionary = Dictionary::new("dict/surnames.txt");
static CITIES: Dictionary = Dictionary::new("dict/cities.txt");
static COUNTIES: Dictionary = Dictionary::new("dict/counties.txt");

impl Dictionary {
    const fn new(path: &'static str) -> Dictionary {
        Dictionary {
            path,
            entries: OnceLock::new(),
        }
    }

    /// The entries, sorted for binary search.
    fn entries(&self) -> &[&'static str] {
        self.entries.get_or_init(|| {
            let text = bundled_file(self.path).unwrap_or_default();
            let mut entries: Vec<_> = text
                .lines()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .collect();
            entries.sort_unstable();
            entries
        })
    }

    /// Whether `word` is an entry, as written or capitalised (`JOHN` finds `John`).
    fn contains(&self, word: &str) -> bool {
        let entries = self.entries();
        [word.to_owned(), capitalised(word)]
            .iter()
            .any(|w| entries.binary_search(&w.as_str()).is_ok())
    }

    /// A random entry; random letters if the list is missing, so that nothing panics.
    fn draw(&self, stream: &mut Stream) -> String {
        match self.entries() {
            [] => {
                let mut word = String::from(stream.letter(LETTERS, true));
                word.extend((0..5).map(|_| stream.letter(LETTERS, false)));
                word
            }
            entries => entries[stream.below(entries.len())].to_owned(),
        }
    }
}

/// `word` with its first letter upper case and the rest lower case.
fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| {
            first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

/// How the original was capitalised, where that can be carried over to another word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    /// `SMITH`.
    Upper,
    /// `smith`.
    Lower,
    /// Anything else: the new word keeps its own spelling (`McAdam`).
    AsWritten,
}

impl Case {
    fn of(text: &str) -> Case {
        let mut letters = text.chars().filter(|c| c.is_alphabetic()).peekable();
        if letters.peek().is_none() {
            Case::AsWritten
        } else if letters.clone().all(char::is_uppercase) {
            Case::Upper
        } else if letters.all(char::is_lowercase) {
            Case::Lower
        } else {
            Case::AsWritten
        }
    }

    fn apply(self, text: &str) -> String {
        match self {
            Case::Upper => text.to_uppercase(),
            Case::Lower => text.to_lowercase(),
            Case::AsWritten => text.to_owned(),
        }
    }
}

/// A person's name: each word replaced by a dictionary word of the same role and case.
///
/// The last word is the surname and the others given names, unless a comma after the first
/// word puts the surname first (`Smith, John`). A lone word is a surname, or a given name if
/// it is a known given name and no surname. Initials stay initials; `Jr`, `III` and the like
/// stay as they are.
fn name(value: &str, stream: &mut Stream) -> String {
    let is_name_char = |c: char| c.is_alphabetic() || matches!(c, '\'' | '’' | '-');
    // A word has a letter: a lone dash between two names is punctuation.
    let parts: Vec<(bool, &str)> = runs(value, is_name_char)
        .into_iter()
        .map(|(name_chars, text)| (name_chars && text.chars().any(char::is_alphabetic), text))
        .collect();
    let words: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i].0 && !is_initial(parts[i].1) && !is_generational(parts[i].1))
        .collect();
    let comma_after = |i: usize| parts.get(i + 1).is_some_and(|(_, gap)| gap.contains(','));
    let surname = match words[..] {
        [] => None,
        [only] if FIRST_NAMES.contains(parts[only].1) && !SURNAMES.contains(parts[only].1) => None,
        [first, ..] if comma_after(first) => Some(first),
        [.., last] => Some(last),
    };

    let mut out = String::with_capacity(value.len());
    for (i, &(is_word, text)) in parts.iter().enumerate() {
        if !is_word || is_generational(text) {
            out.push_str(text);
        } else if is_initial(text) {
            let upper = text.chars().any(char::is_uppercase);
            out.push_str(&differing(text, stream, |s| {
                s.letter(LETTERS, upper).to_string()
            }));
        } else {
            let dictionary = if Some(i) == surname {
                &SURNAMES
            } else {
                &FIRST_NAMES
            };
            let case = Case::of(text);
            out.push_str(&differing(text, stream, |s| {
                case.apply(&dictionary.draw(s))
            }));
        }
    }
    out
}

/// A single letter, as in `J.` or `John Q Public`.
fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none()
}

/// `Jr`, `Sr`, `II`, `III`, `IV`: part of the name's form, not of the person.
fn is_generational(word: &str) -> bool {
    ["jr", "sr", "ii", "iii", "iv"]
        .iter()
        .any(|g| word.eq_ignore_ascii_case(g))
}

/// Splits `text` into maximal runs of characters that do and do not satisfy `pred`.
fn runs(text: &str, pred: impl Fn(char) -> bool) -> Vec<(bool, &str)> {
    let mut runs = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let kind = pred(first);
        let end = rest.find(|c| pred(c) != kind).unwrap_or(rest.len());
        runs.push((kind, &rest[..end]));
        rest = &rest[end..];
    }
    runs
}

/// Replaces each ASCII digit of `template` with `digit(index, original)`; all else stays.
fn replace_digits(template: &str, mut digit: impl FnMut(usize, char) -> char) -> String {
    let mut index = 0;
    template
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            index += 1;
            digit(index - 1, c)
        })
        .collect()
}

/// A telephone or fax number in the original's layout.
///
/// With ten digits or more, the last ten are a North American number in the fictional range
/// `NXX-555-01XX`; digits before them are a country code (`+1`) and stay. Shorter numbers
/// get random digits. An extension (`x204`, `ext. 12`, `#3`) gets random digits too.
fn phone(value: &str, stream: &mut Stream) -> String {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic() || c == '#')
        .unwrap_or(value.len());
    let (number, extension) = value.split_at(split);
    let count = number.bytes().filter(u8::is_ascii_digit).count();
    let country = count.saturating_sub(10);
    let mut out = replace_digits(number, |i, original| {
        if count < 10 {
            return stream.digit();
        }
        match i.checked_sub(country) {
            None => original,
            Some(0) => stream.digit_in(2, 9),
            Some(3..=5) => '5',
            Some(6) => '0',
            Some(7) => '1',
            Some(_) => stream.digit(),
        }
    });
    out.push_str(&replace_digits(extension, |_, _| stream.digit()));
    out
}

/// An SSN in the original's layout with area 900–999, which was never issued, and a nonzero
/// group and serial; other digit counts are not SSNs and just keep their shape.
fn ssn(value: &str, stream: &mut Stream) -> String {
    if value.bytes().filter(u8::is_ascii_digit).count() != 9 {
        return shape(value, stream);
    }
    let (area, group, serial) = (
        stream.below(100),
        stream.below(99) + 1,
        stream.below(9999) + 1,
    );
    let digits = format!("9{area:02}{group:02}{serial:04}");
    let mut digits = digits.chars();
    replace_digits(value, |_, original| digits.next().unwrap_or(original))
}

/// A ZIP code in `00000`–`00499`, which the USPS has never assigned (the lowest ZIP in use is
/// 00501); the digits of a ZIP+4 extension are random.
fn zip(value: &str, stream: &mut Stream) -> String {
    replace_digits(value, |i, _| match i {
        0 | 1 => '0',
        2 => stream.digit_in(0, 4),
        _ => stream.digit(),
    })
}

/// An age that stays in its category: 90 to 104.
fn age(stream: &mut Stream) -> String {
    (90 + stream.below(15)).to_string()
}

/// `first.last42@example.org`, lower case, from the name dictionaries (ASCII entries only,
/// as e-mail addresses are in practice).
fn email(stream: &mut Stream) -> String {
    let mut ascii_word = |dictionary: &Dictionary| {
        let mut word = String::new();
        for _ in 0..MAX_DRAWS {
            word = dictionary.draw(stream).to_lowercase();
            if word.bytes().all(|b| b.is_ascii_lowercase()) {
                break;
            }
        }
        word.retain(|c| c.is_ascii_lowercase());
        word
    };
    let (first, last) = (ascii_word(&FIRST_NAMES), ascii_word(&SURNAMES));
    format!("{first}.{last}{:02}@example.org", stream.below(100))
}

/// Street suffixes, in full and abbreviated (USPS Publication 28 abbreviations).
const STREET_SUFFIXES: [(&str, &str); 8] = [
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Lane", "Ln"),
    ("Drive", "Dr"),
    ("Court", "Ct"),
    ("Boulevard", "Blvd"),
    ("Place", "Pl"),
];

/// `<number> <Surname> <suffix>`: the house number has as many digits as the original's, and
/// the suffix is abbreviated (with its dot, if any) when the original's was. Whatever follows
/// the street (apartment, unit) is not carried over.
fn street_address(value: &str, stream: &mut Stream) -> String {
    let house_digits = value
        .trim_start()
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    // The original's last suffix word decides the style: `Some(".")` for `St.`, `Some("")`
    // for `St`, `None` for `Street` or no suffix.
    let abbreviation = value
        .split(|c: char| c.is_whitespace() || c == ',')
        .rev()
        .find_map(|word| {
            let (bare, dot) = word
                .strip_suffix('.')
                .map_or((word, ""), |bare| (bare, "."));
            STREET_SUFFIXES.iter().find_map(|(full, short)| {
                if bare.eq_ignore_ascii_case(full) {
                    Some(None)
                } else if bare.eq_ignore_ascii_case(short) {
                    Some(Some(dot))
                } else {
                    None
                }
            })
        })
        .flatten();
    let case = Case::of(value);
    differing(value, stream, |s| {
        let mut out = String::new();
        if house_digits > 0 {
            out.push(s.digit_in(1, 9));
            out.extend((1..house_digits).map(|_| s.digit()));
            out.push(' ');
        }
        out.push_str(&SURNAMES.draw(s));
        let (full, short) = STREET_SUFFIXES[s.below(STREET_SUFFIXES.len())];
        out.push(' ');
        match abbreviation {
            Some(dot) => out.extend([short, dot]),
            None => out.push_str(full),
        }
        case.apply(&out)
    })
}

/// Words after a county's name that belong to its form, not to the place.
const COUNTY_DESIGNATIONS: [&str; 4] = ["County", "Co.", "Parish", "Borough"];

/// A place from `dictionary`, in the original's case; a designation such as `County` stays.
fn place(dictionary: &Dictionary, value: &str, stream: &mut Stream) -> String {
    let value = value.trim();
    let designation = |word: &str| {
        COUNTY_DESIGNATIONS
            .iter()
            .any(|d| word.eq_ignore_ascii_case(d))
    };
    let (name, designation) = match value.rsplit_once(' ') {
        Some((name, word)) if designation(word) => (name, &value[name.len()..]),
        _ => (value, ""),
    };
    let case = Case::of(name);
    let place = differing(name, stream, |s| case.apply(&dictionary.draw(s)));
    format!("{place}{designation}")
}

/// The date shifted by up to a year either way, in its own style; a date that does not
/// parse keeps its shape instead.
fn date(value: &str, stream: &mut Stream) -> String {
    let days = dates::offset_days(&stream.seed(), -365, 365);
    dates::shift(value, days).unwrap_or_else(|| shape(value, stream))
}

/// Each digit replaced by a random digit and each letter by a random letter of the same case;
/// everything else stays. If every letter is a hex digit (MAC and IPv6 addresses, UUIDs),
/// the new letters are too, so the value still parses as what it was.
fn shape(value: &str, stream: &mut Stream) -> String {
    let hex = value
        .chars()
        .all(|c| !c.is_alphabetic() || c.is_ascii_hexdigit());
    let alphabet = if hex { HEX_LETTERS } else { LETTERS };
    value
        .chars()
        .map(|c| {
            if c.is_numeric() {
                stream.digit()
            } else if c.is_alphabetic() {
                stream.letter(alphabet, c.is_uppercase())
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Originals of every kind, with the awkward ones: a lone digit, a name that is only an
    /// initial, a phone number already in the fictional range, a date without a year.
    const SAMPLES: &[(EntityType, &str)] = &[
        (EntityType::Name, "John Smith"),
        (EntityType::Name, "SMITH, JOHN A."),
        (EntityType::Name, "J."),
        (EntityType::Name, "Smith"),
        (EntityType::Name, "mary-ann o'connor jr"),
        (EntityType::Phone, "(312) 555-0142"),
        (EntityType::Phone, "+1 312.867.5309 x204"),
        (EntityType::Fax, "867-5309"),
        (EntityType::Email, "jane.doe@hospital.org"),
        (EntityType::Ssn, "123-45-6789"),
        (EntityType::Ssn, "900010001"),
        (EntityType::StreetAddress, "123 Main St."),
        (EntityType::StreetAddress, "4 ELM AVENUE"),
        (EntityType::StreetAddress, "Rue de Rivoli"),
        (EntityType::City, "Springfield"),
        (EntityType::County, "Cook County"),
        (EntityType::Zip, "02139"),
        (EntityType::Zip, "00123-4567"),
        (EntityType::Date, "2021-03-14"),
        (EntityType::Date, "March 14"),
        (EntityType::Date, "Nov 2017"),
        (EntityType::Date, "13/45/2021"),
        (EntityType::Mrn, "MRN-00482913"),
        (EntityType::OtherId, "7"),
        (EntityType::MacAddress, "00:1A:2b:3C:4d:5E"),
        (EntityType::IpAddress, "2604:d0fc::aff7"),
        (EntityType::Url, "https://x.org/p/42"),
    ];

    fn seed(n: u64) -> [u8; 32] {
        let mut seed = [0; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        seed
    }

    #[test]
    fn ages_over_89_stay_over_89() {
        for i in 0..200u8 {
            let age = surrogate(EntityType::AgeOver89, "92", &[i; 32]);
            let years: u32 = age.parse().expect("a number");
            assert!((90..=104).contains(&years) && age != "92", "{age}");
        }
    }
    #[test]
    fn odd_values_do_not_panic() {
        let long = "x9-".repeat(1000);
        for &entity in EntityType::ALL {
            for value in [
                "",
                " ",
                "-",
                ",",
                "🙂 🙂",
                "a",
                "0",
                "Ünï 12-ß",
                "x#1",
                long.as_str(),
            ] {
                let _ = surrogate(entity, value, &seed(1));
            }
        }
    }

    #[test]
    fn same_seed_same_surrogate() {
        for &(entity, value) in SAMPLES {
            assert_eq!(
                surrogate(entity, value, &seed(9)),
                surrogate(entity, value, &seed(9)),
                "{entity} {value:?}"
            );
        }
    }

    #[test]
    fn different_seeds_give_different_surrogates() {
        for &(entity, value) in SAMPLES {
            let mut drawn: Vec<String> = (0..20)
                .map(|n| surrogate(entity, value, &seed(n)))
                .collect();
            drawn.sort_unstable();
            drawn.dedup();
            // A lone digit or initial has few alternatives; everything else has many.
            assert!(drawn.len() >= 5, "{entity} {value:?}: {drawn:?}");
        }
    }

    #[test]
    fn never_the_original() {
        for &(entity, value) in SAMPLES {
            for n in 0..300 {
                let fake = surrogate(entity, value, &seed(n));
                assert_ne!(
                    fake.to_lowercase(),
                    value.to_lowercase(),
                    "{entity} seed {n}"
                );
            }
        }
    }

    /// Whether `fake` has `value`'s layout: same length in characters, digits where digits
    /// were, letters of the same case where letters were, the other characters unchanged.
    fn same_shape(value: &str, fake: &str) -> bool {
        value.chars().count() == fake.chars().count()
            && value.chars().zip(fake.chars()).all(|(v, f)| {
                if v.is_ascii_digit() {
                    f.is_ascii_digit()
                } else if v.is_alphabetic() {
                    f.is_alphabetic() && v.is_uppercase() == f.is_uppercase()
                } else {
                    v == f
                }
            })
    }

    #[test]
    fn identifiers_keep_their_shape() {
        for (entity, value) in [
            (EntityType::Mrn, "MRN-00482913"),
            (EntityType::AccountNumber, "ab 12/Cd-9"),
            (EntityType::Url, "https://x.org/p/42"),
            (EntityType::IpAddress, "10.0.0.1"),
            (EntityType::Ssn, "12-345"),
            (EntityType::Date, "13/45/2021"),
            (EntityType::DeviceId, "Ünï-42"),
        ] {
            for n in 0..20 {
                let fake = surrogate(entity, value, &seed(n));
                assert!(same_shape(value, &fake), "{value:?} -> {fake:?}");
            }
        }
    }

    #[test]
    fn hex_stays_hex() {
        for value in [
            "00:1A:2b:3C:4d:5E",
            "2604:d0fc::aff7",
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        ] {
            for n in 0..20 {
                let fake = surrogate(EntityType::MacAddress, value, &seed(n));
                assert!(same_shape(value, &fake), "{value:?} -> {fake:?}");
                assert!(
                    fake.chars()
                        .all(|c| c.is_ascii_hexdigit() || "-:".contains(c)),
                    "{fake}"
                );
            }
        }
    }

    #[test]
    fn phones_are_fictional_and_keep_their_layout() {
        for n in 0..50 {
            let fake = surrogate(EntityType::Phone, "(312) 867-5309", &seed(n));
            assert!(same_shape("(312) 867-5309", &fake), "{fake}");
            assert!(fake[1..2].parse::<u8>().is_ok_and(|d| d >= 2), "{fake}");
            assert!(fake[6..].starts_with("555-01"), "{fake}");

            let fake = surrogate(EntityType::Fax, "+1 312.867.5309 ext. 204", &seed(n));
            assert!(same_shape("+1 312.867.5309 ext. 204", &fake), "{fake}");
            assert!(
                fake.starts_with("+1 ") && fake[6..].starts_with(".555.01"),
                "{fake}"
            );

            let fake = surrogate(EntityType::Phone, "867-5309", &seed(n));
            assert!(same_shape("867-5309", &fake), "{fake}");
        }
    }

    #[test]
    fn ssns_are_never_issued_ones() {
        for (value, layout) in [("123-45-6789", "ddd-dd-dddd"), ("123456789", "ddddddddd")] {
            for n in 0..100 {
                let fake = surrogate(EntityType::Ssn, value, &seed(n));
                assert!(
                    same_shape(layout.replace('d', "0").as_str(), &fake),
                    "{fake}"
                );
                let digits: String = fake.chars().filter(char::is_ascii_digit).collect();
                assert!(
                    digits[..3].parse::<u32>().is_ok_and(|area| area >= 900),
                    "{fake}"
                );
                assert_ne!(&digits[3..5], "00", "{fake}");
                assert_ne!(&digits[5..], "0000", "{fake}");
            }
        }
    }

    #[test]
    fn zips_are_unassigned() {
        for value in ["02139", "02139-4307"] {
            for n in 0..50 {
                let fake = surrogate(EntityType::Zip, value, &seed(n));
                assert!(same_shape(value, &fake), "{fake}");
                assert!(
                    fake[..5].parse::<u32>().is_ok_and(|zip| zip < 500),
                    "{fake}"
                );
            }
        }
    }

    #[test]
    fn emails_are_at_example_org() {
        for n in 0..50 {
            let fake = surrogate(EntityType::Email, "Jane.Doe@hospital.org", &seed(n));
            let local = fake
                .strip_suffix("@example.org")
                .unwrap_or_else(|| panic!("{fake}"));
            let (first, last) = local.split_once('.').unwrap_or_else(|| panic!("{fake}"));
            let (surname, number) = last.split_at(last.len() - 2);
            assert!(
                first.bytes().all(|b| b.is_ascii_lowercase()) && !first.is_empty(),
                "{fake}"
            );
            assert!(
                surname.bytes().all(|b| b.is_ascii_lowercase()) && !surname.is_empty(),
                "{fake}"
            );
            assert!(number.bytes().all(|b| b.is_ascii_digit()), "{fake}");
        }
    }

    /// Whether `word` is in `dictionary`, in any case.
    fn known(dictionary: &Dictionary, word: &str) -> bool {
        dictionary
            .entries()
            .iter()
            .any(|entry| entry.to_lowercase() == word.to_lowercase())
    }

    #[test]
    fn names_come_from_the_dictionaries_in_the_original_form() {
        for n in 0..30 {
            let fake = surrogate(EntityType::Name, "John Smith", &seed(n));
            let (first, last) = fake.split_once(' ').unwrap_or_else(|| panic!("{fake}"));
            assert!(
                known(&FIRST_NAMES, first) && known(&SURNAMES, last),
                "{fake}"
            );

            let fake = surrogate(EntityType::Name, "SMITH, JOHN", &seed(n));
            let (last, first) = fake.split_once(", ").unwrap_or_else(|| panic!("{fake}"));
            assert!(
                known(&SURNAMES, last) && known(&FIRST_NAMES, first),
                "{fake}"
            );
            assert_eq!(fake, fake.to_uppercase());

            let fake = surrogate(EntityType::Name, "J. Smith III", &seed(n));
            let (initial, rest) = fake.split_once(". ").unwrap_or_else(|| panic!("{fake}"));
            assert!(initial.len() == 1 && initial != "J" && initial == initial.to_uppercase());
            let last = rest
                .strip_suffix(" III")
                .unwrap_or_else(|| panic!("{fake}"));
            assert!(known(&SURNAMES, last), "{fake}");

            let fake = surrogate(EntityType::Name, "smith", &seed(n));
            assert!(
                known(&SURNAMES, &fake) && fake == fake.to_lowercase(),
                "{fake}"
            );
        }
    }

    #[test]
    fn a_lone_given_name_stays_a_given_name() {
        let given = FIRST_NAMES
            .entries()
            .iter()
            .find(|name| name.is_ascii() && !SURNAMES.contains(name))
            .expect("some given name is no surname");
        assert!(!SURNAMES.contains(&given.to_uppercase()));
        for n in 0..30 {
            let fake = surrogate(EntityType::Name, given, &seed(n));
            assert!(FIRST_NAMES.contains(&fake), "{given} -> {fake}");
        }
    }

    #[test]
    fn street_addresses_keep_number_length_and_suffix_style() {
        let abbreviations: Vec<&str> = STREET_SUFFIXES.iter().map(|(_, short)| *short).collect();
        let full: Vec<&str> = STREET_SUFFIXES.iter().map(|(full, _)| *full).collect();
        for n in 0..30 {
            let fake = surrogate(EntityType::StreetAddress, "123 Main St. Apt 4", &seed(n));
            let (number, rest) = fake.split_once(' ').unwrap_or_else(|| panic!("{fake}"));
            assert!(number.len() == 3 && !number.starts_with('0'), "{fake}");
            let (street, suffix) = rest.rsplit_once(' ').unwrap_or_else(|| panic!("{fake}"));
            assert!(known(&SURNAMES, street), "{fake}");
            let suffix = suffix.strip_suffix('.').unwrap_or_else(|| panic!("{fake}"));
            assert!(abbreviations.contains(&suffix), "{fake}");

            let fake = surrogate(EntityType::StreetAddress, "4 ELM AVENUE", &seed(n));
            let suffix = fake.rsplit(' ').next().unwrap_or_default();
            assert!(full.iter().any(|f| f.to_uppercase() == suffix), "{fake}");
            assert!(
                fake.len() > 2 && fake[..1].parse::<u8>().is_ok() && &fake[1..2] == " ",
                "{fake}"
            );
            assert_eq!(fake, fake.to_uppercase());

            let fake = surrogate(EntityType::StreetAddress, "Rue de Rivoli", &seed(n));
            assert!(!fake.starts_with(|c: char| c.is_ascii_digit()), "{fake}");
        }
    }

    #[test]
    fn places_come_from_the_dictionaries() {
        for n in 0..30 {
            let fake = surrogate(EntityType::City, "Springfield", &seed(n));
            assert!(CITIES.contains(&fake), "{fake}");

            let fake = surrogate(EntityType::County, "COOK COUNTY", &seed(n));
            let county = fake
                .strip_suffix(" COUNTY")
                .unwrap_or_else(|| panic!("{fake}"));
            assert!(
                known(&COUNTIES, county) && county == county.to_uppercase(),
                "{fake}"
            );
        }
    }

    #[test]
    fn dates_move_within_a_year_in_their_own_style() {
        for n in 0..30 {
            let fake = surrogate(EntityType::Date, "03/14/2021", &seed(n));
            let moved =
                (-365..=365).find(|&days| dates::shift("03/14/2021", days) == Some(fake.clone()));
            assert!(moved.is_some_and(|days| days != 0), "{fake}");
        }
    }

    #[test]
    fn the_stream_is_counter_mode_sha256() {
        let seed = [3; 32];
        let mut stream = Stream::new(&seed);
        let draws: Vec<u64> = (0..8).map(|_| stream.next_u64()).collect();
        for (block, chunk) in draws.chunks(4).enumerate() {
            let expected: [u8; 32] = Sha256::new()
                .chain_update(seed)
                .chain_update((block as u64).to_le_bytes())
                .finalize()
                .into();
            let got: Vec<u8> = chunk.iter().flat_map(|d| d.to_le_bytes()).collect();
            assert_eq!(got, expected);
        }
    }
}
