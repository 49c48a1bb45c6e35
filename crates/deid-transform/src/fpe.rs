//! The `encrypt` action: format-preserving encryption the key holder can reverse.
//!
//! Downstream systems often validate identifiers — an SSN column must hold
//! `ddd-dd-dddd`, a VIN seventeen letters and digits — so `encrypt` replaces a value with
//! one of the same shape: digits stay digits, ASCII letters stay letters of the same case,
//! and every other character (`-`, space, `.`, `@`, `(` …) stays where it was. The same
//! value and key always give the same ciphertext, so joins survive, and `deid decrypt`
//! restores the original with the key.
//!
//! # Scheme
//!
//! The digits of a value form one numeral string (radix 10), its letters, lowercased,
//! another (radix 26). Both are encrypted with FF1 (NIST SP 800-38G) under AES-256 with
//! the key's [`Purpose::Encrypt`] subkey, in two steps:
//!
//! 1. the *first* class — the digits if there are at least 6 of them, else the letters —
//!    with a tweak of the entity type and the other class's plaintext;
//! 2. the other class with a tweak of the entity type and the first class's ciphertext.
//!
//! This is a two-round Feistel network over the whole value: a permutation of the values
//! of one format, in which every output character depends on every input character, and
//! which `decrypt` undoes in reverse order. Putting the type in the tweak makes an SSN and
//! an MRN with the same digits encrypt differently.
//!
//! NIST SP 800-38G Rev. 1 requires an FF1 domain of at least 1,000,000 values: 6 digits
//! or 5 letters. The first class must reach it, or the value is [`FpeError::TooShort`]
//! (the caller picks a fallback). A second class below it — the `MR` of `MR00123456`, the
//! `1` of `jane.doe1@example.org` — is instead shifted, as a number modulo its domain, by a
//! keyed offset: an HMAC-SHA-256 of the step's tweak under a separate subkey. Since the
//! tweak holds the first class's ciphertext, the offset changes with every other
//! character of the value.
//!
//! What is kept is visible by design: the length, the positions of digits, letters and
//! separators, and the case of each letter. Only ASCII values are handled.
//!
//! ```
//! use deid_core::EntityType;
//! use deid_transform::fpe::FormatPreserving;
//! use deid_transform::key::Key;
//!
//! let fpe = FormatPreserving::new(&Key::generate());
//! let ciphertext = fpe.encrypt(EntityType::Ssn, "123-45-6789")?;
//! assert_eq!(ciphertext.len(), 11);
//! assert_eq!(ciphertext.as_bytes()[3], b'-');
//! assert_eq!(fpe.decrypt(EntityType::Ssn, &ciphertext)?, "123-45-6789");
//! # Ok::<(), deid_transform::fpe::FpeError>(())
//! ```

use std::fmt;

use aes::Aes256;
use deid_core::EntityType;
use fpe::ff1::{FF1, FlexibleNumeralString};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ff1::Ff1;
use crate::key::{self, Key, Purpose};

/// The longest value handled, in bytes. Identifiers are far shorter, and FF1's cost grows
/// with the square of the length.
pub const MAX_LEN: usize = 256;

/// The smallest FF1 domain NIST SP 800-38G Rev. 1 allows.
const MIN_DOMAIN: u64 = 1_000_000;

/// Why a value cannot be encrypted or decrypted. Never carries the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FpeError {
    /// Too few digits and too few letters for FF1's minimum domain.
    #[error(
        "{entity} value is too short for format-preserving encryption: it has {digits} \
         digits and {letters} letters, and needs at least {} digits or {} letters",
        Class::Digits.min_len(),
        Class::Letters.min_len()
    )]
    TooShort {
        /// The value's type.
        entity: EntityType,
        /// Digits in the value.
        digits: usize,
        /// ASCII letters in the value.
        letters: usize,
    },
    /// Longer than [`MAX_LEN`] bytes.
    #[error(
        "{entity} value is too long for format-preserving encryption: {len} bytes, at most \
         {MAX_LEN}"
    )]
    TooLong {
        /// The value's type.
        entity: EntityType,
        /// The value's length in bytes.
        len: usize,
    },
    /// Holds a character outside ASCII.
    #[error(
        "{entity} value has non-ASCII characters, which format-preserving encryption keeps out"
    )]
    NonAscii {
        /// The value's type.
        entity: EntityType,
    },
}

