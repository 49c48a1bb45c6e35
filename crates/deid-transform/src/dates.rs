//! Dates as people write them: shifted by a number of days, or cut down to their year.
//!
//! Shifting every date of one subject by the same secret number of days hides the real
//! dates but keeps the intervals between them (length of stay, age at diagnosis), which is
//! what most analyses need. The shifted date must read as the original did, so that
//! neither a reader nor a downstream parser notices: `3/14/21` becomes another `M/D/YY`,
//! `14th of March 2021` another `<ordinal> of <Month> <year>`.
//!
//! A value is read into a [`NaiveDate`] and a template: its separators verbatim, and the
//! year, month and day with how each was written (digits, zero padding, month-name form
//! and case, ordinal suffix). [`shift`] moves the date and fills the same template again;
//! [`year`] keeps only the year. What does not read as a calendar date gives `None`, and
//! the caller falls back (to a tag, say).
//!
//! How values are read:
//! * Numbers only: `2021-03-14` (or `/`, `.`), `20210314`, and `03/14/2021`, `3-14-21`.
//!   Month and day are in US order unless the first number is over 12 (`14/03/2021`).
//!   Dots are a European habit, so a dotted date is read only when the values settle the
//!   order (`14.03.2021`, not `03.04.2021`).
//! * Month names: `March 14, 2021`, `Mar. 14th, 2021`, `14 March 2021`, `14-Mar-2021`,
//!   `14MAR2021`, `14th of March 2021`, `2021-Mar-03`; full, three-letter or `Sept`; Title,
//!   UPPER or lower case.
//! * No year (`March 14`, `3/14`): shifted within [`REFERENCE_YEAR`], a leap year, so that
//!   29 February exists; the year is never written.
//! * No day (`March 2021`, `04/2019`): shifted as day [`ANCHOR_DAY`] of the month, so the
//!   month moves when the offset carries the middle of the month across a month boundary.
//! * Two-digit years: below [`PIVOT`] in the 2000s, otherwise in the 1900s (most two-digit
//!   years in notes are birth years). They are written back as two digits.
//! * A time of day after the date (`T08:30:00Z`, ` 08:30`, ` 8:30 PM`) is kept as it is:
//!   a shift by whole days does not move it.

use std::ops::RangeInclusive;

use chrono::{Datelike, Days, NaiveDate};
use smallvec::SmallVec;

/// The leap year in which dates without a year are shifted.
pub const REFERENCE_YEAR: i32 = 2020;

/// The day of the month at which dates without a day are shifted.
pub const ANCHOR_DAY: u32 = 15;

/// Two-digit years below this are in the 2000s (`29` is 2029), the others in the 1900s.
pub const PIVOT: u32 = 30;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Returns `value` moved by `days`, written in the style it was written in.
///
/// `None` if `value` is not a date this module reads (see the module documentation),
/// is not a calendar date (`04/31/2021`), or the result leaves the years 0 to 9999.
///
/// ```
/// use deid_transform::dates::shift;
///
/// assert_eq!(shift("3/14/21", 18).as_deref(), Some("4/1/21"));
/// assert_eq!(shift("14th of MARCH 2021", -14).as_deref(), Some("28th of FEBRUARY 2021"));
/// assert_eq!(shift("04/31/2021", 1), None);
/// ```
pub fn shift(value: &str, days: i64) -> Option<String> {
    let template = Template::parse(value)?;
    let magnitude = Days::new(days.unsigned_abs());
    let date = if days < 0 {
        template.date.checked_sub_days(magnitude)
    } else {
        template.date.checked_add_days(magnitude)
    }?;
    template.render(date)
}

/// Returns the year of a date that names one (`3/14/21` gives 2021).
///
/// `None` if `value` is not a date or has no year (`March 14`).
pub fn year(value: &str) -> Option<i32> {
    if let Some(year) = iso_year(value) {
        return Some(year);
    }
    // The reading alone: a table's date column is cut to its year cell by cell, and
    // building the template's pieces too cost ~8 % of a one-thread redaction of the 1 GiB
    // bench CSV.
    let reading = Reading::of(value)?;
    reading
        .roles
        .contains(&Role::Year)
        .then(|| reading.date.year())
}

/// The year of a calendar date written `YYYY-MM-DD` and nothing else, the form most date
/// columns hold, read without the general reader's lexing (~6 % of a one-thread
/// redaction of the 1 GiB bench CSV). `None` sends any other value to that reader.
fn iso_year(value: &str) -> Option<i32> {
    let bytes: &[u8; 10] = value.as_bytes().try_into().ok()?;
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &digit| {
            digit
                .is_ascii_digit()
                .then(|| n * 10 + u32::from(digit - b'0'))
        })
    };
    let year = i32::try_from(number(&bytes[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&bytes[5..7])?, number(&bytes[8..])?).map(|_| year)
}

