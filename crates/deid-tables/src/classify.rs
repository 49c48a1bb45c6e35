//! The column classifier: which columns of a table hold identifiers, and of which type.
//!
//! Four kinds of evidence are weighed, because none is enough alone:
//!
//! - **the header** — a vocabulary of the names, abbreviations and synonyms extracts use
//!   (`ssn`, `soc_sec`, `dob`, `birth_dt`, `pat_nm`, `zip5`, `email_addr`…), matched on the
//!   whole name and on its last word (`provider_npi` is an NPI, `ordering_provider` a name);
//! - **the values** — every detector of the rule pack runs over a deterministic sample, and
//!   the share of values that one finding covers (validators included: a Luhn-valid card,
//!   a checksummed NPI) says what the column holds even when the header is `col_7`;
//! - **value statistics** — distinct ratio, length and character profile: long multi-word
//!   values with findings inside are free text; unique opaque codes with no known format
//!   are reported as a likely `OTHER_ID` rather than passed silently;
//! - **the table's name** — what a row stands for ([`crate::subject`]) settles the table's
//!   own key and name columns (`Id` of `patients` is an MRN, of `organizations` no one's).
//!
//! Values win over the header when they are clear; the header refines them where formats
//! coincide (a phone-shaped column headed `fax` is FAX) and decides where values have no
//! format of their own (MRNs, account numbers).

use std::collections::HashSet;
use std::fmt;

use deid_core::{EntityType, Finding, Matcher, Scratch};

use crate::subject::TableSubject;
use crate::table::{ColumnInfo, ColumnKind, ColumnSample};

/// Values sampled per column.
pub const SAMPLE_SIZE: usize = 200;
/// The share of sampled values one type must cover whole for the values alone to decide.
const VALUE_DECIDES: f64 = 0.6;
/// The share that lets the header's type stand when the values lean elsewhere.
const VALUE_SUPPORTS: f64 = 0.15;
/// A finding covering this share of a value's non-space bytes covers the value whole.
const WHOLE_VALUE: f64 = 0.6;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// Every value is an identifier of this type.
    Entity(EntityType),
    /// Mixed text with identifiers inside: scanned cell by cell.
    FreeText,
    /// No identifiers.
    None,
}

impl Label {
    /// Parses `NAME`, `FREE_TEXT` or `none`/`null`.
    pub fn parse(text: &str) -> Option<Label> {
        match text {
            "FREE_TEXT" | "free_text" => Some(Label::FreeText),
            "none" | "null" | "NONE" => Some(Label::None),
            _ => text.parse().ok().map(Label::Entity),
        }
    }

    /// The contract's spelling: the type, `FREE_TEXT`, or `None` for JSON `null`.
    pub fn as_contract(self) -> Option<&'static str> {
        match self {
            Label::Entity(entity) => Some(entity.as_str()),
            Label::FreeText => Some("FREE_TEXT"),
            Label::None => None,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_contract().unwrap_or("-"))
    }
}

/// The classifier's verdict on one column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnClass {
    /// The column's name.
    pub column: String,
    /// What it holds.
    pub label: Label,
    /// How sure, from 0 to 1.
    pub confidence: f32,
    /// Why, in a few words per piece of evidence (never a value).
    pub evidence: Vec<String>,
    /// Values looked at.
    pub sampled: usize,
}

/// What the header alone suggests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeaderHint {
    Label(Label),
    /// Names of things that are never identifiers (`password`, `firmware`, `icd10`): they
    /// silence the unique-code heuristic.
    NotAnIdentifier,
}