/// Encrypts and decrypts values in place of their format. `Send + Sync`: share one
/// across threads.
pub struct FormatPreserving {
    digits: FF1<Aes256>,
    letters: FF1<Aes256>,
    /// The same FF1s in `u128` arithmetic, tried first: most values fit.
    fast_digits: Ff1,
    fast_letters: Ff1,
    /// Keys the offsets of classes too short for FF1.
    offsets: Hmac<Sha256>,
    fingerprint: String,
}

/// A class of characters that is encrypted as one numeral string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Digits = 0,
    Letters = 1,
}

impl Class {
    /// The class of an ASCII byte and its numeral, if it is a digit or letter.
    fn of(byte: u8) -> Option<(Class, u16)> {
        match byte {
            b'0'..=b'9' => Some((Class::Digits, u16::from(byte - b'0'))),
            b'a'..=b'z' => Some((Class::Letters, u16::from(byte - b'a'))),
            b'A'..=b'Z' => Some((Class::Letters, u16::from(byte - b'A'))),
            _ => None,
        }
    }

    /// The character for `numeral`, uppercase if `upper`.
    fn render(self, numeral: u16, upper: bool) -> char {
        let base = match self {
            Class::Digits => b'0',
            Class::Letters if upper => b'A',
            Class::Letters => b'a',
        };
        char::from(base + u8::try_from(numeral).expect("numerals are below 26"))
    }

    const fn radix(self) -> u16 {
        match self {
            Class::Digits => 10,
            Class::Letters => 26,
        }
    }

    /// The fewest numerals FF1 may encrypt in this radix.
    const fn min_len(self) -> usize {
        let (mut len, mut domain) = (0, 1);
        while domain < MIN_DOMAIN {
            domain *= self.radix() as u64;
            len += 1;
        }
        len
    }

