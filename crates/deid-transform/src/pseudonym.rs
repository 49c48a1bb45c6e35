//! The `hash` action: keyed pseudonyms that keep joins working.
//!
//! The same value under the same key gives the same token in every file and every run, so
//! records that shared an MRN still share one after de-identification. The token is an
//! HMAC-SHA-256 under the key's [`Purpose::Hash`] subkey: without the key, nobody can
//! compute the token of a guessed value, which an unkeyed hash of an SSN (a billion
//! possibilities) would allow in seconds. Tokens are one-way; use [`crate::fpe`] when the
//! key holder must get values back.
//!
//! # Canonical form
//!
//! Spellings of one identifier should give one token, so the value is canonicalised first:
//!
//! - surrounding whitespace is trimmed, for every type;
//! - identifier-like types (SSN, MRN, HEALTH_PLAN_ID, ACCOUNT_NUMBER, LICENSE_NUMBER,
//!   VEHICLE_ID, DEVICE_ID, OTHER_ID, PHONE, FAX, CREDIT_CARD, IBAN, BIOMETRIC_ID,
//!   MAC_ADDRESS) also lose whitespace and the separators `-` `.` `(` `)` `/`, and ASCII
//!   letters are uppercased: `123-45-6789` and `123 45 6789` are one SSN;
//! - EMAIL is lowercased;
//! - every other type (names, addresses, dates, …) is kept exactly.
//!
//! The MAC input is `type name || 0x00 || canonical value`, so equal text of two types
//! (an MRN and an account number both `12345678`) never gives the same token.
//!
//! # Token format
//!
//! `<TYPE>-<10 Crockford base32 characters>`, e.g. `MRN-7Q3XK9PD2M`: the first 50 bits of
//! the MAC. By the birthday bound, a collision between two distinct values of one type
//! becomes likely only around 2^25 (33 million) distinct values; at one million values the
//! chance of any collision is about 1 in 2,000. Datasets larger than that should expect
//! the rare merge of two identities.
//!
//! ```
//! use deid_core::EntityType;
//! use deid_transform::key::Key;
//! use deid_transform::pseudonym::Pseudonymizer;
//!
//! let pseudonyms = Pseudonymizer::new(&Key::generate());
//! let token = pseudonyms.token(EntityType::Ssn, "123-45-6789");
//! assert!(token.starts_with("SSN-") && token.len() == 14);
//! assert_eq!(token, pseudonyms.token(EntityType::Ssn, "123 45 6789"));
//! ```

use std::borrow::Cow;
use std::fmt;

use deid_core::EntityType;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::key::{self, Key, Purpose};

/// Crockford's base32 alphabet: no I, L, O or U, so tokens survive being read aloud.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a token after `<TYPE>-`; each carries 5 bits.
const TOKEN_CHARS: u32 = 10;

/// Computes `hash` tokens. `Send + Sync`: share one across threads.
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
    fingerprint: String,
}

impl Pseudonymizer {
    /// A pseudonymizer under `key`'s [`Purpose::Hash`] subkey.
    pub fn new(key: &Key) -> Pseudonymizer {
        Pseudonymizer {
            mac: key::hmac(&*key.derive(Purpose::Hash)),
            fingerprint: key.fingerprint(),
        }
    }

    /// The token of `value`, a value of type `entity`: `<TYPE>-<10 base32 characters>`.
    pub fn token(&self, entity: EntityType, value: &str) -> String {
        let digest = digest(&self.mac, entity, &canonical(entity, value));
        let head = digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes");
        format_token(entity, head)
    }
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonymizer(key fingerprint {})", self.fingerprint)
    }
}

/// `value` in the canonical form of its type (see the module docs).
pub(crate) fn canonical(entity: EntityType, value: &str) -> Cow<'_, str> {
    use EntityType::*;
    let value = value.trim();
    match entity {
        Ssn | Mrn | HealthPlanId | AccountNumber | LicenseNumber | VehicleId | DeviceId
        | OtherId | Phone | Fax | CreditCard | Iban | BiometricId | MacAddress => value
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '(' | ')' | '/'))
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        Email => Cow::Owned(value.to_lowercase()),
        _ => Cow::Borrowed(value),
    }
}

/// HMAC of `type name || 0x00 || canonical` under the key `mac` was made with.
pub(crate) fn digest(mac: &Hmac<Sha256>, entity: EntityType, canonical: &str) -> [u8; 32] {
    mac.clone()
        .chain_update(entity.as_str())
        .chain_update([0])
        .chain_update(canonical)
        .finalize()
        .into_bytes()
        .into()
}