/// Header vocabulary: normalised names (lower case, no separators) and what they mean.
/// The whole name is looked up first, then its last word.
#[rustfmt::skip]
const VOCABULARY: &[(&str, HeaderHint)] = {
    use EntityType::*;
    use HeaderHint::{Label as L, NotAnIdentifier as Not};
    const fn e(entity: EntityType) -> HeaderHint {
        HeaderHint::Label(Label::Entity(entity))
    }
    const TEXT: HeaderHint = L(Label::FreeText);
    &[
        // Names of people.
        ("name", e(Name)), ("nm", e(Name)), ("fullname", e(Name)), ("patientname", e(Name)),
        ("patnm", e(Name)), ("ptname", e(Name)), ("first", e(Name)), ("firstname", e(Name)),
        ("fname", e(Name)), ("given", e(Name)), ("givenname", e(Name)), ("last", e(Name)),
        ("lastname", e(Name)), ("lname", e(Name)), ("surname", e(Name)),
        ("familyname", e(Name)), ("middle", e(Name)), ("middlename", e(Name)),
        ("middleinitial", e(Name)), ("maiden", e(Name)), ("maidenname", e(Name)),
        ("mothersmaiden", e(Name)), ("attending", e(Name)), ("physician", e(Name)),
        ("doctor", e(Name)), ("provider", e(Name)), ("orderingprovider", e(Name)),
        ("nurse", e(Name)), ("author", e(Name)), ("signedby", e(Name)), ("guarantor", e(Name)),
        ("nextofkin", e(Name)), ("spouse", e(Name)), ("emergencycontact", e(Name)),
        ("ownername", e(Name)), ("contactname", e(Name)), ("username", e(OtherId)),
        // Places.
        ("address", e(StreetAddress)), ("addr", e(StreetAddress)),
        ("street", e(StreetAddress)), ("streetaddress", e(StreetAddress)),
        ("address1", e(StreetAddress)), ("address2", e(StreetAddress)),
        ("addressline", e(StreetAddress)), ("city", e(City)), ("town", e(City)),
        ("county", e(County)), ("fips", e(County)), ("zip", e(Zip)), ("zip5", e(Zip)),
        ("zipcode", e(Zip)), ("postal", e(Zip)), ("postcode", e(Zip)), ("postalcode", e(Zip)),
        ("lat", e(GeoCoordinate)), ("latitude", e(GeoCoordinate)), ("lon", e(GeoCoordinate)),
        ("lng", e(GeoCoordinate)), ("longitude", e(GeoCoordinate)), ("geo", e(GeoCoordinate)),
        ("coordinates", e(GeoCoordinate)), ("latlon", e(GeoCoordinate)),
        ("facility", e(Facility)), ("hospital", e(Facility)), ("clinic", e(Facility)),
        // Dates.
        ("dob", e(Date)), ("birth", e(Date)), ("birthdate", e(Date)), ("birthday", e(Date)),
        ("birthdt", e(Date)), ("dateofbirth", e(Date)), ("date", e(Date)), ("dt", e(Date)),
        ("deathdate", e(Date)), ("dod", e(Date)), ("admit", e(Date)), ("discharge", e(Date)),
        ("admitted", e(Date)), ("discharged", e(Date)), ("collected", e(Date)),
        ("timestamp", e(Date)), ("ts", e(Date)), ("datetime", e(Date)),
        // Contact.
        ("phone", e(Phone)), ("ph", e(Phone)), ("tel", e(Phone)), ("telephone", e(Phone)),
        ("telephonenumber", e(Phone)), ("mobile", e(Phone)), ("cell", e(Phone)),
        ("phonenumber", e(Phone)), ("fax", e(Fax)), ("faxnumber", e(Fax)), ("email", e(Email)),
        ("emailaddr", e(Email)), ("emailaddress", e(Email)), ("mail", e(Email)),
        ("url", e(Url)), ("uri", e(Url)), ("link", e(Url)), ("website", e(Url)),
        ("homepage", e(Url)), ("domain", e(Url)), ("ip", e(IpAddress)),
        ("ipaddress", e(IpAddress)), ("ipaddr", e(IpAddress)), ("mac", e(MacAddress)),
        ("macaddress", e(MacAddress)),
        // Numbers.
        ("ssn", e(Ssn)), ("socsec", e(Ssn)), ("socialsecurity", e(Ssn)),
        ("socialsecuritynumber", e(Ssn)), ("ssno", e(Ssn)), ("mrn", e(Mrn)),
        ("medicalrecord", e(Mrn)), ("medicalrecordnumber", e(Mrn)), ("patientid", e(Mrn)),
        ("patientref", e(Mrn)), ("patientmrn", e(Mrn)), ("pid", e(Mrn)), ("patient", e(Mrn)),
        ("ptid", e(Mrn)), ("chartno", e(Mrn)), ("memberid", e(HealthPlanId)),
        ("member", e(HealthPlanId)), ("subscriberid", e(HealthPlanId)),
        ("policy", e(HealthPlanId)), ("policyno", e(HealthPlanId)),
        ("healthplan", e(HealthPlanId)), ("beneficiary", e(HealthPlanId)),
        ("mbi", e(HealthPlanId)), ("account", e(AccountNumber)),
        ("accountno", e(AccountNumber)), ("accountnumber", e(AccountNumber)),
        ("acct", e(AccountNumber)), ("acctno", e(AccountNumber)), ("npi", e(LicenseNumber)),
        ("providernpi", e(LicenseNumber)), ("dea", e(LicenseNumber)),
        ("license", e(LicenseNumber)), ("licence", e(LicenseNumber)),
        ("licenseno", e(LicenseNumber)), ("drivers", e(LicenseNumber)),
        ("driverslicense", e(LicenseNumber)), ("dl", e(LicenseNumber)), ("vin", e(VehicleId)),
        ("plate", e(VehicleId)), ("licenseplate", e(VehicleId)), ("serial", e(DeviceId)),
        ("serialno", e(DeviceId)), ("deviceserial", e(DeviceId)), ("udi", e(DeviceId)),
        ("imei", e(DeviceId)), ("deviceid", e(DeviceId)), ("card", e(CreditCard)),
        ("cc", e(CreditCard)), ("ccnumber", e(CreditCard)), ("cardnumber", e(CreditCard)),
        ("creditcard", e(CreditCard)), ("cardonfile", e(CreditCard)), ("iban", e(Iban)),
        ("fingerprint", e(BiometricId)), ("biometric", e(BiometricId)),
        ("passport", e(OtherId)), ("guid", e(OtherId)), ("uuid", e(OtherId)),
        ("accession", e(OtherId)), ("encounter", e(OtherId)), ("encounterid", e(OtherId)),
        ("claimid", e(OtherId)), ("login", e(OtherId)), ("userid", e(OtherId)),
        ("nationalid", e(OtherId)), ("nationalidentifier", e(OtherId)),
        ("personalid", e(OtherId)), ("idnumber", e(OtherId)),
        // Free text.
        ("note", TEXT), ("notes", TEXT), ("comment", TEXT), ("comments", TEXT),
        ("narrative", TEXT), ("remarks", TEXT), ("freetext", TEXT), ("message", TEXT),
        ("text", TEXT), ("body", TEXT), ("birthplace", TEXT), ("placeofbirth", TEXT),
        // Never identifiers.
        ("password", Not), ("pwd", Not), ("hash", Not), ("checksum", Not), ("version", Not),
        ("firmware", Not), ("model", Not), ("status", Not), ("icd10", Not), ("icd", Not),
        ("cpt", Not), ("loinc", Not), ("code", Not), ("mtcn", Not), ("organization", Not),
        ("org", Not), ("payer", Not), ("useragent", Not), ("method", Not), ("bytes", Not),
        // Parcels, not people; and the expiry of a card or document is not a date of the
        // person's life or care (Safe Harbor's dates are).
        ("ups", Not), ("tracking", Not), ("trackingnumber", Not), ("expires", Not),
        ("expiry", Not), ("expiration", Not), ("expirationdate", Not), ("expirydate", Not),
    ]
};