/// Returns a shift in days drawn from `seed`, uniform in `[min_days, max_days]` and never 0
/// unless the range holds nothing else.
///
/// The first 8 bytes of `seed` are read as a little-endian `u64` and mapped onto the `n`
/// candidates by multiply-shift (`x * n >> 64`), whose bias is below `n / 2^64`: nothing
/// any realistic range could show. The bounds may come in either order.
pub fn offset_days(seed: &[u8; 32], min_days: i64, max_days: i64) -> i64 {
    let mut first = [0; 8];
    first.copy_from_slice(&seed[..8]);
    let x = u128::from(u64::from_le_bytes(first));

    let (low, high) = (
        i128::from(min_days.min(max_days)),
        i128::from(min_days.max(max_days)),
    );
    let skip_zero = low <= 0 && 0 <= high && low < high;
    // At most 2^64 candidates, so the count fits a u128 and the product does too.
    let count = (high - low + 1 - i128::from(skip_zero)).unsigned_abs();
    let drawn = low + ((x * count) >> 64) as i128;
    let offset = if skip_zero && drawn >= 0 {
        drawn + 1
    } else {
        drawn
    };
    // In [low, high] by construction, so it fits an i64.
    i64::try_from(offset).unwrap_or(min_days)
}

/// How a word was capitalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Title,
    Upper,
    Lower,
}

impl Case {
    /// The case of an ASCII word; `None` for mixed case such as `mARch`.
    fn of(word: &str) -> Option<Case> {
        let (first, rest) = word.split_at_checked(1)?;
        let lower = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase());
        let upper = |s: &str| s.bytes().all(|b| b.is_ascii_uppercase());
        if lower(word) {
            Some(Case::Lower)
        } else if upper(word) {
            Some(Case::Upper)
        } else if upper(first) && lower(rest) {
            Some(Case::Title)
        } else {
            None
        }
    }

    fn apply(self, word: &str, out: &mut String) {
        for (i, c) in word.chars().enumerate() {
            out.push(match self {
                Case::Upper => c.to_ascii_uppercase(),
                Case::Title if i == 0 => c.to_ascii_uppercase(),
                Case::Title | Case::Lower => c.to_ascii_lowercase(),
            });
        }
    }
}

/// How a month name was abbreviated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameForm {
    /// `March`.
    Full,
    /// `Mar`.
    Short,
    /// `Mar`, but September as `Sept`.
    ShortSept,
}

impl NameForm {
    fn name(self, month0: usize) -> &'static str {
        let full = MONTHS[month0];
        match self {
            NameForm::Full => full,
            NameForm::ShortSept if month0 == 8 => "Sept",
            NameForm::Short | NameForm::ShortSept => &full[..3],
        }
    }
}

/// One year, month or day as it was written, before its role is known.
#[derive(Clone, Copy, Debug)]
enum Field<'a> {
    Number {
        digits: &'a str,
        ordinal: Option<Case>,
    },
    MonthName {
        month: u32,
        form: NameForm,
        case: Case,
    },
}

/// A field's shape, for matching the orders dates are written in.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Name,
    Digits(usize),
    Ordinal,
}

impl Field<'_> {
    fn kind(&self) -> Kind {
        match *self {
            Field::Number {
                ordinal: Some(_), ..
            } => Kind::Ordinal,
            Field::Number { digits, .. } => Kind::Digits(digits.len()),
            Field::MonthName { .. } => Kind::Name,
        }
    }

    fn value(&self) -> Option<u32> {
        match *self {
            Field::Number { digits, .. } => digits.parse().ok(),
            Field::MonthName { month, .. } => Some(month),
        }
    }

    /// Whether a number was zero-padded: `03` yes, `3` no, `14` cannot say.
    fn padded(&self) -> Option<bool> {
        match *self {
            Field::Number { digits, .. } if digits.len() == 1 => Some(false),
            Field::Number { digits, .. } if digits.starts_with('0') => Some(true),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Year,
    Month,
    Day,
}

/// A part of the written date: literal text, or a field to fill from the date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// Written with 4 or 2 digits.
    Year {
        digits: usize,
    },
    MonthNumber {
        pad: bool,
    },
    MonthName {
        form: NameForm,
        case: Case,
    },
    Day {
        pad: bool,
        ordinal: Option<Case>,
    },
}

/// The most fields a date has: year, month and day.
const MAX_FIELDS: usize = 3;

/// A date's fields, on the stack: transforms read a date per cell of a date column.
type Fields<'a> = SmallVec<[Field<'a>; MAX_FIELDS]>;