    const fn name(self) -> &'static str {
        match self {
            Class::Digits => "digits",
            Class::Letters => "letters",
        }
    }

    const fn other(self) -> Class {
        match self {
            Class::Digits => Class::Letters,
            Class::Letters => Class::Digits,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Encrypt,
    Decrypt,
}

impl FormatPreserving {
    /// Format-preserving encryption under `key`'s [`Purpose::Encrypt`] subkey.
    pub fn new(key: &Key) -> FormatPreserving {
        let ff1_key = key.derive(Purpose::Encrypt);
        let ff1 = |class: Class| {
            FF1::new(&*ff1_key, u32::from(class.radix())).expect("10 and 26 are valid FF1 radixes")
        };
        FormatPreserving {
            digits: ff1(Class::Digits),
            letters: ff1(Class::Letters),
            fast_digits: Ff1::new(&ff1_key, Class::Digits.radix()),
            fast_letters: Ff1::new(&ff1_key, Class::Letters.radix()),
            offsets: key::hmac(&*key.derive_part(Purpose::Encrypt, "short-class")),
            fingerprint: key.fingerprint(),
        }
    }

    /// Encrypts `value`, a value of type `entity`, keeping its format.
    ///
    /// # Errors
    /// When the value is not ASCII, is longer than [`MAX_LEN`], or has fewer than 6
    /// digits and fewer than 5 letters.
    pub fn encrypt(&self, entity: EntityType, value: &str) -> Result<String, FpeError> {
        self.apply(entity, value, Direction::Encrypt)
    }

    /// Decrypts what [`FormatPreserving::encrypt`] made of a value of type `entity`.
    ///
    /// Under another key, or given a value that was never encrypted, this returns some
    /// other value of the same format, not an error: FF1 has no integrity check.
    ///
    /// # Errors
    /// As for [`FormatPreserving::encrypt`].
    pub fn decrypt(&self, entity: EntityType, value: &str) -> Result<String, FpeError> {
        self.apply(entity, value, Direction::Decrypt)
    }

    fn apply(
        &self,
        entity: EntityType,
        value: &str,
        direction: Direction,
    ) -> Result<String, FpeError> {
        if !value.is_ascii() {
            return Err(FpeError::NonAscii { entity });
        }
        if value.len() > MAX_LEN {
            return Err(FpeError::TooLong {
                entity,
                len: value.len(),
            });
        }
        let mut numerals: [Vec<u16>; 2] = Default::default();
        for (class, numeral) in value.bytes().filter_map(Class::of) {
            numerals[class as usize].push(numeral);
        }

        // Lengths are kept, so decryption picks the same first class as encryption did.
        let [digits, letters] = numerals.each_ref().map(Vec::len);
        let first = if digits >= Class::Digits.min_len() {
            Class::Digits
        } else if letters >= Class::Letters.min_len() {
            Class::Letters
        } else {
            return Err(FpeError::TooShort {
                entity,
                digits,
                letters,
            });
        };
        let steps = match direction {
            Direction::Encrypt => [first, first.other()],
            Direction::Decrypt => [first.other(), first],
        };
        for class in steps {
            let tweak = tweak(entity, class, &numerals[class.other() as usize]);
            let input = std::mem::take(&mut numerals[class as usize]);
            numerals[class as usize] = self.permute(class, &tweak, input, direction);
        }

        let mut next = [0; 2];
        let out = value
            .bytes()
            .map(|byte| match Class::of(byte) {
                Some((class, _)) => {
                    let numeral = numerals[class as usize][next[class as usize]];
                    next[class as usize] += 1;
                    class.render(numeral, byte.is_ascii_uppercase())
                }
                None => char::from(byte),
            })
            .collect();
        Ok(out)
    }

    /// Encrypts or decrypts the numerals of one class: FF1 when there are enough of them,
    /// else a keyed offset modulo the class's domain. FF1 runs in `u128` arithmetic when
    /// the numerals allow (up to 56 digits or 40 letters), else in the `fpe` crate's.
    fn permute(&self, class: Class, tweak: &[u8], x: Vec<u16>, direction: Direction) -> Vec<u16> {
        if x.len() >= class.min_len() {
            let (ff1, fast) = match class {
                Class::Digits => (&self.digits, &self.fast_digits),
                Class::Letters => (&self.letters, &self.fast_letters),
            };
            let y = match direction {
                Direction::Encrypt => fast.encrypt(tweak, &x),
                Direction::Decrypt => fast.decrypt(tweak, &x),
            };
            if let Some(y) = y {
                return y;
            }
            let x = FlexibleNumeralString::from(x);
            let y = match direction {
                Direction::Encrypt => ff1.encrypt(tweak, &x),
                Direction::Decrypt => ff1.decrypt(tweak, &x),
            };
            return y
                .expect("numerals are in range and the length within FF1's")
                .into();
        }

        // Fewer than `min_len` numerals: the domain is below 1,000,000, so fits a u64.
        let radix = u64::from(class.radix());
        let domain = radix.pow(x.len() as u32);
        let mac = self
            .offsets
            .clone()
            .chain_update(tweak)
            .finalize()
            .into_bytes();
        let offset = u64::from_be_bytes(mac[..8].try_into().expect("32-byte MAC")) % domain;
        let number = x.iter().fold(0, |n, &d| n * radix + u64::from(d));
        let mut number = match direction {
            Direction::Encrypt => (number + offset) % domain,
            Direction::Decrypt => (number + domain - offset) % domain,
        };
        let mut y = x;
        for numeral in y.iter_mut().rev() {
            *numeral = (number % radix) as u16;
            number /= radix;
        }
        y
    }
}

impl fmt::Debug for FormatPreserving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FormatPreserving(key fingerprint {})", self.fingerprint)
    }
}