/// Classifies one column of a table that lists `subject` from its header, declared kind and
/// sample. `scratch` is `matcher`'s: pass a warm one, its automaton states are reused.
pub fn classify(
    matcher: &Matcher,
    scratch: &mut Scratch,
    column: &ColumnInfo,
    subject: TableSubject,
    sample: &ColumnSample,
) -> ColumnClass {
    let header = header_words(&column.name);
    let (hint, strong) = header_hint(&header).unzip();
    let mut strong = strong.unwrap_or(false);
    let mut evidence = Vec::new();
    let profile = Profile::of(matcher, scratch, &sample.values);
    let hint = match subject_hint(subject, &header, &profile) {
        Some((subject_hint, why)) => {
            evidence.push(why.to_owned());
            strong = true;
            Some(subject_hint)
        }
        None => hint,
    };
    if let Some(HeaderHint::Label(label)) = hint {
        evidence.push(format!("header suggests {label}"));
    }
    let (label, confidence) = decide(column.kind, hint, strong, &profile, &mut evidence);
    ColumnClass {
        column: column.name.clone(),
        label,
        confidence,
        evidence,
        sampled: sample.values.len(),
    }
}

/// What the table's subject says of a column holding the table's own key or name, with
/// why; `None` for other columns, which keep their header's meaning. A patients table's
/// key counts as their record number only when its values could be one: row numbers
/// (`1`, `2`, `3`) number rows, not people.
fn subject_hint(
    subject: TableSubject,
    header: &[String],
    profile: &Profile,
) -> Option<(HeaderHint, &'static str)> {
    let not = HeaderHint::NotAnIdentifier;
    if subject.is_own_key(header) {
        return match subject {
            TableSubject::Patients if !profile.is_record_number() => None,
            TableSubject::Patients => Some((
                HeaderHint::Label(Label::Entity(EntityType::Mrn)),
                "the key of a table of patients is their record number",
            )),
            TableSubject::Clinicians => Some((not, "the key of a table of clinicians")),
            TableSubject::Organizations => Some((not, "the key of a table of organisations")),
            TableSubject::Other => None,
        };
    }
    (subject == TableSubject::Organizations && subject.is_own_name(header))
        .then_some((not, "the name of an organisation, not of a person"))
}

