//! Validators: checksums, ranges and calendars that confirm a pattern's candidate.
//!
//! A validator sees only the bytes of a candidate (the rule's span) and answers yes or no.
//! It runs after the automaton, on candidates only, so it may be thorough.
//!
//! Candidates are raw bytes, possibly invalid UTF-8: every validator works on bytes, never
//! panics and never allocates (digits and letters are gathered into a 32-byte stack buffer).
//! Validators are liberal about layout and strict about content: the separators people put
//! inside an identifier (spaces, dashes, dots, slashes where natural) are skipped, then the
//! digits and letters must pass the identifier's checksum, structure or range. The rule's
//! pattern has already decided the rough shape; the validator's job is to drop look-alikes.

use std::net::Ipv6Addr;

/// A named check a rule can require of its candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Validator {
    /// Luhn mod-10 over 12 to 19 digits (credit cards).
    Luhn,
    /// US National Provider Identifier: 10 digits, Luhn over the `80840` prefix.
    Npi,
    /// US Social Security number: 9 digits in 3-2-4 groups, issuable ranges only.
    Ssn,
    /// US DEA registration number: 2 letters, 7 digits, weighted check digit.
    Dea,
    /// Vehicle identification number: 17 characters with the position-9 check digit.
    Vin,
    /// International bank account number: per-country length and ISO 13616 mod-97.
    Iban,
    /// ABA bank routing number: 9 digits, Federal Reserve prefix and 3-7-1 checksum.
    Aba,
    /// A calendar-valid date, numeric or with English month names.
    Date,
    /// An IPv4 dotted quad, optionally with a CIDR prefix length.
    Ipv4,
    /// An IPv6 address, optionally with a zone and a CIDR prefix length.
    Ipv6,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A 48-bit MAC address in colon, dash, Cisco-dot or bare-hex form.
    Mac,
    /// A North American (NANP) telephone number, optionally with an extension.
    PhoneNanp,
    /// A telephone number in any national layout: 7 to 15 digits (E.164's longest).
    PhoneDigits,
    /// A US ZIP or ZIP+4 code.
    Zip,
    /// A 15-digit IMEI with its Luhn check digit.
    Imei,
    /// US Medicare Beneficiary Identifier: 11 characters in the CMS layout.
    Mbi,
    /// A latitude/longitude pair or a single coordinate, in range.
    LatLon,
    /// An age of 90 to 125 years.
    AgeOver89,
}

impl Validator {
    /// Every validator, for listings and documentation.
    pub const ALL: &'static [Validator] = &[
        Validator::Luhn,
        Validator::Npi,
        Validator::Ssn,
        Validator::Dea,
        Validator::Vin,
        Validator::Iban,
        Validator::Aba,
        Validator::Date,
        Validator::Ipv4,
        Validator::Ipv6,
        Validator::Ip,
        Validator::Mac,
        Validator::PhoneNanp,
        Validator::PhoneDigits,
        Validator::Zip,
        Validator::Imei,
        Validator::Mbi,
        Validator::LatLon,
        Validator::AgeOver89,
    ];

    /// The name rule packs use, for example `"luhn"`.
    pub fn name(self) -> &'static str {
        match self {
            Validator::Luhn => "luhn",
            Validator::Npi => "npi",
            Validator::Ssn => "ssn",
            Validator::Dea => "dea",
            Validator::Vin => "vin",
            Validator::Iban => "iban",
            Validator::Aba => "aba",
            Validator::Date => "date",
            Validator::Ipv4 => "ipv4",
            Validator::Ipv6 => "ipv6",
            Validator::Ip => "ip",
            Validator::Mac => "mac",
            Validator::PhoneNanp => "phone-nanp",
            Validator::PhoneDigits => "phone-digits",
            Validator::Zip => "zip",
            Validator::Imei => "imei",
            Validator::Mbi => "mbi",
            Validator::LatLon => "latlon",
            Validator::AgeOver89 => "age-over-89",
        }
    }

    /// The validator a rule pack names, if there is one.
    pub fn from_name(name: &str) -> Option<Validator> {
        Validator::ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Whether `candidate` passes the check.
    pub fn is_valid(self, candidate: &[u8]) -> bool {
        match self {
            Validator::Luhn => luhn(candidate),
            Validator::Npi => npi(candidate),
            Validator::Ssn => ssn(candidate),
            Validator::Dea => dea(candidate),
            Validator::Vin => vin(candidate),
            Validator::Iban => iban(candidate),
            Validator::Aba => aba(candidate),
            Validator::Date => date(candidate),
            Validator::Ipv4 => ipv4(candidate),
            Validator::Ipv6 => ipv6(candidate),
            Validator::Ip => ipv4(candidate) || ipv6(candidate),
            Validator::Mac => mac(candidate),
            Validator::PhoneNanp => phone_nanp(candidate),
            Validator::PhoneDigits => phone_digits(candidate),
            Validator::Zip => zip(candidate),
            Validator::Imei => imei(candidate),
            Validator::Mbi => mbi(candidate),
            Validator::LatLon => latlon(candidate),
            Validator::AgeOver89 => age_over_89(candidate),
        }
    }

    /// A one-line description, for `deid rules list`.
    pub fn description(self) -> &'static str {
        match self {
            Validator::Luhn => "Luhn mod-10 checksum over 12-19 digits (payment cards)",
            Validator::Npi => "US NPI: 10 digits starting 1 or 2, Luhn with the 80840 prefix",
            Validator::Ssn => {
                "US SSN: 9 digits (3-2-4), no area 000/666/9xx, group 00 or serial 0000"
            }
            Validator::Dea => "US DEA registration: 2 letters + 7 digits with weighted check digit",
            Validator::Vin => {
                "Vehicle identification number: 17 characters, position-9 check digit"
            }
            Validator::Iban => "IBAN: country length and ISO 13616 mod-97 checksum",
            Validator::Aba => "ABA routing number: Federal Reserve prefix and 3-7-1 checksum",
            Validator::Date => "calendar-valid date, numeric or with English month names",
            Validator::Ipv4 => "IPv4 dotted quad without leading zeros, optional /prefix",
            Validator::Ipv6 => "IPv6 address, optional %zone and /prefix",
            Validator::Ip => "IPv4 or IPv6 address",
            Validator::Mac => {
                "48-bit MAC address (aa:bb:.., aa-bb-.., aabb.ccdd.eeff, bare hex), not all-zero"
            }
            Validator::PhoneNanp => {
                "North American phone number: valid area code and exchange, optional extension"
            }
            Validator::PhoneDigits => {
                "telephone number: 7 to 15 digits after an optional +, not all one digit"
            }
            Validator::Zip => "US ZIP or ZIP+4 code, except 00000 and 99999",
            Validator::Imei => "IMEI: 15 digits with Luhn check digit",
            Validator::Mbi => "US Medicare Beneficiary Identifier: 11 characters in the CMS layout",
            Validator::LatLon => "latitude/longitude pair or coordinate with 2+ decimals, in range",
            Validator::AgeOver89 => "age from 90 to 125 years",
        }
    }
}