/// The tweak for encrypting `class`: `type name || 0x00 || class name || 0x00 || other`,
/// where `other` is the other class's numerals, one byte each.
fn tweak(entity: EntityType, class: Class, other: &[u16]) -> Vec<u8> {
    let mut tweak = Vec::with_capacity(32 + other.len());
    tweak.extend_from_slice(entity.as_str().as_bytes());
    tweak.push(0);
    tweak.extend_from_slice(class.name().as_bytes());
    tweak.push(0);
    tweak.extend(
        other
            .iter()
            .map(|&n| u8::try_from(n).expect("numerals are below 26")),
    );
    tweak
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: [(EntityType, &str); 5] = [
        (EntityType::Ssn, "123-45-6789"),
        (EntityType::Phone, "(312) 555-0142"),
        (EntityType::Mrn, "MR00123456"),
        (EntityType::Email, "jane.doe1@example.org"),
        (EntityType::VehicleId, "1HGCM82633A004352"),
    ];

    /// Whether `b` has the format of `a`: same length, digits where `a` has digits,
    /// letters of the same case where it has letters, the same other characters.
    fn same_format(a: &str, b: &str) -> bool {
        a.len() == b.len()
            && a.bytes().zip(b.bytes()).all(|(x, y)| match Class::of(x) {
                Some((Class::Digits, _)) => y.is_ascii_digit(),
                Some((Class::Letters, _)) => {
                    y.is_ascii_alphabetic() && x.is_ascii_uppercase() == y.is_ascii_uppercase()
                }
                None => x == y,
            })
    }

    #[test]
    fn round_trips_and_keeps_the_format() {
        let fpe = FormatPreserving::new(&Key::generate());
        for (entity, value) in SAMPLES {
            let ciphertext = fpe.encrypt(entity, value).unwrap();
            assert_ne!(ciphertext, value);
            assert!(same_format(value, &ciphertext), "{value} -> {ciphertext}");
            assert_eq!(fpe.encrypt(entity, value).unwrap(), ciphertext);
            assert_eq!(fpe.decrypt(entity, &ciphertext).unwrap(), value);
        }
    }

    #[test]
    fn output_depends_on_key_and_type() {
        let key = Key::from_bytes([1; 32]);
        let fpe = FormatPreserving::new(&key);
        let other = FormatPreserving::new(&Key::from_bytes([2; 32]));
        for (entity, value) in SAMPLES {
            let ciphertext = fpe.encrypt(entity, value).unwrap();
            assert_ne!(other.encrypt(entity, value).unwrap(), ciphertext);
            assert_ne!(other.decrypt(entity, &ciphertext).unwrap(), value);
        }
        assert_ne!(
            fpe.encrypt(EntityType::Ssn, "123456789").unwrap(),
            fpe.encrypt(EntityType::Mrn, "123456789").unwrap()
        );
    }

    #[test]
    fn the_short_class_depends_on_the_rest_of_the_value() {
        let fpe = FormatPreserving::new(&Key::from_bytes([3; 32]));
        let prefixes: std::collections::HashSet<String> = (0..10)
            .map(|i| {
                fpe.encrypt(EntityType::Mrn, &format!("MR0012345{i}"))
                    .unwrap()[..2]
                    .to_owned()
            })
            .collect();
        assert!(prefixes.len() > 1, "{prefixes:?}");
    }

    #[test]
    fn each_class_is_a_permutation() {
        // All 676 values that differ only in their two letters (FF1 on the digits, then the
        // offset step on the letters) encrypt to distinct values that decrypt back.
        let fpe = FormatPreserving::new(&Key::from_bytes([4; 32]));
        let mut seen = std::collections::HashSet::new();
        for a in b'A'..=b'Z' {
            for b in b'a'..=b'z' {
                let value = format!("{}{}-004217", char::from(a), char::from(b));
                let ciphertext = fpe.encrypt(EntityType::Mrn, &value).unwrap();
                assert!(same_format(&value, &ciphertext));
                assert_eq!(fpe.decrypt(EntityType::Mrn, &ciphertext).unwrap(), value);
                assert!(seen.insert(ciphertext));
            }
        }
        assert_eq!(seen.len(), 26 * 26);
    }

    #[test]
    fn values_below_the_ff1_minimum_are_refused() {
        let fpe = FormatPreserving::new(&Key::generate());
        for (value, digits, letters) in [
            ("12-34", 4, 0),
            ("AB 12345", 5, 2),
            ("--", 0, 0),
            ("", 0, 0),
        ] {
            let err = fpe.encrypt(EntityType::Ssn, value).unwrap_err();
            assert_eq!(
                err,
                FpeError::TooShort {
                    entity: EntityType::Ssn,
                    digits,
                    letters
                }
            );
            assert_eq!(fpe.decrypt(EntityType::Ssn, value).unwrap_err(), err);
        }
        assert!(fpe.encrypt(EntityType::Ssn, "123456").is_ok());
        assert!(fpe.encrypt(EntityType::Name, "abcde").is_ok());
        let message = fpe
            .encrypt(EntityType::Ssn, "12-34")
            .unwrap_err()
            .to_string();
        assert!(message.contains("6 digits or 5 letters") && !message.contains("12-34"));
    }

    #[test]
    fn non_ascii_and_overlong_values_are_refused() {
        let fpe = FormatPreserving::new(&Key::generate());
        let err = fpe.encrypt(EntityType::Name, "José Álvarez").unwrap_err();
        assert_eq!(
            err,
            FpeError::NonAscii {
                entity: EntityType::Name
            }
        );
        assert!(!err.to_string().contains("José"));
        let long = "1".repeat(MAX_LEN + 1);
        assert!(matches!(
            fpe.encrypt(EntityType::OtherId, &long),
            Err(FpeError::TooLong { .. })
        ));
        assert!(fpe.encrypt(EntityType::OtherId, &long[1..]).is_ok());
    }

    #[test]
    fn ciphertexts_are_pinned() {
        // Any change here breaks `deid decrypt` of earlier outputs: the scheme is a format.
        let fpe = FormatPreserving::new(&Key::from_bytes([7; 32]));
        assert_eq!(
            fpe.encrypt(EntityType::Ssn, "123-45-6789").unwrap(),
            "880-00-2907"
        );
        assert_eq!(
            fpe.encrypt(EntityType::Mrn, "MR00123456").unwrap(),
            "PQ38341250"
        );
    }

    #[test]
    fn values_round_trip_on_both_ff1_paths() {
        // FF1 runs in u128 arithmetic up to 56 digits or 40 letters, in the crate's beyond.
        let fpe = FormatPreserving::new(&Key::from_bytes([5; 32]));
        let digits: String = (0..120usize)
            .map(|i| char::from(b'0' + (i * 7 % 10) as u8))
            .collect();
        let letters: String = (0..120usize)
            .map(|i| char::from(b'a' + (i * 11 % 26) as u8))
            .collect();
        for (alphabet, lens) in [
            (digits, [6, 56, 57, 60, 120]),
            (letters, [5, 40, 41, 50, 120]),
        ] {
            for len in lens {
                let value = &alphabet[..len];
                let ciphertext = fpe.encrypt(EntityType::OtherId, value).unwrap();
                assert!(same_format(value, &ciphertext));
                assert_eq!(
                    fpe.decrypt(EntityType::OtherId, &ciphertext).unwrap(),
                    value
                );
            }
        }
    }

    #[test]
    fn min_lengths_follow_nist() {
        assert_eq!(Class::Digits.min_len(), 6);
        assert_eq!(Class::Letters.min_len(), 5);
    }

    #[test]
    fn debug_does_not_print_key_material() {
        let key = Key::generate();
        let debug = format!("{:?}", FormatPreserving::new(&key));
        assert_eq!(
            debug,
            format!("FormatPreserving(key fingerprint {})", key.fingerprint())
        );
    }
}