fn decide(
    kind: ColumnKind,
    hint: Option<HeaderHint>,
    strong: bool,
    profile: &Profile,
    evidence: &mut Vec<String>,
) -> (Label, f32) {
    let header = match hint {
        Some(HeaderHint::Label(label)) => Some(label),
        _ => None,
    };
    if matches!(kind, ColumnKind::Date | ColumnKind::Timestamp) {
        evidence.push(format!("declared type {kind}"));
        return (Label::Entity(EntityType::Date), 0.95);
    }
    if profile.values == 0 {
        evidence.push("no values to sample".to_owned());
        return match header {
            Some(label) => (label, 0.5),
            None => (Label::None, 0.5),
        };
    }
    if !kind.may_hold_identifiers() {
        // Floats carry coordinates at most; booleans nothing.
        return match header {
            Some(label @ Label::Entity(EntityType::GeoCoordinate)) if kind == ColumnKind::Float => {
                (label, 0.8)
            }
            _ => {
                evidence.push(format!("declared type {kind}"));
                (Label::None, 0.9)
            }
        };
    }
    let best = profile.best_whole();
    if let Some((entity, share)) = best {
        evidence.push(format!(
            "{:.0}% of {} values are {entity}",
            share * 100.0,
            profile.values
        ));
    }
    // The header refines what the values say where formats coincide.
    if let Some(Label::Entity(named)) = header
        && profile.whole_share(named) >= VALUE_SUPPORTS
        && profile.fits(named, strong)
    {
        let share = profile.whole_share(named);
        return (Label::Entity(named), (0.75 + share * 0.25) as f32);
    }
    let not_an_identifier = hint == Some(HeaderHint::NotAnIdentifier);
    if let Some((entity, share)) = best
        && share >= VALUE_DECIDES
    {
        // Date-shaped values under such a header (`version 1/2020`, `expires 3/2027`) are
        // not dates of a person.
        if !(not_an_identifier && entity == EntityType::Date) {
            return (Label::Entity(entity), (0.6 + share * 0.4).min(0.99) as f32);
        }
        evidence.push("the header names no date of a person".to_owned());
        return (Label::None, 0.7);
    }
    let text_like = profile.mean_words >= 4.0 && profile.mean_len >= 25.0;
    if header == Some(Label::FreeText)
        || (text_like && profile.any_share >= 0.1 && !not_an_identifier)
    {
        evidence.push(format!(
            "text: {:.1} words per value, findings in {:.0}%",
            profile.mean_words,
            profile.any_share * 100.0
        ));
        return (Label::FreeText, if text_like { 0.9 } else { 0.7 });
    }
    if let Some(Label::Entity(named)) = header
        && profile.fits(named, strong)
    {
        return (Label::Entity(named), if strong { 0.75 } else { 0.65 });
    }
    if profile.any_share >= 0.3 && !not_an_identifier {
        evidence.push(format!(
            "findings inside {:.0}% of values",
            profile.any_share * 100.0
        ));
        return (Label::FreeText, 0.6);
    }
    if !not_an_identifier && profile.is_opaque_code() {
        evidence.push(format!(
            "unique opaque codes ({:.0}% distinct): likely a quasi-identifier",
            profile.distinct_ratio * 100.0
        ));
        return (Label::Entity(EntityType::OtherId), 0.55);
    }
    (Label::None, 0.8)
}