/// Up to 32 bytes gathered from a candidate, on the stack so the hot path never allocates.
struct Buf {
    bytes: [u8; 32],
    len: usize,
}

impl Buf {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What may separate digit groups of card numbers, NPIs and IMEIs: a space or dash, or the
/// line break of hard-wrapped text.
const GROUP_SEPARATORS: &[u8] = b" -\t\n\r";

/// The bytes `keep` maps, skipping `separators`; `None` on any other byte or past 32 kept.
fn collect(candidate: &[u8], separators: &[u8], keep: impl Fn(u8) -> Option<u8>) -> Option<Buf> {
    let mut buf = Buf {
        bytes: [0; 32],
        len: 0,
    };
    for &b in candidate {
        if let Some(kept) = keep(b) {
            *buf.bytes.get_mut(buf.len)? = kept;
            buf.len += 1;
        } else if !separators.contains(&b) {
            return None;
        }
    }
    Some(buf)
}

/// The digit values (0-9) of `candidate`, skipping `separators`.
fn digits(candidate: &[u8], separators: &[u8]) -> Option<Buf> {
    collect(candidate, separators, |b| {
        b.is_ascii_digit().then(|| b - b'0')
    })
}

/// The value of a run of 1 to 9 ASCII digits, so callers can check shape and value at once.
fn ascii_number(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Whether every byte equals the first: `1111…` style fillers pass many checksums.
fn all_same(s: &[u8]) -> bool {
    s.split_first()
        .is_none_or(|(first, rest)| rest.iter().all(|b| b == first))
}

/// The Luhn sum of digit values: every second digit from the right is doubled.
fn luhn_sum(digits: &[u8]) -> u32 {
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match (i % 2 == 1, d * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => d,
            }
        })
        .sum()
}

fn luhn(candidate: &[u8]) -> bool {
    let Some(d) = digits(candidate, GROUP_SEPARATORS) else {
        return false;
    };
    let d = d.as_slice();
    (12..=19).contains(&d.len()) && !all_same(d) && luhn_sum(d).is_multiple_of(10)
}

fn npi(candidate: &[u8]) -> bool {
    let Some(d) = digits(candidate, GROUP_SEPARATORS) else {
        return false;
    };
    let d = d.as_slice();
    let [body @ .., _check] = d else { return false };
    // Fillers such as 1111111112 pass the checksum, so the nine body digits must vary. The
    // check digit also covers the ISO 7812 health-care prefix 80840, whose Luhn share is 24.
    d.len() == 10
        && matches!(d.first(), Some(1 | 2))
        && !all_same(body)
        && (24 + luhn_sum(d)).is_multiple_of(10)
}

fn ssn(candidate: &[u8]) -> bool {
    // Separators must sit at the 3-2-4 group boundaries and agree, as SSNs are written.
    let body: [u8; 9] = match *candidate {
        [a, b, c, s1, d, e, s2, f, g, h, i] if s1 == s2 && matches!(s1, b'-' | b' ' | b'.') => {
            [a, b, c, d, e, f, g, h, i]
        }
        [a, b, c, d, e, f, g, h, i] => [a, b, c, d, e, f, g, h, i],
        _ => return false,
    };
    let (Some(area), Some(group), Some(serial)) = (
        ascii_number(&body[..3]),
        ascii_number(&body[3..5]),
        ascii_number(&body[5..]),
    ) else {
        return false;
    };
    // Never issued: area 000, 666 and 900-999, group 00, serial 0000; plus the two numbers
    // printed on wallet inserts and in ads, which thousands of people once used as their own.
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999))
        && !all_same(&body)
}

fn dea(candidate: &[u8]) -> bool {
    let [first, second, rest @ ..] = candidate else {
        return false;
    };
    let (first, second) = (first.to_ascii_uppercase(), second.to_ascii_uppercase());
    // First letter: registrant type; second: the registrant's surname initial, or 9 for
    // registrants whose name starts with a digit.
    if !b"ABCDEFGHJKLMPRSTUX".contains(&first) || !(second.is_ascii_uppercase() || second == b'9') {
        return false;
    }
    let Some(d) = digits(rest, b"") else {
        return false;
    };
    let &[d1, d2, d3, d4, d5, d6, d7] = d.as_slice() else {
        return false;
    };
    (d1 + d3 + d5 + 2 * (d2 + d4 + d6)) % 10 == d7
}

/// The ISO 3779 transliteration of a VIN character; `None` for I, O, Q and non-alphanumerics.
fn vin_value(b: u8) -> Option<u32> {
    let value = match b {
        b'0'..=b'9' => b - b'0',
        b'A'..=b'H' => b - b'A' + 1,
        b'J'..=b'N' => b - b'J' + 1,
        b'P' => 7,
        b'R' => 9,
        b'S'..=b'Z' => b - b'S' + 2,
        _ => return None,
    };
    Some(u32::from(value))
}

fn vin(candidate: &[u8]) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    if candidate.len() != 17 || all_same(candidate) {
        return false;
    }
    let mut sum = 0;
    for (&b, weight) in candidate.iter().zip(WEIGHTS) {
        let Some(value) = vin_value(b.to_ascii_uppercase()) else {
            return false;
        };
        sum += value * weight;
    }
    // `sum % 11` is at most 10, so the index is in bounds.
    candidate.get(8).map(u8::to_ascii_uppercase) == Some(b"0123456789X"[(sum % 11) as usize])
}

/// The official IBAN length of a country (SWIFT IBAN registry), `None` if not listed here.
fn iban_length(country: [u8; 2]) -> Option<usize> {
    let len = match &country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FK" | b"FO" | b"GL" | b"NL" | b"SD" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"MN" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"OM" | b"SO" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"LY" | b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"BI" | b"DJ" | b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HN" | b"HU" | b"LB" | b"NI" | b"PL"
        | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" | b"YE" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => return None,
    };
    Some(len)
}