/// The gaps around a date's fields, one more than the fields.
type Gaps<'a> = SmallVec<[&'a str; MAX_FIELDS + 1]>;

/// A value read as a date and the template to write another date the same way.
#[derive(Debug)]
struct Template<'a> {
    date: NaiveDate,
    /// Lead, a gap and a field per field, the last gap, the time and the trail.
    pieces: SmallVec<[Piece<'a>; 2 * MAX_FIELDS + 4]>,
}

/// A value read as a date: the date, and the fields it was written with, their roles and
/// the text around them.
struct Reading<'a> {
    date: NaiveDate,
    fields: Fields<'a>,
    gaps: Gaps<'a>,
    roles: &'static [Role],
    /// Spaces before the date, the time of day after it, spaces after that.
    lead: &'a str,
    time: &'a str,
    trail: &'a str,
}

impl<'a> Reading<'a> {
    fn of(value: &'a str) -> Option<Reading<'a>> {
        let core = value.trim();
        let lead = &value[..value.len() - value.trim_start().len()];
        let trail = &value[lead.len() + core.len()..];
        let (text, time) = split_time(core)?;
        let (fields, gaps) = lex(text)?;
        let (fields, gaps, roles): (_, _, &[Role]) = match split_compact(&fields, &gaps) {
            Some(split) => (
                split,
                Gaps::from_elem("", MAX_FIELDS + 1),
                &[Role::Year, Role::Month, Role::Day],
            ),
            None => {
                let roles = roles(&fields, &gaps)?;
                (fields, gaps, roles)
            }
        };

        let mut year = REFERENCE_YEAR;
        let mut month = None;
        let mut day = ANCHOR_DAY;
        for (field, role) in fields.iter().zip(roles) {
            let value = field.value()?;
            match role {
                Role::Year if matches!(field.kind(), Kind::Digits(2)) => {
                    year = i32::try_from(value).ok()? + if value < PIVOT { 2000 } else { 1900 };
                }
                Role::Year => year = i32::try_from(value).ok()?,
                Role::Month => month = Some(value),
                Role::Day => day = value,
            }
        }
        let date = NaiveDate::from_ymd_opt(year, month?, day)?;
        Some(Reading {
            date,
            fields,
            gaps,
            roles,
            lead,
            time,
            trail,
        })
    }
}

impl<'a> Template<'a> {
    fn parse(value: &'a str) -> Option<Template<'a>> {
        let reading = Reading::of(value)?;
        let (fields, gaps, roles) = (&reading.fields, &reading.gaps, reading.roles);

        // A month or day whose digits do not say whether it was padded follows the other
        // one; if neither says, numeric dates pad (`12/10/2021`) and textual ones do not.
        let numeric = !fields.iter().any(|f| matches!(f.kind(), Kind::Name));
        let shared_pad = fields
            .iter()
            .zip(roles)
            .filter(|(_, role)| **role != Role::Year)
            .find_map(|(field, _)| field.padded())
            .unwrap_or(numeric);

        let mut pieces = SmallVec::new();
        pieces.push(Piece::Text(reading.lead));
        for ((field, role), gap) in fields.iter().zip(roles).zip(gaps) {
            pieces.push(Piece::Text(gap));
            let pad = field.padded().unwrap_or(shared_pad);
            pieces.push(match (*field, role) {
                (Field::Number { digits, .. }, Role::Year) => Piece::Year {
                    digits: digits.len(),
                },
                (Field::Number { ordinal, .. }, Role::Day) => Piece::Day { pad, ordinal },
                (Field::Number { .. }, _) => Piece::MonthNumber { pad },
                (Field::MonthName { form, case, .. }, _) => Piece::MonthName { form, case },
            });
        }
        pieces.extend([*gaps.last()?, reading.time, reading.trail].map(Piece::Text));
        pieces.retain(|piece| *piece != Piece::Text(""));
        Some(Template {
            date: reading.date,
            pieces,
        })
    }

    fn render(&self, date: NaiveDate) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match *piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Year { digits } => {
                    let year = date.year();
                    if !(0..=9999).contains(&year) {
                        return None;
                    }
                    // A two-digit year must read back as the same century.
                    let window = if digits == 2 {
                        Some(1900 + PIVOT as i32..2000 + PIVOT as i32)
                    } else {
                        None
                    };
                    if window.is_some_and(|w| !w.contains(&year)) {
                        return None;
                    }
                    let year = if digits == 2 { year % 100 } else { year };
                    out.push_str(&format!("{year:0digits$}"));
                }
                Piece::MonthNumber { pad } => push_number(&mut out, date.month(), pad),
                Piece::MonthName { form, case } => {
                    case.apply(form.name(date.month0() as usize), &mut out);
                }
                Piece::Day { pad, ordinal } => {
                    push_number(&mut out, date.day(), pad);
                    if let Some(case) = ordinal {
                        case.apply(ordinal_suffix(date.day()), &mut out);
                    }
                }
            }
        }
        Some(out)
    }
}