/// Whether values of two types can look the same, so that only the header tells them apart.
fn same_format(a: EntityType, b: EntityType) -> bool {
    use EntityType::*;
    let family = |e| match e {
        Phone | Fax => 1,
        Mrn | HealthPlanId | AccountNumber | LicenseNumber | OtherId | DeviceId | VehicleId
        | BiometricId => 2,
        // Place and facility names are often also people's names (Jackson, Marion).
        Name | City | County | Facility => 3,
        _ => 0,
    };
    a == b || (family(a) != 0 && family(a) == family(b))
}

/// Splits a header into lower-case words at separators, case changes and letter/digit
/// changes: `birth_dt` → birth, dt; `PatNm` → pat, nm; `zip5` → zip, 5; `CCExpires` → cc,
/// expires (an acronym ends before the capital that starts the next word).
pub(crate) fn header_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        let next_lower = chars.peek().is_some_and(|n| n.is_lowercase());
        let boundary = previous.is_some_and(|p| {
            (p.is_lowercase() && c.is_uppercase())
                || (p.is_uppercase() && c.is_uppercase() && next_lower)
                || (p.is_alphabetic() != c.is_alphabetic())
        });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn lookup(key: &str) -> Option<HeaderHint> {
    VOCABULARY
        .iter()
        .find(|(word, _)| *word == key)
        .map(|(_, hint)| *hint)
}

/// What a header (split into words) suggests, and whether the whole header said it
/// (`maiden`, `owner_name`) or only its last word (`test_name`, which names no person).
fn header_hint(words: &[String]) -> Option<(HeaderHint, bool)> {
    let joined: String = words.concat();
    // Trailing digits (`address2`, `zip5`) rarely change the meaning.
    let without_number: String = words
        .iter()
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .map(String::as_str)
        .collect();
    if let Some(hint) = lookup(&joined).or_else(|| lookup(&without_number)) {
        return Some((hint, true));
    }
    // `no`, `num`, `id` add nothing to the word before them: `account_no`.
    let generic = ["no", "num", "number", "nbr", "id", "code", "cd"];
    words
        .last()
        .and_then(|w| lookup(w))
        .or_else(|| {
            words
                .iter()
                .map(String::as_str)
                .rfind(|w| !generic.contains(w))
                .and_then(lookup)
        })
        .map(|hint| (hint, false))
}

/// Statistics of a column's sample.
#[derive(Debug, Default)]
struct Profile {
    values: usize,
    /// Per type, values covered whole by one finding of that type.
    whole: Vec<(EntityType, usize)>,
    /// Share of values with any finding.
    any_share: f64,
    distinct_ratio: f64,
    mean_len: f64,
    mean_words: f64,
    /// Share of values that mix letters and digits without spaces.
    code_like: f64,
    /// Share of values whose non-space characters are at least half letters.
    letters: f64,
    /// Share of values with at least one digit.
    digits: f64,
    /// Share of values that are dotted numbers (versions, decimals).
    dotted_numbers: f64,
    /// Share of values in scientific notation (`5.54563E+15`): a spreadsheet rounded a
    /// long number, so its digits no longer hold the identifier.
    scientific: f64,
}

impl Profile {
    fn of(matcher: &Matcher, scratch: &mut Scratch, values: &[String]) -> Profile {
        let mut profile = Profile {
            values: values.len(),
            ..Profile::default()
        };
        if values.is_empty() {
            return profile;
        }
        let n = values.len() as f64;
        let mut findings: Vec<Finding> = Vec::new();
        let mut any = 0;
        let mut distinct = HashSet::new();
        let (mut len, mut words) = (0usize, 0usize);
        let (mut code_like, mut letters, mut digits, mut dotted) = (0, 0, 0, 0);
        let mut scientific = 0;
        for value in values {
            distinct.insert(value.as_str());
            len += value.len();
            words += value.split_whitespace().count();
            let has_digit = value.bytes().any(|b| b.is_ascii_digit());
            let has_letter = value.chars().any(char::is_alphabetic);
            let has_space = value.contains(char::is_whitespace);
            code_like += usize::from(has_digit && has_letter && !has_space);
            digits += usize::from(has_digit);
            let non_space = value.chars().filter(|c| !c.is_whitespace()).count().max(1);
            let alphabetic = value.chars().filter(|c| c.is_alphabetic()).count();
            letters += usize::from(alphabetic * 2 >= non_space);
            dotted += usize::from(
                value.contains('.')
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'),
            );
            scientific += usize::from(is_scientific(value));
            findings.clear();
            matcher.scan_into(value.as_bytes(), scratch, &mut findings);
            if !findings.is_empty() {
                any += 1;
            }
            let non_space_bytes = value.bytes().filter(|b| !b.is_ascii_whitespace()).count();
            let mut seen: Vec<EntityType> = Vec::new();
            for finding in &findings {
                let covered = value.as_bytes()[finding.range()]
                    .iter()
                    .filter(|b| !b.is_ascii_whitespace())
                    .count();
                if covered as f64 >= non_space_bytes as f64 * WHOLE_VALUE
                    && !seen.contains(&finding.entity)
                {
                    seen.push(finding.entity);
                    match profile.whole.iter_mut().find(|(e, _)| *e == finding.entity) {
                        Some((_, count)) => *count += 1,
                        None => profile.whole.push((finding.entity, 1)),
                    }
                }
            }
        }
        profile.any_share = any as f64 / n;
        profile.distinct_ratio = distinct.len() as f64 / n;
        profile.mean_len = len as f64 / n;
        profile.mean_words = words as f64 / n;
        profile.code_like = code_like as f64 / n;
        profile.letters = letters as f64 / n;
        profile.digits = digits as f64 / n;
        profile.dotted_numbers = dotted as f64 / n;
        profile.scientific = scientific as f64 / n;
        profile
    }