fn iban(candidate: &[u8]) -> bool {
    // The country code is never split; after it, people group and punctuate freely.
    let [c1, c2, rest @ ..] = candidate else {
        return false;
    };
    if !c1.is_ascii_alphabetic() || !c2.is_ascii_alphabetic() {
        return false;
    }
    let country = [c1.to_ascii_uppercase(), c2.to_ascii_uppercase()];
    // Mod-97 is case-blind, and lower-case IBANs do occur in free text.
    let Some(rest) = collect(rest, b" -.\t\n\r", |b| {
        b.is_ascii_alphanumeric().then(|| b.to_ascii_uppercase())
    }) else {
        return false;
    };
    let [k1, k2, bban @ ..] = rest.as_slice() else {
        return false;
    };
    if !k1.is_ascii_digit() || !k2.is_ascii_digit() {
        return false;
    }
    let len = 2 + rest.len;
    if !iban_length(country).map_or((15..=34).contains(&len), |expected| len == expected) {
        return false;
    }
    // ISO 13616: move the first four characters to the end, read letters as 10-35, mod 97.
    let remainder = bban
        .iter()
        .chain(&country)
        .chain([k1, k2])
        .fold(0u32, |r, &b| {
            if b.is_ascii_digit() {
                (r * 10 + u32::from(b - b'0')) % 97
            } else {
                (r * 100 + u32::from(b - b'A' + 10)) % 97
            }
        });
    remainder == 1
}

fn aba(candidate: &[u8]) -> bool {
    let Some(d) = digits(candidate, GROUP_SEPARATORS) else {
        return false;
    };
    let &[d1, d2, d3, d4, d5, d6, d7, d8, d9] = d.as_slice() else {
        return false;
    };
    let sum = |a: u8, b: u8, c: u8| u32::from(a + b + c);
    // The first two digits name a Federal Reserve district (thrifts add 20, electronic 60)
    // or 80 for traveller's cheques; anything else was never assigned.
    matches!(d1 * 10 + d2, 0..=12 | 21..=32 | 61..=72 | 80)
        && d.as_slice().iter().any(|&x| x != 0)
        && (3 * sum(d1, d4, d7) + 7 * sum(d2, d5, d8) + sum(d3, d6, d9)) % 10 == 0
}

/// A number in a date, with what is needed to tell days, months and years apart.
#[derive(Clone, Copy)]
struct DateNum {
    value: u32,
    digits: usize,
    /// Written with `st`, `nd`, `rd` or `th`: only a day can be.
    ordinal: bool,
}

/// One word or number of a date.
#[derive(Clone, Copy)]
enum Part {
    Num(DateNum),
    Month(u32),
    /// The `of` in `14th of March`.
    Of,
}

/// A date split into at most four parts, with the raw separator bytes before each part.
struct DateParts<'a> {
    parts: [Part; 4],
    gaps: [&'a [u8]; 4],
    len: usize,
}

/// The month an English name or abbreviation (`Mar`, `Sept`, `March`, any case) stands for.
fn month_number(word: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"january",
        b"february",
        b"march",
        b"april",
        b"may",
        b"june",
        b"july",
        b"august",
        b"september",
        b"october",
        b"november",
        b"december",
    ];
    let index = MONTHS.iter().position(|name| {
        let abbreviation = word.len() == 3 || (word.len() == 4 && name.starts_with(b"sept"));
        (abbreviation || word.len() == name.len())
            && name
                .get(..word.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(word))
    })?;
    u32::try_from(index + 1).ok()
}