fn push_number(out: &mut String, n: u32, pad: bool) {
    if pad && n < 10 {
        out.push('0');
    }
    out.push_str(&n.to_string());
}

/// `st`, `nd`, `rd` or `th`, as English writes the day after `day`.
fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// Splits a time of day off the end of `s`: `T08:30:00Z`, ` 08:30`, ` 8:30 PM`.
///
/// `None` if what follows the date looks like a time but is not one.
fn split_time(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let starts_time = |i: usize| {
        let (Some(&before), Some(&at)) =
            (i.checked_sub(1).and_then(|j| bytes.get(j)), bytes.get(i))
        else {
            return false;
        };
        let after = &bytes[i + 1..];
        match at {
            b'T' => before.is_ascii_digit() && after.first().is_some_and(u8::is_ascii_digit),
            b' ' | b'\t' if !before.is_ascii_whitespace() => {
                let after = after.trim_ascii_start();
                let hour = after.iter().take_while(|b| b.is_ascii_digit()).count();
                (1..=2).contains(&hour) && after.get(hour) == Some(&b':')
            }
            _ => false,
        }
    };
    match (1..bytes.len()).find(|&i| starts_time(i)) {
        Some(i) => is_time(&bytes[i..]).then(|| s.split_at(i)),
        None => Some((s, "")),
    }
}

/// Whether `tail` is a time of day after a date: a `T` or spaces, `H:MM`, optional `:SS`
/// and fraction, optional AM/PM, optional zone (`Z`, `+05:30`, `-0500`).
fn is_time(tail: &[u8]) -> bool {
    let mut rest = tail
        .strip_prefix(b"T")
        .unwrap_or_else(|| tail.trim_ascii_start());
    // The `&&` chain consumes `rest` from left to right.
    let clock = number(&mut rest, 1..=2, 23)
        && eat(&mut rest, b":")
        && number(&mut rest, 2..=2, 59)
        && (!eat(&mut rest, b":") || number(&mut rest, 2..=2, 60))
        && (!(eat(&mut rest, b".") || eat(&mut rest, b",")) || number(&mut rest, 1..=9, u32::MAX));
    if !clock {
        return false;
    }
    let spaced = rest.trim_ascii_start();
    if let Some(meridiem) = spaced.get(..2)
        && (meridiem.eq_ignore_ascii_case(b"am") || meridiem.eq_ignore_ascii_case(b"pm"))
    {
        rest = &spaced[2..];
    }
    is_zone(rest.trim_ascii_start())
}

/// Whether `zone` is a UTC offset or nothing: `Z`, `+05`, `-0500`, `+05:30`.
fn is_zone(zone: &[u8]) -> bool {
    let digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    match zone {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => digits(&[*h1, *h2, *m1, *m2]),
        [b'+' | b'-', offset @ ..] => matches!(offset.len(), 2 | 4) && digits(offset),
        _ => false,
    }
}

/// Consumes a number from the start of `rest`: whether it has `len` digits and is at most
/// `limit`.
fn number(rest: &mut &[u8], len: RangeInclusive<usize>, limit: u32) -> bool {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = rest[..digits].iter().fold(0u32, |n, b| {
        n.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    });
    *rest = &rest[digits..];
    len.contains(&digits) && value <= limit
}

/// Consumes `prefix` from the start of `rest`, if it is there.
fn eat(rest: &mut &[u8], prefix: &[u8]) -> bool {
    match rest.strip_prefix(prefix) {
        Some(after) => {
            *rest = after;
            true
        }
        None => false,
    }
}

/// Splits `20210314`, the only date without separators between its numbers, into its year,
/// month and day.
fn split_compact<'a>(fields: &[Field<'a>], gaps: &[&str]) -> Option<Fields<'a>> {
    let [
        Field::Number {
            digits,
            ordinal: None,
        },
    ] = *fields
    else {
        return None;
    };
    let unseparated = digits.len() == 8 && gaps.iter().all(|gap| gap.is_empty());
    unseparated.then(|| {
        [&digits[..4], &digits[4..6], &digits[6..]]
            .map(|digits| Field::Number {
                digits,
                ordinal: None,
            })
            .into_iter()
            .collect()
    })
}