/// `<TYPE>-<10 Crockford base32 characters>` from the first 50 bits of `bits`.
pub(crate) fn format_token(entity: EntityType, bits: [u8; 8]) -> String {
    let bits = u64::from_be_bytes(bits);
    let mut token = String::with_capacity(entity.as_str().len() + 1 + TOKEN_CHARS as usize);
    token.push_str(entity.as_str());
    token.push('-');
    for i in 1..=TOKEN_CHARS {
        let index = (bits >> (64 - 5 * i)) & 31;
        token.push(char::from(CROCKFORD[index as usize]));
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_across_instances_and_differ_across_keys() {
        let key = Key::generate();
        let a = Pseudonymizer::new(&key).token(EntityType::Mrn, "MR00123456");
        let b = Pseudonymizer::new(&key).token(EntityType::Mrn, "MR00123456");
        assert_eq!(a, b);
        let other = Pseudonymizer::new(&Key::generate()).token(EntityType::Mrn, "MR00123456");
        assert_ne!(a, other);
    }

    #[test]
    fn tokens_are_pinned() {
        // Computed independently (Python hmac/hashlib) from the documented construction;
        // a change would break joins with earlier outputs.
        let pseudonyms = Pseudonymizer::new(&Key::from_bytes([7; 32]));
        assert_eq!(
            pseudonyms.token(EntityType::Mrn, "MR00123456"),
            "MRN-JD8VQ3Z2G1"
        );
    }

    #[test]
    fn tokens_have_the_documented_shape() {
        let token = Pseudonymizer::new(&Key::generate()).token(EntityType::Mrn, "MR00123456");
        let (kind, code) = token.split_once('-').unwrap();
        assert_eq!(kind, "MRN");
        assert_eq!(code.len(), 10);
        assert!(code.bytes().all(|b| CROCKFORD.contains(&b)), "{token}");
    }

    #[test]
    fn spellings_of_one_identifier_share_a_token() {
        let pseudonyms = Pseudonymizer::new(&Key::generate());
        let ssn = pseudonyms.token(EntityType::Ssn, "123-45-6789");
        assert_eq!(ssn, pseudonyms.token(EntityType::Ssn, " 123 45 6789"));
        assert_eq!(ssn, pseudonyms.token(EntityType::Ssn, "123456789\n"));
        assert_ne!(ssn, pseudonyms.token(EntityType::Ssn, "123-45-6788"));

        let phone = pseudonyms.token(EntityType::Phone, "(312) 555-0142");
        assert_eq!(phone, pseudonyms.token(EntityType::Phone, "312.555.0142"));
        assert_eq!(
            pseudonyms.token(EntityType::Iban, "gb82 west 1234"),
            pseudonyms.token(EntityType::Iban, "GB82WEST1234")
        );
        assert_eq!(
            pseudonyms.token(EntityType::Email, "Jane.Doe@Example.org"),
            pseudonyms.token(EntityType::Email, "jane.doe@example.org ")
        );
        // Names are kept exactly: case may be all that tells two people apart.
        assert_ne!(
            pseudonyms.token(EntityType::Name, "Ann Lee"),
            pseudonyms.token(EntityType::Name, "ann lee")
        );
        assert_eq!(
            pseudonyms.token(EntityType::Name, " Ann Lee "),
            pseudonyms.token(EntityType::Name, "Ann Lee")
        );
    }

    #[test]
    fn types_are_separated() {
        let pseudonyms = Pseudonymizer::new(&Key::generate());
        let mrn = pseudonyms.token(EntityType::Mrn, "12345678");
        let account = pseudonyms.token(EntityType::AccountNumber, "12345678");
        assert_ne!(mrn[4..], account[15..]);
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical(EntityType::VehicleId, " ab-12.c/d(e) "),
            "AB12CDE"
        );
        assert_eq!(canonical(EntityType::Email, " A@B.ORG\t"), "a@b.org");
        assert_eq!(canonical(EntityType::City, " São Paulo "), "São Paulo");
    }

    #[test]
    fn format_token_uses_the_first_50_bits() {
        assert_eq!(format_token(EntityType::Ssn, [0; 8]), "SSN-0000000000");
        assert_eq!(format_token(EntityType::Ssn, [0xff; 8]), "SSN-ZZZZZZZZZZ");
        assert_eq!(
            format_token(EntityType::Ssn, [0x08, 0, 0, 0, 0, 0, 0, 0]),
            "SSN-1000000000"
        );
        // Bit 50 onwards is dropped.
        assert_eq!(
            format_token(EntityType::Ssn, [0, 0, 0, 0, 0, 0, 0x3f, 0xff]),
            "SSN-0000000000"
        );
        assert_eq!(
            format_token(EntityType::Ssn, [0, 0, 0, 0, 0, 0, 0x40, 0]),
            "SSN-0000000001"
        );
    }

    #[test]
    fn debug_does_not_print_key_material() {
        let key = Key::generate();
        let debug = format!("{:?}", Pseudonymizer::new(&key));
        assert_eq!(
            debug,
            format!("Pseudonymizer(key fingerprint {})", key.fingerprint())
        );
    }
}