/// Splits a trimmed candidate into numbers, month names and `of`; `None` on anything else.
fn date_parts(c: &[u8]) -> Option<DateParts<'_>> {
    let mut out = DateParts {
        parts: [Part::Of; 4],
        gaps: [&[]; 4],
        len: 0,
    };
    let (mut i, mut gap_start) = (0, 0);
    while let Some(&b) = c.get(i) {
        let start = i;
        let part = if b.is_ascii_digit() {
            i += c[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            let digits = i - start;
            let value = ascii_number(&c[start..i]).filter(|_| digits <= 4)?;
            let suffix = c.get(i..i + 2).filter(|s| {
                [&b"st"[..], b"nd", b"rd", b"th"]
                    .iter()
                    .any(|o| s.eq_ignore_ascii_case(o))
                    && !c.get(i + 2).is_some_and(u8::is_ascii_alphabetic)
            });
            let ordinal = suffix.is_some();
            if ordinal {
                i += 2;
            }
            Part::Num(DateNum {
                value,
                digits,
                ordinal,
            })
        } else if b.is_ascii_alphabetic() {
            i += c[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            let word = &c[start..i];
            if word.eq_ignore_ascii_case(b"of") {
                Part::Of
            } else {
                Part::Month(month_number(word)?)
            }
        } else if matches!(b, b' ' | b'\t' | b',' | b'.' | b'-' | b'/') {
            i += 1;
            continue;
        } else {
            return None;
        };
        *out.parts.get_mut(out.len)? = part;
        out.gaps[out.len] = &c[gap_start..start];
        out.len += 1;
        gap_start = i;
    }
    // Nothing may trail the last part but the dot of an abbreviated month (`14 Mar.`).
    let trailing = (&c[gap_start..], out.parts[..out.len].last());
    matches!(trailing, ([], _) | (b".", Some(Part::Month(_)))).then_some(out)
}

/// Whether a year allows 29 February; `None` if `n` is no year (4 digits in 1800-2199, or
/// 2 digits, which are leap if either century would make them so).
fn year_allows_leap_day(n: DateNum) -> Option<bool> {
    match n.digits {
        _ if n.ordinal => None,
        4 if (1800..=2199).contains(&n.value) => Some(
            n.value.is_multiple_of(4)
                && (!n.value.is_multiple_of(100) || n.value.is_multiple_of(400)),
        ),
        2 => Some(n.value.is_multiple_of(4)),
        _ => None,
    }
}

/// Whether `day` exists in `month`; `leap` says whether 29 February does.
fn day_exists(month: u32, day: DateNum, leap: bool) -> bool {
    let last = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    day.digits <= 2 && (1..=last).contains(&day.value)
}

fn is_month(n: DateNum) -> bool {
    n.digits <= 2 && !n.ordinal && (1..=12).contains(&n.value)
}

fn date(candidate: &[u8]) -> bool {
    let Some(p) = date_parts(candidate.trim_ascii()) else {
        return false;
    };
    let parts = &p.parts[..p.len];
    // Every part after the first needs a separator; `14th` is one part, `14March` is not.
    if p.gaps[..p.len].iter().skip(1).any(|gap| gap.is_empty()) {
        return false;
    }
    if parts.iter().any(|part| matches!(part, Part::Month(_))) {
        textual_date(parts)
    } else {
        numeric_date(&p)
    }
}

/// Dates with a month name: `March 21, 1940`, `17 March 2020`, `14th of March 2021`,
/// `March 2021`, `Sept 3`, `3-Mar-2021`, `2021-Mar-03`.
fn textual_date(parts: &[Part]) -> bool {
    use Part::{Month, Num, Of};
    match *parts {
        [Month(m), Num(d)] | [Num(d), Month(m)] | [Num(d), Of, Month(m)] if d.digits <= 2 => {
            day_exists(m, d, true)
        }
        [Month(_), Num(y)] => y.digits == 4 && year_allows_leap_day(y).is_some(),
        // Two-digit years only in the day-month-year order (`03-Mar-21`), where they are usual.
        [Num(d), Month(m), Num(y)] if d.digits <= 2 => {
            year_allows_leap_day(y).is_some_and(|leap| day_exists(m, d, leap))
        }
        [Month(m), Num(d), Num(y)] | [Num(d), Of, Month(m), Num(y)] if y.digits == 4 => {
            year_allows_leap_day(y).is_some_and(|leap| day_exists(m, d, leap))
        }
        [Num(y), Month(m), Num(d)] if y.digits == 4 => {
            year_allows_leap_day(y).is_some_and(|leap| day_exists(m, d, leap))
        }
        _ => false,
    }
}

/// All-number dates with one consistent separator: `MM/DD/YYYY`, `M/D/YY`, `YYYY-MM-DD`,
/// `DD.MM.YYYY`, `M/D`, `MM/YYYY`, `YYYY-MM`; month and day may come in either order.
fn numeric_date(p: &DateParts<'_>) -> bool {
    let mut nums = [DateNum {
        value: 0,
        digits: 0,
        ordinal: false,
    }; 3];
    for (slot, part) in nums.iter_mut().zip(&p.parts[..p.len]) {
        match part {
            Part::Num(n) if !n.ordinal => *slot = *n,
            _ => return false,
        }
    }
    // The one punctuation byte of each gap, spaces around it allowed; all must agree.
    let mut sep = None;
    for gap in p.gaps[..p.len].iter().skip(1) {
        match (gap.trim_ascii(), sep) {
            (&[s @ (b'/' | b'-' | b'.')], None) => sep = Some(s),
            (&[s], Some(first)) if s == first => {}
            _ => return false,
        }
    }
    let either_order = |a: DateNum, b: DateNum, leap: bool| {
        (is_month(a) && day_exists(a.value, b, leap))
            || (is_month(b) && day_exists(b.value, a, leap))
    };
    match (p.len, nums, sep) {
        (3, [y, m, d], _) if y.digits == 4 => {
            is_month(m) && year_allows_leap_day(y).is_some_and(|leap| day_exists(m.value, d, leap))
        }
        (3, [a, b, y], _) => year_allows_leap_day(y).is_some_and(|leap| either_order(a, b, leap)),
        // `3-4` reads as a range and `3.4` as a decimal, so a year-less date needs a slash.
        (2, [a, b, _], Some(b'/')) if a.digits <= 2 && b.digits <= 2 => either_order(a, b, true),
        (2, [m, y, _], Some(b'/' | b'-')) | (2, [y, m, _], Some(b'/' | b'-')) if y.digits == 4 => {
            is_month(m) && year_allows_leap_day(y).is_some()
        }
        _ => false,
    }
}

/// Splits off a `/prefix-length` suffix (CIDR notation), if any.
fn split_prefix(candidate: &[u8]) -> (&[u8], Option<&[u8]>) {
    match candidate.iter().rposition(|&b| b == b'/') {
        Some(i) => (&candidate[..i], Some(&candidate[i + 1..])),
        None => (candidate, None),
    }
}

/// Whether a decimal number has no superfluous leading zero and is at most `max`.
fn canonical_number(s: &[u8], max: u32) -> bool {
    !(s.len() > 1 && s.starts_with(b"0")) && ascii_number(s).is_some_and(|n| n <= max)
}

fn ipv4(candidate: &[u8]) -> bool {
    let (address, prefix) = split_prefix(candidate);
    prefix.is_none_or(|p| canonical_number(p, 32)) && ipv4_address(address)
}

/// A dotted quad; leading zeros are refused because some parsers read them as octal.
fn ipv4_address(address: &[u8]) -> bool {
    let mut octets = 0;
    for octet in address.split(|&b| b == b'.') {
        octets += 1;
        if octets > 4 || octet.len() > 3 || !canonical_number(octet, 255) {
            return false;
        }
    }
    octets == 4
}

fn ipv6(candidate: &[u8]) -> bool {
    let (address, prefix) = split_prefix(candidate);
    if !prefix.is_none_or(|p| canonical_number(p, 128)) {
        return false;
    }
    // A link-local zone (`fe80::1%eth0`) names an interface, not part of the address.
    let address = match address.iter().position(|&b| b == b'%') {
        Some(i) => {
            let zone = &address[i + 1..];
            let zone_ok = !zone.is_empty()
                && zone
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !zone_ok {
                return false;
            }
            &address[..i]
        }
        None => address,
    };
    // The standard parser requires colons, so bare hex words such as `deadbeef` fail.
    std::str::from_utf8(address).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

fn mac(candidate: &[u8]) -> bool {
    // (group width, separator) of the grouped layouts; bare hex has none.
    let layout = match (candidate.len(), candidate.get(2), candidate.get(4)) {
        (17, Some(&s @ (b':' | b'-')), _) => Some((2, s)),
        (14, _, Some(&b'.')) => Some((4, b'.')),
        (12, _, _) => None,
        _ => return false,
    };
    let mut nonzero = false;
    for (i, &b) in candidate.iter().enumerate() {
        match layout {
            Some((width, sep)) if i % (width + 1) == width => {
                if b != sep {
                    return false;
                }
            }
            _ if b.is_ascii_hexdigit() => nonzero |= b != b'0',
            _ => return false,
        }
    }
    // The all-zero address is a placeholder, never a device; broadcast stays valid.
    nonzero
}

/// The number without a trailing extension (`ext. 204`, `x204`, `extension 12`, `#12`);
/// `None` if letters follow that are no extension.
fn strip_extension(candidate: &[u8]) -> Option<&[u8]> {
    let Some(start) = candidate
        .iter()
        .position(|&b| b.is_ascii_alphabetic() || b == b'#')
    else {
        return Some(candidate);
    };
    let tail = &candidate[start..];
    let word_len = tail.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let word = &tail[..word_len];
    let marker_ok = if word.is_empty() {
        tail.starts_with(b"#")
    } else {
        [&b"x"[..], b"ext", b"extn", b"extension"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    let rest = tail[word_len.max(1)..].trim_ascii();
    let rest = rest
        .strip_prefix(b".")
        .or_else(|| rest.strip_prefix(b":"))
        .unwrap_or(rest)
        .trim_ascii();
    let digits_ok = (1..=6).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit);
    (marker_ok && digits_ok).then_some(&candidate[..start])
}

fn phone_nanp(candidate: &[u8]) -> bool {
    let Some(number) = strip_extension(candidate) else {
        return false;
    };
    let (plus, number) = match number.trim_ascii() {
        [b'+', rest @ ..] => (true, rest),
        number => (false, number),
    };
    let Some(d) = digits(number, b" -.()/") else {
        return false;
    };
    // After `+` the country code 1 is required; without it a leading 1 is the trunk prefix.
    let d = match (d.as_slice(), plus) {
        ([1, rest @ ..], _) if rest.len() == 10 => rest,
        (d, false) if d.len() == 10 => d,
        _ => return false,
    };
    let &[a1, a2, a3, e1, ..] = d else {
        return false;
    };
    // Area codes and exchanges start 2-9; N11 codes are service numbers (411, 911).
    a1 >= 2 && !(a2 == 1 && a3 == 1) && e1 >= 2 && !all_same(d)
}

fn phone_digits(candidate: &[u8]) -> bool {
    let Some(number) = strip_extension(candidate) else {
        return false;
    };
    // A leading `+` is the country code's (`+1-984-182-0190`).
    let number = number.trim_ascii();
    let number = number.strip_prefix(b"+").unwrap_or(number);
    digits(number, b" -.()/")
        .is_some_and(|d| (7..=15).contains(&d.as_slice().len()) && !all_same(d.as_slice()))
}

fn zip(candidate: &[u8]) -> bool {
    let (five, plus4) = match candidate {
        [five @ .., b'-', p1, p2, p3, p4] => (five, Some([*p1, *p2, *p3, *p4])),
        five => (five, None),
    };
    five.len() == 5
        && five.iter().all(u8::is_ascii_digit)
        && plus4.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
        // Placeholders that forms and test data fill in.
        && five != b"00000"
        && five != b"99999"
}

fn imei(candidate: &[u8]) -> bool {
    let Some(d) = digits(candidate, GROUP_SEPARATORS) else {
        return false;
    };
    let d = d.as_slice();
    d.len() == 15 && !all_same(d) && luhn_sum(d).is_multiple_of(10)
}

fn mbi(candidate: &[u8]) -> bool {
    // Dashes or spaces, if any, split the 11 characters 4-3-4 as CMS prints them.
    let mut chars = [0u8; 11];
    match candidate {
        [a @ .., s1, b, c, d, s2, e, f, g, h]
            if a.len() == 4 && s1 == s2 && matches!(s1, b'-' | b' ') =>
        {
            chars[..4].copy_from_slice(a);
            chars[4..].copy_from_slice(&[*b, *c, *d, *e, *f, *g, *h]);
        }
        c if c.len() == 11 => chars.copy_from_slice(c),
        _ => return false,
    }
    // CMS layout: C = 1-9, A = letter, M = letter or digit, N = digit. Letters exclude
    // S, L, O, I, B and Z, which read like digits.
    let letter = |b: u8| b.is_ascii_uppercase() && !b"SLOIBZ".contains(&b);
    chars.iter().zip(b"CAMNAMNAANN").all(|(&b, &kind)| {
        let b = b.to_ascii_uppercase();
        match kind {
            b'C' => matches!(b, b'1'..=b'9'),
            b'A' => letter(b),
            b'M' => letter(b) || b.is_ascii_digit(),
            _ => b.is_ascii_digit(),
        }
    })
}

/// Which axis a hemisphere letter puts a coordinate on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Axis {
    Latitude,
    Longitude,
    Unknown,
}

/// A coordinate's magnitude (integer part, whether the fraction is non-zero) and axis.
struct Coordinate {
    degrees: u32,
    fraction: bool,
    axis: Axis,
}

impl Coordinate {
    fn at_most(&self, limit: u32) -> bool {
        self.degrees < limit || (self.degrees == limit && !self.fraction)
    }
}

/// Parses `-87.6298`, `41.8781° N` or `87.6298 W` at the start of `s`; returns the rest.
fn coordinate(s: &[u8]) -> Option<(Coordinate, &[u8])> {
    let (signed, s) = match s {
        [b'-' | b'+', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let int_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let degrees = ascii_number(&s[..int_len]).filter(|_| int_len <= 3)?;
    let s = s[int_len..].strip_prefix(b".")?;
    let frac_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
    // Two decimals at least: whole or one-decimal numbers are too often something else.
    if frac_len < 2 {
        return None;
    }
    let fraction = s[..frac_len].iter().any(|&b| b != b'0');
    let mut rest = &s[frac_len..];
    let mut t = rest.trim_ascii_start();
    if let Some(after) = t.strip_prefix("°".as_bytes()) {
        rest = after;
        t = after.trim_ascii_start();
    }
    let axis = match t.first().map(u8::to_ascii_uppercase) {
        Some(h @ (b'N' | b'S' | b'E' | b'W')) if !t.get(1).is_some_and(u8::is_ascii_alphabetic) => {
            rest = &t[1..];
            // A sign and a hemisphere letter would say the same thing twice.
            if signed {
                return None;
            }
            if matches!(h, b'N' | b'S') {
                Axis::Latitude
            } else {
                Axis::Longitude
            }
        }
        _ => Axis::Unknown,
    };
    Some((
        Coordinate {
            degrees,
            fraction,
            axis,
        },
        rest,
    ))
}

fn latlon(candidate: &[u8]) -> bool {
    let mut s = candidate.trim_ascii();
    if let [b'(', inner @ .., b')'] = s {
        s = inner.trim_ascii();
    }
    let Some((first, rest)) = coordinate(s) else {
        return false;
    };
    if rest.is_empty() {
        let limit = if first.axis == Axis::Latitude {
            90
        } else {
            180
        };
        return first.at_most(limit);
    }
    // A comma or whitespace between the two numbers.
    let after = rest.trim_ascii_start();
    let second = match after {
        [b',', r @ ..] => r.trim_ascii_start(),
        r if r.len() < rest.len() => r,
        _ => return false,
    };
    let Some((second, tail)) = coordinate(second) else {
        return false;
    };
    // By convention the latitude comes first.
    tail.is_empty()
        && first.axis != Axis::Longitude
        && second.axis != Axis::Latitude
        && first.at_most(90)
        && second.at_most(180)
}

fn age_over_89(candidate: &[u8]) -> bool {
    // Exactly one number (`92`, `92-year-old`, `age 101`): two would be ambiguous.
    let mut numbers = candidate
        .split(|b| !b.is_ascii_digit())
        .filter(|run| !run.is_empty());
    let (Some(number), None) = (numbers.next(), numbers.next()) else {
        return false;
    };
    number.len() <= 3 && ascii_number(number).is_some_and(|n| (90..=125).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::Validator;

    /// One test per validator: every `valid` string must pass, every `invalid` one fail.
    macro_rules! cases {
        ($test:ident, $validator:expr, valid: [$($ok:expr),* $(,)?], invalid: [$($bad:expr),* $(,)?] $(,)?) => {
            #[test]
            fn $test() {
                for ok in [$($ok),*] {
                    assert!($validator.is_valid(ok.as_bytes()), "{:?} should accept {ok:?}", $validator);
                }
                for bad in [$($bad),*] {
                    assert!(!$validator.is_valid(bad.as_bytes()), "{:?} should reject {bad:?}", $validator);
                }
            }
        };
    }

    cases!(luhn, Validator::Luhn,
        valid: [
            "4111111111111111",    // Visa test card
            "4012-8888-8888-1881", // dashes are skipped
            "3782 822463 10005",   // Amex, 15 digits in 4-6-5 groups
            "6011000990139424",    // Discover
        ],
        invalid: [
            "4111111111111112",     // check digit off by one
            "0000000000000",        // passes Luhn but is a filler
            "12345678903",          // Luhn-valid but only 11 digits
            "41111111111111111113", // 20 digits: too long
            "4111x111111111111",    // a letter is no separator
            "",                     // nothing at all
        ],
    );

    cases!(npi, Validator::Npi,
        valid: [
            "1234567893",   // CMS's documented example
            "1245319599",   // a real-format type-1 NPI
            "1234-567-893", // separators skipped
        ],
        invalid: [
            "1234567890",  // wrong check digit
            "1111111112",  // passes the checksum, but the body is one digit repeated
            "3234567893",  // must start with 1 or 2
            "123456789",   // 9 digits
            "12345678934", // 11 digits
        ],
    );

    cases!(ssn, Validator::Ssn,
        valid: [
            "123-45-6789", // kept valid: clinical test data uses it
            "536904399",   // undivided
            "078 05 1121", // spaces at the group boundaries
            "078.05.1123", // dots at the group boundaries
        ],
        invalid: [
            "078-05-1120", // the Woolworth wallet-insert number
            "219-09-9999", // the 1940s advertising number
            "000-12-3456", // area 000
            "666-12-3456", // area 666
            "912-34-5678", // area 9xx
            "123-00-4567", // group 00
            "123-45-0000", // serial 0000
            "111-11-1111", // all one digit
            "123-45.6789", // inconsistent separators
            "1234-56-789", // 4-2-3 grouping
        ],
    );

    cases!(dea, Validator::Dea,
        valid: [
            "AB1234563", // the textbook example: 1+3+5 + 2*(2+4+6) = 33
            "BJ6125341", // 6+2+3 + 2*(1+5+4) = 31
            "M91234563", // mid-level practitioner with a digit for the second letter
            "ab1234563", // case-insensitive
        ],
        invalid: [
            "AB1234567",  // check digit should be 3
            "IB1234563",  // I is no registrant type
            "A11234563",  // second letter may be a digit only if it is 9
            "AB123456",   // 6 digits
            "AB12345630", // 8 digits
        ],
    );

    cases!(vin, Validator::Vin,
        valid: [
            "1M8GDM9AXKP042788", // check digit X (remainder 10)
            "5N1NJ01CXST000001", // another X
            "WBA71DC010CH14720", // check digit 0
            "1m8gdm9axkp042788", // case-insensitive
        ],
        invalid: [
            "1M8GDM9A1KP042788", // wrong check digit
            "1M8GDM9AXKP04278",  // 16 characters
            "1M8GDM9AXKI042788", // I is never used
            "11111111111111111", // passes the checksum but is a filler
            "1M8GDM9AXKP 42788", // a space inside
        ],
    );

    cases!(iban, Validator::Iban,
        valid: [
            "DE89370400440532013000",       // compact
            "GB29 NWBK 6016 1331 9268 19",  // printed in groups of four
            "NO93 8601 1117 947",           // shortest: Norway, 15
            "MT84MALT011000012345MTLCAST001S", // letters inside the BBAN
            "gb29nwbk60161331926819",       // case-insensitive
            "ZZ18 1234 5678 9012 34",       // unknown country, length 18, checksum holds
        ],
        invalid: [
            "DE89370400440532013001",        // checksum
            "DE8937040044053201300",         // 21 characters, Germany has 22
            "G B29 NWBK 6016 1331 9268 19",  // country code split
            "1E89370400440532013000",        // country code must be letters
            "DEXX370400440532013000",        // check digits must be digits
            "ZZ29 1234 5678",                // unknown country, shorter than any IBAN
        ],
    );

    cases!(aba, Validator::Aba,
        valid: [
            "111000025",   // python-stdnum's example
            "121000358",   // Bank of America, California
            "0711-0130-7", // dashes skipped, prefix 07
        ],
        invalid: [
            "112000025", // checksum
            "421042111", // prefix 42 was never assigned
            "000000000", // all zeros passes the checksum
            "11100002",  // 8 digits
        ],
    );

    cases!(date, Validator::Date,
        valid: [
            "03/21/1940",        // MM/DD/YYYY
            "3/2/40",            // M/D/YY
            "03-21-1940",        // MM-DD-YYYY
            "1940-03-21",        // ISO
            "1940/03/21",        // YYYY/MM/DD
            "21.03.1940",        // DD.MM.YYYY
            "21/03/1940",        // day first is fine when month first is not
            "3/21",              // M/D, no year
            "02/2021",           // MM/YYYY
            "2021-03",           // YYYY-MM
            "02/29/2000",        // 2000 is a leap year (divisible by 400)
            "2/29",              // no year: 29 February may exist
            "March 21, 1940",    // month name, day, year
            "Mar. 27, 2020",     // abbreviation with a dot
            "17 March 2020",     // day month year
            "Mar 14th",          // ordinal day, no year
            "14th of March 2021", // `of`
            "March 2021",        // month and year
            "Sept 3",            // four-letter September
            "3-Mar-2021",        // D-Mon-YYYY
            "03-MAR-21",         // DD-MON-YY, any case
            "2021-Mar-03",       // YYYY-Mon-DD
            "  december 25 ,2019 ", // liberal whitespace and commas
            "14 Mar.",           // trailing abbreviation dot
        ],
        invalid: [
            "04/31/2020",  // 31 April in either order
            "02/29/2019",  // 2019 is not a leap year
            "02/29/1900",  // 1900 is not (divisible by 100, not by 400)
            "00/12/2020",  // neither day 0 nor month 0 exists
            "13/13/2020",  // month 13 in either order
            "03/21/1799",  // before 1800
            "03/21/2200",  // after 2199
            "03/21-1940",  // inconsistent separators
            "3-21",        // a year-less date needs a slash: this is a range
            "2021.03",     // or a decimal
            "March",       // a month alone
            "March 32",    // no 32nd
            "Feb 30, 2020", // no 30 February
            "Marc 3",      // not an abbreviation
            "March 21st, 1940 at 10:30", // trailing text
            "14March2021", // parts must be separated
            "1940-21-03",  // year first is always year-month-day
            "12/25/202",   // three-digit year
        ],
    );

    cases!(ipv4, Validator::Ipv4,
        valid: [
            "192.168.0.1",    // private
            "0.0.0.0",        // kept valid
            "255.255.255.255", // broadcast
            "10.0.0.0/8",     // CIDR prefix length
        ],
        invalid: [
            "256.1.1.1",   // octet above 255
            "01.2.3.4",    // leading zero (octal to some parsers)
            "1.2.3",       // three octets
            "1.2.3.4.5",   // five octets
            "1.2.3.4/33",  // prefix too long
            "::1",         // IPv6
        ],
    );

    cases!(ipv6, Validator::Ipv6,
        valid: [
            "::1",                     // loopback
            "2001:db8::8a2e:370:7334", // compressed
            "fe80::1%eth0",            // with a zone
            "::ffff:192.0.2.1",        // IPv4-mapped
            "2001:db8::/32",           // CIDR prefix length
        ],
        invalid: [
            "deadbeef",      // hex without colons
            "2001::db8::1",  // two `::`
            "12345:db8::1",  // five hex digits in a group
            "fe80::1%",      // empty zone
            "::1/129",       // prefix too long
            "192.168.0.1",   // IPv4
        ],
    );

    cases!(ip, Validator::Ip,
        valid: [
            "192.168.0.1", // IPv4
            "::1",         // IPv6
            "fe80::/10",   // IPv6 network
        ],
        invalid: [
            "Time 12:34:56", // a clock
            "1.2.3",         // three octets
            "abc:def:ghi",   // not hex
        ],
    );

    cases!(mac, Validator::Mac,
        valid: [
            "00:1A:2B:3C:4D:5E", // colons
            "00-1a-2b-3c-4d-5e", // dashes, lower case
            "0012.3456.789A",    // Cisco dotted
            "001A2B3C4D5E",      // bare hex
            "FF:FF:FF:FF:FF:FF", // broadcast kept valid
        ],
        invalid: [
            "00:00:00:00:00:00", // all-zero placeholder
            "00:1A-2B:3C:4D:5E", // mixed separators
            "00:1A:2B:3C:4D",    // five groups
            "ZZ:1A:2B:3C:4D:5E", // not hex
            "0012.3456-789A",    // mixed dotted form
        ],
    );

    cases!(phone_digits, Validator::PhoneDigits,
        valid: [
            "0494 92 82 32",        // Belgian mobile
            "07700 063 966",        // UK mobile
            "01.84.17.61.18",       // French, dotted
            "(37) 788-063",         // area code in parentheses
            "668 5702",             // 7-digit local number
            "(044)688-7538x8775",   // extension ignored
            "+1-984-182-0190",      // country code
        ],
        invalid: [
            "120 80",               // too few digits
            "1+984-182-0190",       // a plus inside
            "+120 80",              // too few digits after the plus
            "000 000 000",          // one digit repeated
            "1234 5678 9012 3456",  // 16 digits: more than E.164 allows
        ],
    );

    cases!(phone_nanp, Validator::PhoneNanp,
        valid: [
            "(312) 555-0199",       // usual US form
            "312.555.0199",         // dots
            "+1 312 555 0199",      // with country code
            "1-800-555-0199",       // trunk prefix
            "312-555-0199 ext. 204", // extension ignored
            "312-555-0199 x204",    // short extension
        ],
        invalid: [
            "112-555-0199",        // area code starting 1
            "411-555-0199",        // N11 area code
            "312-155-0199",        // exchange starting 1
            "555-0199",            // 7 digits
            "+44 20 7946 0958",    // another country
            "222-222-2222",        // all one digit
            "312-555-0199 call me", // trailing words are no extension
        ],
    );

    cases!(zip, Validator::Zip,
        valid: [
            "60601",      // Chicago
            "60601-1234", // ZIP+4
            "02134",      // leading zero
        ],
        invalid: [
            "00000",      // placeholder
            "99999",      // placeholder
            "6060",       // 4 digits
            "60601 1234", // ZIP+4 needs the dash
            "60601-123",  // short +4
        ],
    );

    cases!(imei, Validator::Imei,
        valid: [
            "354178036859789",    // python-stdnum's example
            "35-417803-685978-9", // grouped
            "490154203237518",    // GSMA example
        ],
        invalid: [
            "354178036859781",    // check digit
            "35417803685978",     // 14 digits: no check digit to verify
            "000000000000000",    // filler
        ],
    );

    cases!(mbi, Validator::Mbi,
        valid: [
            "1EG4-TE5-MK73", // CMS's example
            "1EG4TE5MK73",   // undivided
            "1eg4 te5 mk73", // lower case, spaces
        ],
        invalid: [
            "0EG4-TE5-MK73", // first character 1-9
            "1SG4-TE5-MK73", // S is excluded
            "1EG4-TE5-MK7",  // 10 characters
            "1EG4-TE5 MK73", // inconsistent separators
            "1E4G-TE5-MK73", // digit where a letter is required
        ],
    );

    cases!(latlon, Validator::LatLon,
        valid: [
            "41.8781, -87.6298",      // decimal pair
            "41.8781,-87.6298",       // no space
            "41.8781° N, 87.6298° W", // degrees and hemispheres
            "(41.8781, -87.6298)",    // parenthesised
            "-33.87",                 // a single coordinate
            "90.00, 180.00",          // the limits themselves
        ],
        invalid: [
            "91.0000, 10.0000",   // latitude above 90
            "45.00, 180.01",      // longitude above 180
            "41.8, -87.6",        // one decimal only
            "87.6298° W, 41.8781° N", // longitude first
            "-41.88° S, 87.63° E",    // sign and hemisphere together
            "41.8781 -87.6298 1.00",  // three numbers
        ],
    );

    cases!(age_over_89, Validator::AgeOver89,
        valid: [
            "90",          // the lower bound
            "125",         // the upper bound
            "92-year-old", // words around the number
        ],
        invalid: [
            "89",        // under 90
            "126",       // implausible
            "90 and 91", // two numbers
            "1990",      // a year, not an age
        ],
    );

    #[test]
    fn names_round_trip_and_describe() {
        for &v in Validator::ALL {
            assert_eq!(Validator::from_name(v.name()), Some(v));
            assert!(!v.description().is_empty() && !v.description().contains('\n'));
        }
        assert_eq!(Validator::from_name("Luhn"), None);
    }

    proptest::proptest! {
        /// Candidates may be any bytes; validators must never panic on them.
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..48)) {
            for v in Validator::ALL {
                let _ = v.is_valid(&bytes);
            }
        }

        /// Near-misses reach deeper into the parsers than random bytes.
        #[test]
        fn never_panics_on_near_misses(s in "[0-9A-Fa-fxX :./,()%#+°-]{0,40}") {
            for v in Validator::ALL {
                let _ = v.is_valid(s.as_bytes());
            }
        }
    }

    /// Public test vectors (`shared/corpora/public/vectors/`): sources define validity
    /// differently, so each file lists the strings on which this crate deliberately differs.
    #[test]
    fn public_vectors() {
        use std::path::Path;

        struct Vectors {
            file: &'static str,
            validator: Validator,
            /// "Valid" strings this crate rejects, with the reason.
            rejected_valid: &'static [(&'static str, &'static str)],
            /// "Invalid" strings this crate accepts, with the reason.
            accepted_invalid: &'static [(&'static str, &'static str)],
        }

        const NATIONAL: &str = "national BBAN check digits or structure are not checked";
        const IMEI_LEN: &str = "python-stdnum also accepts 14-digit IMEIs and 16-digit IMEISVs, \
                                which have no check digit; this validator requires 15 digits + Luhn";
        let files = [
            Vectors {
                file: "CREDIT_CARD",
                validator: Validator::Luhn,
                rejected_valid: &[],
                accepted_invalid: &[(
                    "1748503543012",
                    "Luhn-valid; presidio's pattern, not its checksum, excludes 13 digits starting 1",
                )],
            },
            Vectors {
                file: "IBAN",
                validator: Validator::Iban,
                rejected_valid: &[],
                accepted_invalid: &[
                    (
                        "LV80 bANK 0000 4351 9500 1",
                        "presidio wants upper case; mod-97 is case-blind, as in python-stdnum",
                    ),
                    ("BG93 BNBG 9661 1A20 3456 78", NATIONAL),
                    ("GI22 NW3K 0000 0000 7099 453", NATIONAL),
                    ("NL56 3003 0A17 1643 00", NATIONAL),
                    ("ES2121000418450200051331", NATIONAL),
                    ("ES89 3183 1500 9500 0121 0562", NATIONAL),
                ],
            },
            Vectors {
                file: "SSN",
                validator: Validator::Ssn,
                rejected_valid: &[],
                accepted_invalid: &[],
            },
            Vectors {
                file: "VIN",
                validator: Validator::Vin,
                rejected_valid: &[],
                accepted_invalid: &[],
            },
            Vectors {
                file: "US_NPI",
                validator: Validator::Npi,
                rejected_valid: &[],
                accepted_invalid: &[],
            },
            Vectors {
                file: "IP_ADDRESS",
                validator: Validator::Ip,
                rejected_valid: &[],
                accepted_invalid: &[],
            },
            Vectors {
                file: "MAC_ADDRESS",
                validator: Validator::Mac,
                rejected_valid: &[],
                accepted_invalid: &[
                    (
                        "FF:FF:FF:FF:FF:FF",
                        "broadcast is kept valid: it is still a MAC address in the text",
                    ),
                    (
                        "fd:ff:ff:84:a2:a0",
                        "python-stdnum looks the OUI up in the IEEE registry; no registry here",
                    ),
                ],
            },
            Vectors {
                file: "ABA_ROUTING",
                validator: Validator::Aba,
                rejected_valid: &[],
                accepted_invalid: &[],
            },
            Vectors {
                file: "IMEI",
                validator: Validator::Imei,
                rejected_valid: &[
                    ("35686800-004141-20", IMEI_LEN),
                    ("49-015420-323751", IMEI_LEN),
                    ("35-209900-176148-23", IMEI_LEN),
                    ("3568680000414120", IMEI_LEN),
                ],
                accepted_invalid: &[],
            },
            Vectors {
                file: "US_MBI",
                validator: Validator::Mbi,
                rejected_valid: &[],
                accepted_invalid: &[],
            },
        ];

        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/public/vectors/");
        if !dir.is_dir() {
            eprintln!("skipping public_vectors: {} is missing", dir.display());
            return;
        }
        let strings = |json: &serde_json::Value, key: &str| -> Vec<String> {
            json[key].as_array().map_or_else(Vec::new, |a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
        };
        let mut failures = Vec::new();
        for v in files {
            let path = dir.join(format!("{}.json", v.file));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let json: serde_json::Value = serde_json::from_str(&text).expect("vector file is JSON");
            let (valid, invalid) = (strings(&json, "valid"), strings(&json, "invalid"));
            assert!(!valid.is_empty(), "{}: no valid vectors", v.file);

            // Exceptions must still be in the file and still behave as listed, so the lists stay honest.
            for (s, why) in v.rejected_valid {
                assert!(
                    valid.iter().any(|x| x == s),
                    "{}: stale exception {s:?}",
                    v.file
                );
                assert!(
                    !v.validator.is_valid(s.as_bytes()),
                    "{}: {s:?} now passes ({why})",
                    v.file
                );
            }
            for (s, why) in v.accepted_invalid {
                assert!(
                    invalid.iter().any(|x| x == s),
                    "{}: stale exception {s:?}",
                    v.file
                );
                assert!(
                    v.validator.is_valid(s.as_bytes()),
                    "{}: {s:?} is now rejected ({why})",
                    v.file
                );
            }

            let is_exception = |list: &[(&str, &str)], s: &str| list.iter().any(|(e, _)| *e == s);
            let passed = valid
                .iter()
                .filter(|s| v.validator.is_valid(s.as_bytes()))
                .count();
            let rejected = invalid
                .iter()
                .filter(|s| !v.validator.is_valid(s.as_bytes()))
                .count();
            failures.extend(
                valid
                    .iter()
                    .filter(|s| {
                        !v.validator.is_valid(s.as_bytes()) && !is_exception(v.rejected_valid, s)
                    })
                    .map(|s| format!("{}: valid vector {s:?} rejected", v.file)),
            );
            failures.extend(
                invalid
                    .iter()
                    .filter(|s| {
                        v.validator.is_valid(s.as_bytes()) && !is_exception(v.accepted_invalid, s)
                    })
                    .map(|s| format!("{}: invalid vector {s:?} accepted", v.file)),
            );
            eprintln!(
                "{}: valid {passed}/{} accepted, invalid {rejected}/{} rejected",
                v.file,
                valid.len(),
                invalid.len()
            );
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