/// Splits a date into its fields and the gaps around them (one more gap than fields).
///
/// Gaps may hold spaces, `,`, `.`, `/`, `-` and the word `of`; anything else is no date,
/// and so is more than [`MAX_FIELDS`] fields.
fn lex(s: &str) -> Option<(Fields<'_>, Gaps<'_>)> {
    let bytes = s.as_bytes();
    let run_end = |from: usize, class: fn(&u8) -> bool| {
        from + bytes[from..].iter().take_while(|b| class(b)).count()
    };
    let (mut fields, mut gaps) = (Fields::new(), Gaps::new());
    let (mut gap_start, mut i) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        let (field, end) = if b.is_ascii_digit() {
            let digits_end = run_end(i, u8::is_ascii_digit);
            let letters_end = run_end(digits_end, u8::is_ascii_alphabetic);
            let digits = &s[i..digits_end];
            let suffix = &s[digits_end..letters_end];
            let is_suffix = ["st", "nd", "rd", "th"]
                .iter()
                .any(|ordinal| suffix.eq_ignore_ascii_case(ordinal));
            // Other letters right after a number are a month (`14MAR2021`), or no date.
            let (ordinal, end) = if is_suffix {
                // Only the right suffix: `14th`, never `14st`.
                let day = digits.parse().ok().filter(|_| digits.len() <= 2)?;
                if !suffix.eq_ignore_ascii_case(ordinal_suffix(day)) {
                    return None;
                }
                (Some(Case::of(suffix)?), letters_end)
            } else {
                (None, digits_end)
            };
            (Field::Number { digits, ordinal }, end)
        } else if b.is_ascii_alphabetic() {
            let end = run_end(i, u8::is_ascii_alphabetic);
            let word = &s[i..end];
            if word.eq_ignore_ascii_case("of") {
                i = end;
                continue;
            }
            (month_name(s, i, end)?, end)
        } else if b.is_ascii_whitespace() || b",./-".contains(&b) {
            i += 1;
            continue;
        } else {
            return None;
        };
        if fields.len() == MAX_FIELDS {
            return None;
        }
        gaps.push(&s[gap_start..i]);
        fields.push(field);
        (gap_start, i) = (end, end);
    }
    gaps.push(&s[gap_start..]);
    (!fields.is_empty()).then_some((fields, gaps))
}

/// Reads the month name at `s[start..end]`: full, three letters, or `Sept`.
fn month_name(s: &str, start: usize, end: usize) -> Option<Field<'static>> {
    let (bytes, word) = (s.as_bytes(), &s[start..end]);
    let case = Case::of(word)?;
    let (month0, full) = MONTHS.iter().enumerate().find_map(|(i, name)| {
        if name.eq_ignore_ascii_case(word) {
            Some((i, true))
        } else {
            let short = word.eq_ignore_ascii_case(&name[..3])
                || (i == 8 && word.eq_ignore_ascii_case("sept"));
            short.then_some((i, false))
        }
    })?;
    let form = if word.len() == 4 && month0 == 8 {
        NameForm::ShortSept
    } else if month0 == 4 {
        // `May` is both forms: it is short in `May.`, `14-May-2021` and `14MAY2021`.
        let before = start.checked_sub(1).and_then(|i| bytes.get(i));
        let after = bytes.get(end);
        let spaced = [before, after]
            .into_iter()
            .any(|b| b.is_some_and(u8::is_ascii_whitespace));
        if after == Some(&b'.') || !spaced {
            NameForm::Short
        } else {
            NameForm::Full
        }
    } else if full {
        NameForm::Full
    } else {
        NameForm::Short
    };
    Some(Field::MonthName {
        month: u32::try_from(month0).ok()? + 1,
        form,
        case,
    })
}