    /// The share of values covered whole by `entity` or a type of the same format (a fax
    /// number is phone-shaped; an MRN may look like any other record number).
    fn whole_share(&self, entity: EntityType) -> f64 {
        self.whole
            .iter()
            .filter(|(e, _)| same_format(*e, entity))
            .map(|(_, count)| *count)
            .max()
            .map_or(0.0, |count| count as f64 / self.values.max(1) as f64)
    }

    /// The type that covers the most values whole, and its share (ties go to the type
    /// listed first in the taxonomy, for determinism).
    fn best_whole(&self) -> Option<(EntityType, f64)> {
        self.whole
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|&(entity, count)| (entity, count as f64 / self.values.max(1) as f64))
    }

    /// Whether the values have the shape of `entity` at all: names and places are words,
    /// numbers have digits. Unless the whole header says so, a column of names must show
    /// some names the dictionaries know (`test_name` holds no person's name).
    fn fits(&self, entity: EntityType, strong_header: bool) -> bool {
        use EntityType::*;
        match entity {
            Name => self.letters >= 0.6 && (strong_header || self.whole_share(Name) >= 0.05),
            // County FIPS codes are five digits.
            County => self.letters >= 0.6 || self.digits >= 0.9,
            City | Facility => self.letters >= 0.6,
            Ssn | Phone | Fax | Zip | Date | IpAddress | GeoCoordinate | CreditCard | AgeOver89 => {
                self.digits >= 0.6 && self.scientific < 0.5
            }
            _ => true,
        }
    }

    /// Unique single-word values at least five characters long: what a record number
    /// looks like, whatever its alphabet.
    fn is_record_number(&self) -> bool {
        self.values >= 1
            && self.distinct_ratio >= 0.9
            && self.mean_len >= 5.0
            && self.mean_words <= 1.0
    }

    /// Unique codes of letters and digits without spaces, with no known format (numbers,
    /// dotted or in scientific notation, are not codes).
    fn is_opaque_code(&self) -> bool {
        self.values >= 5
            && self.distinct_ratio >= 0.9
            && self.code_like >= 0.8
            && self.dotted_numbers < 0.5
            && self.scientific < 0.5
            && (6.0..=64.0).contains(&self.mean_len)
    }
}

/// `5.54563E+15`, `-1.2e-3`: a mantissa with a decimal point, then an exponent.
fn is_scientific(value: &str) -> bool {
    let Some((mantissa, exponent)) = value.trim().split_once(['e', 'E']) else {
        return false;
    };
    let mantissa = mantissa.strip_prefix('-').unwrap_or(mantissa);
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    matches!(mantissa.split_once('.'), Some((whole, fraction)) if number(whole) && number(fraction))
        && number(exponent)
}

#[cfg(test)]
mod tests {
    use deid_core::RuleSetBuilder;

    use super::*;

    fn matcher() -> Matcher {
        Matcher::new(RuleSetBuilder::new().bundled().build().expect("pack")).expect("matcher")
    }

    fn class(matcher: &Matcher, name: &str, kind: ColumnKind, values: &[&str]) -> ColumnClass {
        class_in(matcher, TableSubject::Other, name, kind, values)
    }

