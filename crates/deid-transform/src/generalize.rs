//! HIPAA Safe Harbor generalisation: the coarser value the rule allows in place of the
//! precise one.
//!
//! Safe Harbor (45 CFR §164.514(b)(2)(i)) lets a data set keep the first three digits of a
//! ZIP code unless the area they name holds 20,000 people or fewer, and ages up to 89; ages
//! of 90 and over must be pooled into one category. These functions apply exactly that and
//! nothing more, so their output can be cited against the rule. A value they do not read
//! gives `None`, and the caller falls back (to a tag, say).

/// The three-digit ZIP areas of 20,000 people or fewer, which Safe Harbor replaces by `000`.
///
/// Source: HHS Office for Civil Rights, "Guidance Regarding Methods for De-identification
/// of Protected Health Information in Accordance with the HIPAA Privacy Rule" (November
/// 2012), answer to "When can ZIP codes be included in de-identified information?": the 17
/// three-digit ZIP code tabulation areas of 20,000 people or fewer in the 2000 Census. The
/// rule asks for current Census data, so the list is revisited when HHS publishes a newer
/// one. Sorted, for binary search.
pub const RESTRICTED_ZIP3: [&str; 17] = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
    "879", "884", "890", "893",
];

/// Returns the first three digits of a ZIP or ZIP+4 code, or `000` for a restricted area.
///
/// Accepts `02139` or `02139-4307`, with whitespace around. The result is the three digits
/// alone (`021`) rather than padded back to five (`02100`), which would look like a real
/// ZIP code that is not the patient's. `None` for anything else.
///
/// ```
/// use deid_transform::generalize::zip3;
///
/// assert_eq!(zip3(" 02139-4307").as_deref(), Some("021"));
/// assert_eq!(zip3("03601").as_deref(), Some("000"));
/// assert_eq!(zip3("0213"), None);
/// ```
pub fn zip3(value: &str) -> Option<String> {
    let value = value.trim();
    let (zip, plus4) = value.split_once('-').unwrap_or((value, "0000"));
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(zip, 5) || !digits(plus4, 4) {
        return None;
    }
    let prefix = &zip[..3];
    let restricted = RESTRICTED_ZIP3.binary_search(&prefix).is_ok();
    Some(if restricted { "000" } else { prefix }.to_owned())
}

/// Returns `90+` for an age of 90 years or more, and any other age exactly as given.
///
/// The age is a whole number of years with whitespace around allowed (`92`, `092`, ` 89 `);
/// `None` for anything else (`92.5`, `-3`, `ninety`).
pub fn age(value: &str) -> Option<String> {
    let digits = value.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros aside, three digits or more are at least 100; fewer parse safely.
    let significant = digits.trim_start_matches('0');
    let old = significant.len() > 2 || significant.parse::<u8>().is_ok_and(|years| years >= 90);
    Some(if old { "90+" } else { value }.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_list_is_sorted() {
        assert!(RESTRICTED_ZIP3.is_sorted());
    }

    #[test]
    fn every_restricted_area_becomes_000() {
        for area in RESTRICTED_ZIP3 {
            for zip in [format!("{area}01"), format!("{area}99-1234")] {
                assert_eq!(zip3(&zip).as_deref(), Some("000"), "{zip}");
            }
        }
    }

    #[test]
    fn other_areas_keep_their_first_three_digits() {
        for (zip, expected) in [
            ("02139", "021"),
            ("02139-4307", "021"),
            ("  02139\n", "021"),
            ("03701", "037"),
            ("03501", "035"),
            ("05801", "058"),
            ("06001", "060"),
            ("10301", "103"),
            ("89101", "891"),
            ("89401", "894"),
            ("00501", "005"),
        ] {
            assert_eq!(zip3(zip).as_deref(), Some(expected), "{zip}");
        }
    }

    #[test]
    fn what_is_no_zip_gives_none() {
        for value in [
            "",
            "0213",
            "021390",
            "02139-430",
            "02139-43071",
            "0213a",
            "02139 4307",
            "02139-",
            "-4307",
            "０２１３９",
        ] {
            assert_eq!(zip3(value), None, "{value:?}");
        }
    }

    #[test]
    fn ages_of_90_and_over_are_pooled() {
        for (value, expected) in [
            ("0", "0"),
            ("45", "45"),
            ("89", "89"),
            ("089", "089"),
            (" 89 ", " 89 "),
            ("90", "90+"),
            ("91", "90+"),
            ("092", "90+"),
            ("120", "90+"),
            (" 95\t", "90+"),
            ("00000000000000000000000000000001000", "90+"),
            ("99999999999999999999999999999999999", "90+"),
        ] {
            assert_eq!(age(value).as_deref(), Some(expected), "{value:?}");
        }
    }

    #[test]
    fn what_is_no_age_gives_none() {
        for value in [
            "", " ", "92.5", "-3", "+92", "ninety", "92 years", "9 2", "٩٢",
        ] {
            assert_eq!(age(value), None, "{value:?}");
        }
    }
}