/// The role of each field, from the orders in which dates are written.
fn roles(fields: &[Field<'_>], gaps: &[&str]) -> Option<&'static [Role]> {
    use Kind::{Digits, Name, Ordinal};
    use Role::{Day, Month, Year};
    let kinds: SmallVec<[Kind; MAX_FIELDS]> = fields.iter().map(Field::kind).collect();
    let (first, inner, last) = (gaps.first()?, gaps.get(1..gaps.len() - 1)?, gaps.last()?);
    if !first.is_empty() {
        return None;
    }

    if kinds.iter().any(|kind| matches!(kind, Name)) {
        // Numbers need a gap between them; a month name does not (`14MAR2021`).
        let joined = kinds
            .windows(2)
            .zip(inner)
            .any(|(pair, gap)| gap.is_empty() && !matches!(pair, [Name, _] | [_, Name]));
        let trailing_dot = *last == "." && matches!(kinds.last(), Some(Name));
        if joined || !(last.is_empty() || trailing_dot) {
            return None;
        }
        return match kinds[..] {
            [Name, Digits(1 | 2) | Ordinal] => Some(&[Month, Day]),
            [Name, Digits(4)] => Some(&[Month, Year]),
            [Digits(1 | 2) | Ordinal, Name] => Some(&[Day, Month]),
            [Name, Digits(1 | 2) | Ordinal, Digits(4)] => Some(&[Month, Day, Year]),
            [Digits(1 | 2) | Ordinal, Name, Digits(2 | 4)] => Some(&[Day, Month, Year]),
            [Digits(4), Name, Digits(1 | 2) | Ordinal] => Some(&[Year, Month, Day]),
            _ => None,
        };
    }

    // Numbers only: one separator, the same between every pair.
    let sep = *inner.first()?;
    if sep.len() != 1 || !"/-.".contains(sep) || inner.iter().any(|gap| *gap != sep) {
        return None;
    }
    if !last.is_empty() {
        return None;
    }
    let sep = sep.as_bytes()[0];
    // Month first unless the first number cannot be a month; a dot also needs the second
    // number to settle the order.
    let day_first = fields.first()?.value()? > 12;
    if sep == b'.' && !day_first && fields.get(1)?.value()? <= 12 {
        return None;
    }
    let order = |month_day: &'static [Role], day_month: &'static [Role]| {
        Some(if day_first { day_month } else { month_day })
    };
    match kinds[..] {
        [Digits(4), Digits(1 | 2), Digits(1 | 2)] => Some(&[Year, Month, Day]),
        // A two-digit year needs a slash or a dash: `1.2.15` is a version.
        [Digits(1 | 2), Digits(1 | 2), Digits(n)] if n == 4 || (n == 2 && sep != b'.') => {
            order(&[Month, Day, Year], &[Day, Month, Year])
        }
        // `3-4` reads as a range and `3.4` as a decimal, so a date without a year needs `/`.
        [Digits(1 | 2), Digits(1 | 2)] if sep == b'/' => order(&[Month, Day], &[Day, Month]),
        [Digits(1 | 2), Digits(4)] if sep != b'.' => Some(&[Month, Year]),
        [Digits(4), Digits(1 | 2)] if sep != b'.' => Some(&[Year, Month]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_round_trips_unshifted() {
        for value in [
            "2021-03-14",
            "2021/03/14",
            "2021.03.14",
            "2021-3-4",
            "2021-03-14T08:30:00Z",
            "2021-03-14T09:30:00.123-05:00",
            "2021-03-14T09:30+05",
            "2021-03-14 09:30:00 +0530",
            "2021-03-14 08:30",
            "2000-04-16 11:34:35",
            "03/14/2021",
            "3/14/2021",
            "3/14/21",
            "03-14-1980",
            "14/03/2021",
            "14.03.2021",
            "20210314",
            "March 14, 2021",
            "Mar 14, 2021",
            "Mar. 14, 2021",
            "14 March 2021",
            "14-Mar-2021",
            "21-Apr-21",
            "14MAR2021",
            "2021-Mar-03",
            "14th of March 2021",
            "March 14th, 2021",
            "MARCH 14, 2021",
            "JUN 3RD",
            "september 9, 2020",
            "Sept 3",
            "May 3",
            "Apr.\n26, 2023",
            "March 14",
            "14 March",
            "3/14",
            "Nov 2017",
            "March of 2021",
            "June, 2019",
            "04/2019",
            "2019-04",
            "3/14/2021 8:30 PM",
            "  2021-03-14 ",
        ] {
            assert_eq!(shift(value, 0).as_deref(), Some(value), "{value:?}");
        }
    }

    #[test]
    fn shifting_keeps_the_style() {
        for (value, days, expected) in [
            ("2021-03-14", 1, "2021-03-15"),
            ("2021-12-31", 1, "2022-01-01"),
            ("2021-3-4", 30, "2021-4-3"),
            ("2021-03-14T08:30:00Z", -14, "2021-02-28T08:30:00Z"),
            ("2021-03-14 08:30", 30, "2021-04-13 08:30"),
            ("03/14/2021", 20, "04/03/2021"),
            ("3/14/2021", 20, "4/3/2021"),
            ("3/14/21", 365, "3/14/22"),
            ("12/31/99", 1, "01/01/00"),
            ("12/10/2021", 30, "01/09/2022"),
            ("12/5/2021", 30, "1/4/2022"),
            ("14/03/2021", 1, "15/03/2021"),
            ("14.03.2021", 18, "01.04.2021"),
            ("20210314", -14, "20210228"),
            ("March 14, 2021", 18, "April 1, 2021"),
            ("Mar 14, 2021", 18, "Apr 1, 2021"),
            ("Mar. 14, 2021", 18, "Apr. 1, 2021"),
            ("Mar 03, 2021", 1, "Mar 04, 2021"),
            ("14 March 2021", 1, "15 March 2021"),
            ("14-Mar-2021", -14, "28-Feb-2021"),
            ("21-Apr-21", 30, "21-May-21"),
            ("14MAR2021", 30, "13APR2021"),
            ("2021-Mar-03", 30, "2021-Apr-02"),
            ("14th of March 2021", 8, "22nd of March 2021"),
            ("14th of March 2021", 9, "23rd of March 2021"),
            ("14th of March 2021", 17, "31st of March 2021"),
            ("1st of March 2021", 10, "11th of March 2021"),
            ("March 14th, 2021", -2, "March 12th, 2021"),
            ("JUN 3RD", 18, "JUN 21ST"),
            ("MARCH 14, 2021", 31, "APRIL 14, 2021"),
            ("march 14", 1, "march 15"),
            ("Sept 3", -30, "Aug 4"),
            ("Aug 31", 1, "Sep 1"),
            ("Sept 30", 1, "Oct 1"),
            ("Aug 31", 1, "Sep 1"),
            ("May 14", 31, "June 14"),
            ("14-May-2021", 31, "14-Jun-2021"),
            ("March 14", -14, "February 29"),
            ("3/14", -14, "2/29"),
            ("12/31", 1, "01/01"),
            ("Nov 2017", 20, "Dec 2017"),
            ("Nov 2017", 10, "Nov 2017"),
            ("04/2019", -20, "03/2019"),
            ("2019-04", 31, "2019-05"),
            ("3/14/2021 8:30 PM", 1, "3/15/2021 8:30 PM"),
        ] {
            assert_eq!(
                shift(value, days).as_deref(),
                Some(expected),
                "{value:?} {days:+}"
            );
        }
    }

    #[test]
    fn what_is_no_date_gives_none() {
        for value in [
            "",
            " ",
            "hello",
            "2021",
            "04/31/2021",
            "2021-02-29",
            "02/29/2023",
            "13/13/2021",
            "03.04.2021",
            "1.2.15",
            "2021-03/14",
            "3-4",
            "120/80",
            "March 45",
            "March 14, 21",
            "14st March 2021",
            "mARCH 14",
            "Mayo 12",
            "2021-03-14 blah",
            "2021-03-14T25:00",
            "2021-03-14 08:30 +5",
            "2021-03-14 08:30 +05:",
            "14 Mär 2021",
            "2021–03–14",
        ] {
            assert_eq!(shift(value, 0), None, "{value:?}");
        }
    }

    #[test]
    fn no_fragment_of_a_date_panics() {
        let text = "2021-03-14T09:30:00.123-05:00 14th of MARCH 2021, Sept 3RD 3/14/21 14MAR2021 20210314 \
                    8:30 PM Z +05 ünï ½";
        for (i, _) in text.char_indices() {
            for (j, _) in text[i..].char_indices().skip(1) {
                let fragment = &text[i..i + j];
                if let Some(shifted) = shift(fragment, 40) {
                    assert!(shift(&shifted, -40).is_some(), "{fragment:?}");
                }
                let _ = year(fragment);
            }
        }
    }

    #[test]
    fn extreme_shifts_give_none_instead_of_overflowing() {
        for days in [i64::MAX, i64::MIN, 10_000 * 366, -2_022 * 366] {
            assert_eq!(shift("2021-03-14", days), None, "{days}");
        }
        assert_eq!(shift("3/14/21", i64::MAX), None);
    }

    #[test]
    fn two_digit_years_pivot_at_30() {
        for (value, expected) in [
            ("1/1/00", 2000),
            ("1/1/29", 2029),
            ("1/1/30", 1930),
            ("3/14/45", 1945),
            ("3/14/21", 2021),
            ("21-Apr-99", 1999),
        ] {
            assert_eq!(year(value), Some(expected), "{value:?}");
        }
    }

    #[test]
    fn shifts_that_leave_the_two_digit_year_window_are_refused() {
        // 1/1/30 is 1930; ten days earlier is 1929, which `29` would read as 2029.
        assert_eq!(shift("1/1/30", -10), None);
        assert_eq!(shift("12/25/29", 10), None);
        assert_eq!(shift("1/1/30", 10).as_deref(), Some("1/11/30"));
        // Four-digit years cross any boundary.
        assert_eq!(shift("1/1/1930", -10).as_deref(), Some("12/22/1929"));
    }

    #[test]
    fn year_needs_a_year() {
        for (value, expected) in [
            ("2021-03-14T08:30:00Z", Some(2021)),
            ("20210314", Some(2021)),
            ("14th of March 2021", Some(2021)),
            ("Nov 2017", Some(2017)),
            ("March 14", None),
            ("3/14", None),
            ("junk", None),
        ] {
            assert_eq!(year(value), expected, "{value:?}");
        }
    }

    #[test]
    fn iso_dates_read_alone_give_the_general_readers_year() {
        let general = |value: &str| {
            Reading::of(value)
                .filter(|reading| reading.roles.contains(&Role::Year))
                .map(|reading| reading.date.year())
        };
        let mut read_alone = 0;
        for written in [0, 1, 999, 1900, 1999, 2000, 2024, 2100, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let value = format!("{written:04}-{month:02}-{day:02}");
                    if let Some(iso) = iso_year(&value) {
                        read_alone += 1;
                        assert_eq!(Some(iso), general(&value), "{value}");
                    }
                    assert_eq!(year(&value), general(&value), "{value}");
                }
            }
        }
        // Every calendar day of those years, 2000 and 2024 leap and 1900 and 2100 not.
        assert_eq!(read_alone, 365 * 9 + 3);
        for value in [
            "2021-03-14 ",
            "2021/03/14",
            "2021-3-14",
            "+021-03-14",
            "2021-03-1x",
        ] {
            assert_eq!(iso_year(value), None, "{value:?}");
        }
    }

    /// A seed whose 8 offset bytes spell `x`.
    fn seed_of(x: u64) -> [u8; 32] {
        let mut seed = [0xa5; 32];
        seed[..8].copy_from_slice(&x.to_le_bytes());
        seed
    }

    #[test]
    fn offsets_stay_in_range_and_skip_zero() {
        let xs = [0, 1, u64::MAX / 2, u64::MAX / 2 + 1, u64::MAX - 1, u64::MAX];
        for (min, max) in [
            (-365, 365),
            (-3, 3),
            (0, 5),
            (-5, 0),
            (1, 30),
            (-30, -1),
            (-1, 1),
        ] {
            for x in xs {
                let offset = offset_days(&seed_of(x), min, max);
                assert!((min..=max).contains(&offset), "{offset} in [{min}, {max}]");
                assert_ne!(offset, 0, "[{min}, {max}] x={x}");
            }
            // The ends of the range, less 0, are reachable.
            let (first, last) = (
                if min == 0 { 1 } else { min },
                if max == 0 { -1 } else { max },
            );
            assert_eq!(offset_days(&seed_of(0), min, max), first);
            assert_eq!(offset_days(&seed_of(u64::MAX), min, max), last);
        }
    }

    #[test]
    fn degenerate_and_extreme_ranges() {
        for x in [0, 1 << 63, u64::MAX] {
            assert_eq!(offset_days(&seed_of(x), 0, 0), 0);
            assert_eq!(offset_days(&seed_of(x), 7, 7), 7);
            assert_eq!(
                offset_days(&seed_of(x), 10, -10),
                offset_days(&seed_of(x), -10, 10)
            );
            let wide = offset_days(&seed_of(x), i64::MIN, i64::MAX);
            assert_ne!(wide, 0);
        }
        assert_eq!(offset_days(&seed_of(0), i64::MIN, i64::MAX), i64::MIN);
        assert_eq!(
            offset_days(&seed_of(u64::MAX), i64::MIN, i64::MAX),
            i64::MAX
        );
    }

    #[test]
    fn offsets_cover_the_range_evenly() {
        // x = k * 2^64 / n lands exactly on the k-th candidate.
        let candidates: Vec<i64> = (-3..=3).filter(|&d| d != 0).collect();
        let n = candidates.len() as u128;
        for (k, expected) in candidates.iter().enumerate() {
            let x = ((k as u128) << 64).div_ceil(n) as u64;
            assert_eq!(offset_days(&seed_of(x), -3, 3), *expected);
        }
    }

    #[test]
    fn shifting_a_subject_keeps_intervals() {
        let subjects = [[1u8; 32], [2; 32], [0x5c; 32], [0xff; 32], seed_of(12_345)];
        let pairs = [
            ("2021-03-14", "2021-05-02"),
            ("3/14/2021", "12/31/2021"),
            ("March 14, 2021", "14 Feb 2024"),
            ("20191231", "2020-02-29T10:00:00Z"),
            ("1/1/99", "3/1/00"),
        ];
        let days = |value: &str| Template::parse(value).map(|t| t.date);
        let mut offsets = Vec::new();
        for seed in &subjects {
            let offset = offset_days(seed, -365, 365);
            assert!((-365..=365).contains(&offset) && offset != 0);
            offsets.push(offset);
            for (a, b) in pairs {
                let original = days(b).zip(days(a)).map(|(b, a)| b - a);
                let shifted = shift(a, offset).zip(shift(b, offset));
                let shifted = shifted.and_then(|(a, b)| days(&b).zip(days(&a)).map(|(b, a)| b - a));
                assert!(original.is_some());
                assert_eq!(shifted, original, "{a} .. {b} by {offset}");
            }
        }
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(offsets.len(), subjects.len(), "{offsets:?}");
    }
}