    fn class_in(
        matcher: &Matcher,
        subject: TableSubject,
        name: &str,
        kind: ColumnKind,
        values: &[&str],
    ) -> ColumnClass {
        let column = ColumnInfo {
            name: name.to_owned(),
            kind,
        };
        let sample = ColumnSample {
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            rows_seen: values.len() as u64,
            empty: 0,
        };
        classify(matcher, &mut matcher.scratch(), &column, subject, &sample)
    }

    #[test]
    fn splits_headers_into_words() {
        assert_eq!(header_words("birth_dt"), ["birth", "dt"]);
        assert_eq!(header_words("PatNm"), ["pat", "nm"]);
        assert_eq!(header_words("zip5"), ["zip", "5"]);
        assert_eq!(header_words("EMAIL-Addr"), ["email", "addr"]);
        assert_eq!(header_words("CCExpires"), ["cc", "expires"]);
    }

    #[test]
    fn reads_header_vocabulary() {
        let hint = |name| match header_hint(&header_words(name)) {
            Some((HeaderHint::Label(label), _)) => label.to_string(),
            Some((HeaderHint::NotAnIdentifier, _)) => "not".to_owned(),
            None => "?".to_owned(),
        };
        assert_eq!(hint("soc_sec"), "SSN");
        assert_eq!(hint("provider_npi"), "LICENSE_NUMBER");
        assert_eq!(hint("ordering_provider"), "NAME");
        assert_eq!(hint("account_no"), "ACCOUNT_NUMBER");
        assert_eq!(hint("pat_nm"), "NAME");
        assert_eq!(hint("zip5"), "ZIP");
        assert_eq!(hint("EmailAddress"), "EMAIL");
        assert_eq!(hint("Password"), "not");
        assert_eq!(hint("lab_value"), "?");
    }

    #[test]
    fn values_decide_when_the_header_says_nothing() {
        let m = matcher();
        let ssns = [
            "536-90-4399",
            "219-09-9999",
            "078-05-1120",
            "123-45-6789",
            "457-55-5462",
        ];
        assert_eq!(
            class(&m, "col_7", ColumnKind::Text, &ssns).label,
            Label::Entity(EntityType::Ssn)
        );
        let emails = ["a.b@example.com", "x@y.org", "jo@clinic.example.net"];
        assert_eq!(
            class(&m, "field_b", ColumnKind::Text, &emails).label,
            Label::Entity(EntityType::Email)
        );
    }

    #[test]
    fn the_header_refines_a_shared_format() {
        let m = matcher();
        let phones = ["312-555-0142", "(617) 555-0199", "415-555-0123"];
        assert_eq!(
            class(&m, "fax", ColumnKind::Text, &phones).label,
            Label::Entity(EntityType::Fax)
        );
    }

    #[test]
    fn header_decides_formatless_identifiers_but_not_against_the_shape() {
        let m = matcher();
        let mrns = ["E061789579", "1824206962", "E099912345"];
        assert_eq!(
            class(&m, "mrn", ColumnKind::Text, &mrns).label,
            Label::Entity(EntityType::Mrn)
        );
        let uuids = [
            "982192b6-6843-4011-ef46-32caaf87d8a9",
            "1a2b3c4d-0000-4011-8f46-32caaf87d8a9",
        ];
        assert_ne!(
            class(&m, "PROVIDER", ColumnKind::Text, &uuids).label,
            Label::Entity(EntityType::Name)
        );
    }

    #[test]
    fn free_text_and_codes() {
        let m = matcher();
        let notes = [
            "Patient seen by Dr. Alvarez on 03/14/2021 for follow up of hypertension.",
            "Spoke with daughter Maria Lopez at 312-555-0142 about the plan of care today.",
            "Wound healing well, no signs of infection, continue dressing changes twice weekly.",
        ];
        assert_eq!(
            class(&m, "col_3", ColumnKind::Text, &notes).label,
            Label::FreeText
        );
        let codes: Vec<String> = (0..20)
            .map(|i| format!("CLM{:09}", 881420285 + i * 7919))
            .collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        let c = class(&m, "col_1", ColumnKind::Text, &codes);
        assert_eq!(c.label, Label::Entity(EntityType::OtherId), "{c:?}");
        let versions = ["1.1.54", "8.12.6", "8.17.12", "9.1.24", "2.0.1"];
        assert_eq!(
            class(&m, "col_2", ColumnKind::Text, &versions).label,
            Label::None
        );
    }

    #[test]
    fn the_tables_subject_settles_its_key_and_name() {
        let m = matcher();
        let keys: Vec<String> = (0..20)
            .map(|i| {
                format!(
                    "{:08x}-5d1e-4c2b-9f3a-{:012x}",
                    0x1b2c3d4e + i * 7919,
                    i * 31
                )
            })
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let label = |subject, header: &str, values: &[&str]| {
            class_in(&m, subject, header, ColumnKind::Text, values).label
        };
        let mrn = Label::Entity(EntityType::Mrn);
        assert_eq!(label(TableSubject::Patients, "Id", &keys), mrn);
        assert_eq!(label(TableSubject::Patients, "patient_id", &keys), mrn);
        assert_eq!(label(TableSubject::Organizations, "Id", &keys), Label::None);
        assert_eq!(label(TableSubject::Clinicians, "Id", &keys), Label::None);
        let rows = ["1", "2", "3", "4", "5", "6"];
        assert_eq!(label(TableSubject::Patients, "id", &rows), Label::None);
        // A key of anything else stays a likely quasi-identifier.
        let other = Label::Entity(EntityType::OtherId);
        assert_eq!(label(TableSubject::Other, "Id", &keys), other);

        let names = [
            "Mercy Hospital",
            "Saint Luke Clinic",
            "Lakeside Family Care",
            "Bryan Health",
        ];
        assert_eq!(
            label(TableSubject::Organizations, "NAME", &names),
            Label::None
        );
        // A person named in a table of organisations is still a name.
        let people = [
            "Maria Lopez",
            "John Smith",
            "Ana Silva",
            "Peter Novak",
            "Li Wei",
        ];
        let name = Label::Entity(EntityType::Name);
        assert_eq!(
            label(TableSubject::Organizations, "contact_name", &people),
            name
        );
        assert_eq!(label(TableSubject::Clinicians, "NAME", &people), name);
    }

    #[test]
    fn headers_that_name_no_person_overrule_value_shapes() {
        let m = matcher();
        let months = ["1/2020", "3/2022", "5/2020", "5/2023", "4/2024"];
        assert_eq!(
            class(&m, "CCExpires", ColumnKind::Text, &months).label,
            Label::None
        );
        assert_eq!(
            class(&m, "col_9", ColumnKind::Text, &months).label,
            Label::Entity(EntityType::Date)
        );
        let parcels = [
            "1Z 789 686 82 8979 914 6",
            "1Z V38 747 73 7311 832 9",
            "1Z 061 1E5 71 3400 427 4",
        ];
        assert_eq!(
            class(&m, "UPS", ColumnKind::Text, &parcels).label,
            Label::None
        );
    }

    #[test]
    fn spreadsheet_rounded_numbers_hold_no_card_number() {
        let m = matcher();
        let rounded = [
            "5.54563E+15",
            "4.91692E+15",
            "5.2877E+15",
            "4.71611E+15",
            "3.52814E+15",
            "6.01176E+15",
        ];
        assert_eq!(
            class(&m, "CCNumber", ColumnKind::Text, &rounded).label,
            Label::None
        );
        let cards = ["5545634085461876", "5317250628844522", "4916921703777575"];
        assert_eq!(
            class(&m, "CCNumber", ColumnKind::Text, &cards).label,
            Label::Entity(EntityType::CreditCard)
        );
        assert!(is_scientific("-1.2e-3") && !is_scientific("1e5") && !is_scientific("E+15"));
    }

    #[test]
    fn a_national_id_header_marks_identifiers_of_any_country() {
        let m = matcher();
        let ids = [
            "5706114632083",
            "WK48391724",
            "190641-4941",
            "2791269679323 49",
        ];
        assert_eq!(
            class(&m, "NationalID", ColumnKind::Text, &ids).label,
            Label::Entity(EntityType::OtherId)
        );
    }

    #[test]
    fn declared_types_count() {
        let m = matcher();
        assert_eq!(
            class(&m, "x", ColumnKind::Date, &["2021-03-14"]).label,
            Label::Entity(EntityType::Date)
        );
        assert_eq!(
            class(&m, "ssn", ColumnKind::Boolean, &["true"]).label,
            Label::None
        );
        assert_eq!(
            class(&m, "LAT", ColumnKind::Float, &["40.79", "41.2"]).label,
            Label::Entity(EntityType::GeoCoordinate)
        );
    }
}
