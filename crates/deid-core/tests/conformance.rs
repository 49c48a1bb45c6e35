//! Conformance tests of deid-core, one binary with a `mod` per area:
//!
//! - `agreement`: the fast path (`Matcher::candidates_into`: one pass of the end-finding
//!   DFA, then each pattern inside windows) reports exactly the candidates of the one-pattern-at-a-time
//!   reference (`reference_candidates_into`), on generated texts and on the dev corpus, for
//!   the bundled pack and a hand-written pack whose patterns overlap.
//! - `bundled`: the bundled pack proves itself (`check_rules`).
//! - `invariants`: `scan_into` output is sorted, non-overlapping, in bounds and, for valid
//!   UTF-8, on character boundaries.
//! - `packs`: layering (override and disable by id) and every load error names its pack and
//!   rule.
//! - `masking`: no `Debug` output carries scanned bytes.
//!
//! Tests depend on the bundled pack only for very stable facts (an SSN is found as `SSN`);
//! anything precise uses the small packs below.

use std::sync::OnceLock;

use deid_core::{Finding, MatchOptions, Matcher, RuleSet, RuleSetBuilder};

/// A small pack whose patterns overlap on purpose: SSN vs its tail vs digit runs, phones vs
/// dates vs digit runs, a short high-priority match inside longer bounded ones, bounded and
/// unbounded patterns, ASCII and Unicode classes, a pattern with a `value` group, ASCII
/// `\b`, `(?m:^)`/`(?m:$)`, `\A` (the text's start, never a window's), `\s` that crosses
/// line breaks, context that raises, requires and forbids, and a dictionary rule.
const OVERLAP_PACK: &str = r#"
[pack]
name = "overlap-test"
propagate = ["NAME"]

[[dictionary]]
id = "given"
words = ["Anna", "José", "Zoë", "O'Neil", "Smith", "Smith-Jones", "Mary Ann", "Maria", "Lopez", "Żukowski"]

[[dictionary]]
id = "stop"
words = ["May", "Parkinson"]

# A short match inside the longer matches of later rules that start at the same byte
# (each pattern's windows must still hold its own matches whole).
[[rule]]
id = "t.dashdigit"
type = "OTHER_ID"
patterns = ['''-[0-9]''']
confidence = 0.5
examples = [{ text = "a-1", match = "-1" }]

[[rule]]
id = "t.ssn"
type = "SSN"
patterns = ['''(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}(?-u:\b)''']
validators = ["ssn"]
confidence = 0.9
examples = [{ text = "x 536-90-4399 y", match = "536-90-4399" }]

[[rule]]
id = "t.tail"
type = "OTHER_ID"
patterns = ['''[0-9]{2}-[0-9]{4}''']
confidence = 0.6
examples = [{ text = "a 90-4399", match = "90-4399" }]

[[rule]]
id = "t.digits"
type = "ACCOUNT_NUMBER"
patterns = ['''[0-9]{4,}''', '''#[ ]?(?P<value>[0-9]+)''']
confidence = 0.55
examples = [{ text = "acct #12", match = "12" }]

[[rule]]
id = "t.phone"
type = "PHONE"
patterns = ['''\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-][0-9]{4}''']
validators = ["phone-nanp"]
confidence = 0.85
examples = [{ text = "call (312) 555-0142", match = "(312) 555-0142" }]

[[rule]]
id = "t.date"
type = "DATE"
patterns = ['''[0-9]{1,4}[/.-][0-9]{1,2}[/.-][0-9]{1,4}''']
validators = ["date"]
confidence = 0.8
examples = [{ text = "on 2016-04-23", match = "2016-04-23" }]

[[rule]]
id = "t.email"
type = "EMAIL"
patterns = ['''[\w.+-]+@[\w-]+(?:\.[\w-]+)+''']
confidence = 0.95
examples = [{ text = "mail zoë@example.org", match = "zoë@example.org" }]

[[rule]]
id = "t.titled"
type = "NAME"
patterns = ['''(?-u:\b)(?:Dr|Mr|Ms|Mrs)\.?\s+(?P<value>\p{Lu}[\p{L}\p{M}'’-]*\p{L})''']
confidence = 0.85
examples = [{ text = "Dr. Żukowski", match = "Żukowski" }]

[[rule]]
id = "t.capword"
type = "NAME"
patterns = ['''\p{Lu}\p{Ll}+''']
confidence = 0.4
context = [{ words = ["patient", "name"], effect = "raise", amount = 0.3, window = 20, side = "before" }]
examples = [{ text = "patient Ngọc", match = "Ngọc" }]

[[rule]]
id = "t.mrn"
type = "MRN"
patterns = ['''[0-9]{6,8}''']
confidence = 0.7
context = [{ words = ["mrn", "record no"], effect = "require", window = 30 }]
examples = [{ text = "MRN 815406", match = "815406" }]

[[rule]]
id = "t.zip"
type = "ZIP"
patterns = ['''(?-u:\b)[0-9]{5}(?-u:\b)''']
confidence = 0.6
context = [
  { words = ["mg", "ml"], effect = "forbid", window = 10, side = "after" },
  { words = ["zip"], effect = "raise", amount = 0.3, window = 15, side = "before" },
]
examples = [{ text = "zip 60601", match = "60601" }]

[[rule]]
id = "t.multiline"
type = "OTHER_ID"
patterns = ['''(?i)(?-u:\b)id[:\s]+[a-z0-9]+''']
confidence = 0.6
examples = [{ text = "ID:\nX12", match = "ID:\nX12" }]

[[rule]]
id = "t.chain"
type = "ACCOUNT_NUMBER"
patterns = [
  '''[0-9]{3}-[0-9]{2}-[0-9]{4}(?:-[0-9]{1,8})?''',
  '''(?m:^)[A-Z]{2}[0-9]{2,6}(?m:$)''',
  '''(?:ab|abcdef)[0-9]{0,3}?x''',
  '''\A[\x20>]*\p{Lu}\p{Ll}+(?:\x20\p{Lu}\p{Ll}+){1,2}[\x20\t]*\r?\n''',
]
confidence = 0.5
examples = [{ text = "x 536-90-4399-12", match = "536-90-4399-12" }]

[[rule]]
id = "t.accented"
type = "NAME"
patterns = ['''[ÀÉŻ]\p{Ll}{1,3}''', '''Dr\. \p{Lu}\p{Ll}{1,12}(?:-\p{Lu}\p{Ll}{1,12})?''']
confidence = 0.5
examples = [{ text = "Dr. Żukowski-Nowak", match = "Dr. Żukowski-Nowak" }]

[[rule]]
id = "t.words"
type = "NAME"
dictionaries = ["given"]
exclude = ["stop"]
case = "title-or-upper"
max_words = 2
join_bonus = 0.1
confidence = 0.6
examples = [{ text = "Maria Lopez came", match = "Maria Lopez" }]
"#;

/// Cases per property: 64 by default, to keep the suite fast; `PROPTEST_CASES=5000` for a
/// deep run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

fn bundled() -> RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES
        .get_or_init(|| {
            RuleSetBuilder::new()
                .bundled()
                .build()
                .expect("the bundled pack loads")
        })
        .clone()
}

fn overlap_pack() -> RuleSet {
    RuleSetBuilder::new()
        .toml("overlap-test.toml", OVERLAP_PACK)
        .build()
        .expect("the overlap pack loads")
}

/// The bundled pack and the overlap pack, compiled once for the whole binary: `bundled` at
/// the default minimum confidence, `bundled@0` and `overlap@0` at zero.
fn shared() -> &'static [(&'static str, Matcher)] {
    static MATCHERS: OnceLock<Vec<(&'static str, Matcher)>> = OnceLock::new();
    MATCHERS.get_or_init(|| {
        let zero = MatchOptions {
            min_confidence: 0.0,
        };
        vec![
            ("bundled", Matcher::new(bundled()).unwrap()),
            (
                "bundled@0",
                Matcher::with_options(bundled(), &zero).unwrap(),
            ),
            (
                "overlap@0",
                Matcher::with_options(overlap_pack(), &zero).unwrap(),
            ),
        ]
    })
}

/// The matchers the fast path is checked against the reference with. At a minimum
/// confidence of zero every confirmed candidate is kept; any other minimum drops the same
/// candidates from both paths (the same filter runs after either dispatch), so agreement at
/// zero implies agreement at every minimum.
fn agreement_matchers() -> impl Iterator<Item = &'static (&'static str, Matcher)> {
    shared().iter().filter(|(label, _)| label.ends_with("@0"))
}

/// The matchers whose scan output is checked: the bundled pack as users run it, and the
/// overlap pack at zero, where candidates overlap the most.
fn scan_matchers() -> impl Iterator<Item = &'static (&'static str, Matcher)> {
    shared().iter().filter(|(label, _)| *label != "bundled@0")
}

fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        (a.start, a.end, a.rule)
            .cmp(&(b.start, b.end, b.rule))
            .then(a.confidence.total_cmp(&b.confidence))
    });
    findings
}

/// The fast path's and the reference's candidates, both sorted by (start, end, rule).
fn both_candidates(matcher: &Matcher, text: &[u8]) -> (Vec<Finding>, Vec<Finding>) {
    let mut scratch = matcher.scratch();
    let (mut fast, mut reference) = (Vec::new(), Vec::new());
    matcher.candidates_into(text, &mut scratch, &mut fast);
    matcher.reference_candidates_into(text, &mut scratch, &mut reference);
    (sorted(fast), sorted(reference))
}

/// Describes a disagreement without dumping a possibly huge text.
fn disagreement(matcher: &Matcher, text: &[u8], fast: &[Finding], reference: &[Finding]) -> String {
    let show = |f: &Finding| {
        let value = String::from_utf8_lossy(&text[f.start..f.end]);
        format!(
            "{}..{} {} {:?}",
            f.start,
            f.end,
            matcher.rule(f.rule).id(),
            value
        )
    };
    let only_fast: Vec<String> = fast
        .iter()
        .filter(|f| !reference.contains(f))
        .map(show)
        .collect();
    let only_reference: Vec<String> = reference
        .iter()
        .filter(|f| !fast.contains(f))
        .map(show)
        .collect();
    format!(
        "text of {} bytes; only in the fast path: {only_fast:?}; only in the reference: {only_reference:?}",
        text.len()
    )
}

/// Text generators: identifier-like fragments glued with noise.
mod texts {
    use proptest::prelude::*;

    fn s(x: &str) -> Vec<u8> {
        x.as_bytes().to_vec()
    }

    fn identifier() -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            Just(s("536-90-4399")),
            "[0-9]{3}-[0-9]{2}-[0-9]{4}".prop_map(|x| s(&x)),
            Just(s("(312) 555-0142")),
            "\\(?[2-9][0-9]{2}\\)?[ .-]?[2-9][0-9]{2}[ .-][0-9]{4}".prop_map(|x| s(&x)),
            Just(s("+1 312 555 0142")),
            "[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}".prop_map(|x| s(&x)),
            "(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]".prop_map(|x| s(&x)),
            "[a-z]{1,6}(\\.[a-z]{1,4})?@[a-z]{2,6}\\.(com|org|net)".prop_map(|x| s(&x)),
            Just(s("zoë.o'neil@example.org")),
            "[0-9]{5}(-[0-9]{4})?".prop_map(|x| s(&x)),
            "#[0-9]{1,9}".prop_map(|x| s(&x)),
            prop::sample::select(vec![
                "-5",
                "536-90-4399-1234",
                "\nXY1234\n",
                "ab",
                "abx",
                "abcdef12x",
                "Éva",
                "Dr. Żukowski-Nowak"
            ])
            .prop_map(s),
        ]
        .boxed()
    }

    fn name() -> BoxedStrategy<Vec<u8>> {
        prop::sample::select(vec![
            "Dr. Angie Żukowski",
            "Dr Puharić",
            "Mrs O'Brien",
            "Ms O’Brien",
            "Mr. Smith-Jones",
            "Smith-Jones",
            "O'Neil",
            "José",
            "Zoë",
            "Ngọc",
            "Nguyễn",
            "Nguye\u{302}\u{303}n",
            "MARIA LOPEZ",
            "Maria Lopez",
            "Mary Ann Smith",
            "John Q. Smith",
            "Smith, John",
            "Anna",
            "Dr.",
            "Dr. smith",
            "May",
            "Parkinson",
            "Crohn's",
            "Żukowski",
        ])
        .prop_map(s)
        .boxed()
    }

    fn word() -> BoxedStrategy<Vec<u8>> {
        prop::sample::select(vec![
            "the",
            "patient",
            "Patient",
            "MRN",
            "mrn",
            "record no",
            "SSN",
            "ZIP",
            "zip",
            "mg",
            "mL",
            "ID",
            "id:",
            "call",
            "seen",
            "on",
            "at",
            "phone",
            "name:",
            "Record",
            "clinic",
            "Cleveland",
            "Patient:",
            "DOB:",
            "Attending:",
            "cc:",
            "March 21, 1940",
            "Mar. 27, 2020",
            "17 March 2020",
            "@ 9:57 am",
            "92 yo",
            "age 91",
            "Chicago, IL 60601",
            "Cook County",
            "123 Main St.",
            "P.O. Box 12",
            "Apt 4B",
            "Medicare",
            "Subscriber ID:",
            "Claim #",
            "NPI",
            "192.168.0.1",
            "https://example.org/p?id=1",
            "fax",
            "Fax:",
            "Ward",
            "Regional Medical Center",
        ])
        .prop_map(s)
        .boxed()
    }

    fn noise() -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            "[0-9]{1,12}".prop_map(|x| s(&x)),
            prop::sample::select(vec![
                ".", ",", ";", ":", "-", "/", "(", ")", "#", "'", "\"", "@", "+", "’", "—", "_"
            ])
            .prop_map(s),
            prop::sample::select(vec![" ", " ", "  ", "\t"]).prop_map(s),
            prop::sample::select(vec![
                "\n", "\n", "\r\n", "\n\n", "\n \n", "\n\t\n", "\r\n\r\n"
            ])
            .prop_map(s),
            prop::sample::select(vec![
                vec![0xFF],
                vec![0xC3],
                vec![0x80],
                vec![0xE2, 0x80],
                vec![0xF0, 0x9F, 0x98],
                vec![0xED, 0xA0, 0x80],
                vec![0xC0, 0xAF],
                vec![0x00],
            ]),
            "[a-zA-Zéß ]{1,20}".prop_map(|x| s(&x)),
        ]
        .boxed()
    }

    /// A long line: long enough, some of the time, to force a cut of an over-long segment
    /// ([`deid_core::MAX_SEGMENT`]), with or without spaces to cut at.
    fn long_line() -> BoxedStrategy<Vec<u8>> {
        (
            prop::sample::select(vec!["a", "ab ", "é", "536-90-4399 ", "Ab", "9"]),
            1_000usize..70_000,
        )
            .prop_map(|(unit, bytes)| {
                unit.as_bytes()
                    .iter()
                    .copied()
                    .cycle()
                    .take(bytes.div_ceil(unit.len()) * unit.len())
                    .collect()
            })
            .boxed()
    }

    fn fragment(valid_utf8: bool) -> BoxedStrategy<Vec<u8>> {
        let noise = if valid_utf8 {
            noise()
                .prop_filter("valid UTF-8", |b| std::str::from_utf8(b).is_ok())
                .boxed()
        } else {
            noise()
        };
        prop_oneof![
            6 => identifier(),
            4 => name(),
            4 => word(),
            10 => noise,
        ]
        .boxed()
    }

    /// A text of fragments; `valid_utf8` leaves out invalid byte sequences. One text in
    /// ten also holds a long line somewhere (the cut of over-long segments has its own
    /// deterministic test).
    pub fn text(valid_utf8: bool) -> impl Strategy<Value = Vec<u8>> {
        let parts = prop::collection::vec(fragment(valid_utf8), 0..40);
        let long = prop::option::weighted(0.1, (long_line(), any::<prop::sample::Index>()));
        (parts, long).prop_map(|(mut parts, long)| {
            if let Some((line, at)) = long {
                let at = at.index(parts.len() + 1);
                parts.insert(at, line);
            }
            parts.concat()
        })
    }
}

mod agreement {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        #[test]
        fn fast_path_equals_reference_on_generated_text(text in texts::text(false)) {
            for (label, matcher) in agreement_matchers() {
                let (fast, reference) = both_candidates(matcher, &text);
                prop_assert!(fast == reference, "{label}: {}", disagreement(matcher, &text, &fast, &reference));
            }
        }
    }

    #[test]
    fn fast_path_equals_reference_around_segment_cuts() {
        // Identifiers right at, across and after the cut of an over-long segment, with and
        // without a space or line break to cut at.
        let mut texts = Vec::new();
        for filler in [&b"ab "[..], b"x\n", "é".as_bytes()] {
            for shift in [0usize, 5, 11] {
                let mut text: Vec<u8> = filler
                    .iter()
                    .copied()
                    .cycle()
                    .take(deid_core::MAX_SEGMENT - shift)
                    .collect();
                text.extend_from_slice(
                    " 536-90-4399 (312) 555-0142 Dr. Żukowski 2016-04-23\n\nMRN 815406 ".as_bytes(),
                );
                text.extend(
                    filler
                        .iter()
                        .copied()
                        .cycle()
                        .take(deid_core::MAX_SEGMENT + 7),
                );
                text.extend_from_slice(b"Anna 536-90-4399");
                texts.push(text);
            }
        }
        for (label, matcher) in agreement_matchers() {
            for text in &texts {
                let (fast, reference) = both_candidates(matcher, text);
                assert!(
                    fast == reference,
                    "{label}: {}",
                    disagreement(matcher, text, &fast, &reference)
                );
            }
        }
    }

    #[test]
    fn text_start_anchors_hold_at_the_text_start_only() {
        // The overlap pack's `\A` pattern takes a name line that opens the text (its span
        // ends in the line break) and not the same line after a blank line, where a segment
        // and a window start.
        let text = b"Anna Smith\n\nAnna Smith\nMRN 815406";
        let opening = |findings: &[Finding], at: usize| {
            findings
                .iter()
                .any(|f| f.start == at && f.end == at + b"Anna Smith\n".len())
        };
        let (label, matcher) = shared()
            .iter()
            .find(|(label, _)| *label == "overlap@0")
            .expect("the overlap pack");
        let (fast, reference) = both_candidates(matcher, text);
        assert!(
            fast == reference,
            "{label}: {}",
            disagreement(matcher, text, &fast, &reference)
        );
        assert!(opening(&fast, 0), "{label}: no opening line at 0");
        assert!(
            !opening(&fast, 12),
            "{label}: an opening line after a blank line"
        );
    }

    #[test]
    fn fast_path_finds_something_in_the_fixed_texts() {
        // Guards the agreement tests against agreeing on nothing.
        let text =
            "Dr. Angie Żukowski, MRN 815406, SSN 536-90-4399, call (312) 555-0142 on 2016-04-23.";
        for (label, matcher) in agreement_matchers() {
            let (fast, _) = both_candidates(matcher, text.as_bytes());
            assert!(fast.len() >= 3, "{label}: only {} candidates", fast.len());
        }
    }

    #[test]
    fn fast_path_equals_reference_on_the_dev_corpus() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpora/dev/notes.jsonl");
        let Ok(corpus) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: no dev corpus at {}", path.display());
            return;
        };
        let mut documents = 0;
        let mut candidates = 0;
        // The first 300 documents by default; `DEID_CORPUS_DOCS=2000` for a deep run.
        let wanted: usize = std::env::var("DEID_CORPUS_DOCS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(300);
        for line in corpus.lines().filter(|l| !l.trim().is_empty()).take(wanted) {
            let record: serde_json::Value =
                serde_json::from_str(line).expect("the corpus is JSONL");
            let texts: Vec<&str> = record
                .as_object()
                .expect("records are objects")
                .iter()
                .filter(|(key, _)| key.as_str() != "id")
                .filter_map(|(_, value)| value.as_str())
                .collect();
            for text in texts {
                for (label, matcher) in agreement_matchers() {
                    let (fast, reference) = both_candidates(matcher, text.as_bytes());
                    let id = record.get("id").and_then(|v| v.as_str()).unwrap_or("?");
                    assert!(
                        fast == reference,
                        "{label}, document {id}: {}",
                        disagreement(matcher, text.as_bytes(), &fast, &reference)
                    );
                    candidates += fast.len();
                }
            }
            documents += 1;
        }
        assert!(
            documents >= wanted.min(300),
            "the dev corpus has at least 300 documents, found {documents}"
        );
        assert!(candidates > 0);
    }
}

mod bundled {
    use super::*;

    #[test]
    fn bundled_pack_passes_check_rules() {
        let rules = bundled();
        let report = deid_core::check_rules(&rules, &MatchOptions::default());
        let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(report.rules, rules.rules().len());
        assert!(report.examples >= report.rules, "every rule has an example");
    }

    #[test]
    fn bundled_pack_finds_an_ssn() {
        let (_, matcher) = &shared()[0];
        let text = b"Patient SSN 536-90-4399 on file.";
        let found = matcher.scan(text);
        assert!(
            found
                .iter()
                .any(|f| f.entity == deid_core::EntityType::Ssn && f.value(text) == b"536-90-4399"),
            "{found:?}"
        );
    }

    /// A run of name words that reaches into a street line takes no unlisted surname, so
    /// it stays below the street rule: `Plain, Ann` is no name here.
    #[test]
    fn bundled_pack_keeps_a_street_and_city_whose_words_are_names() {
        let (_, matcher) = &shared()[0];
        let text = b"Moved from 7835 Tammy Plain, Ann Arbor on 13-Feb-2022.";
        let found: Vec<(deid_core::EntityType, &[u8])> = matcher
            .scan(text)
            .iter()
            .map(|f| (f.entity, f.value(text)))
            .collect();
        use deid_core::EntityType::{City, Date, StreetAddress};
        let expected: [(deid_core::EntityType, &[u8]); 3] = [
            (StreetAddress, b"7835 Tammy Plain"),
            (City, b"Ann Arbor"),
            (Date, b"13-Feb-2022"),
        ];
        assert_eq!(found, expected);
    }

    #[test]
    fn the_overlap_pack_used_here_passes_check_rules_too() {
        let report = deid_core::check_rules(&overlap_pack(), &MatchOptions::default());
        let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

mod invariants {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &[u8], findings: &[Finding]) -> Result<(), String> {
        for f in findings {
            if !(f.start < f.end && f.end <= text.len()) {
                return Err(format!(
                    "finding {}..{} out of bounds (len {})",
                    f.start,
                    f.end,
                    text.len()
                ));
            }
            if !(0.0..=1.0).contains(&f.confidence) {
                return Err(format!("confidence {} outside 0..=1", f.confidence));
            }
        }
        for pair in findings.windows(2) {
            if pair[0].start > pair[1].start {
                return Err(format!(
                    "not sorted: {}..{} before {}..{}",
                    pair[0].start, pair[0].end, pair[1].start, pair[1].end
                ));
            }
            if pair[0].end > pair[1].start {
                return Err(format!(
                    "overlap: {}..{} and {}..{}",
                    pair[0].start, pair[0].end, pair[1].start, pair[1].end
                ));
            }
        }
        if let Ok(s) = std::str::from_utf8(text) {
            for f in findings {
                if !(s.is_char_boundary(f.start) && s.is_char_boundary(f.end)) {
                    return Err(format!("finding {}..{} splits a character", f.start, f.end));
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        #[test]
        fn scan_output_is_sorted_disjoint_and_on_char_boundaries(text in texts::text(true)) {
            prop_assert!(std::str::from_utf8(&text).is_ok());
            for (label, matcher) in scan_matchers() {
                let found = matcher.scan(&text);
                if let Err(message) = check(&text, &found) {
                    prop_assert!(false, "{label}: {message}");
                }
            }
        }

        #[test]
        fn scan_output_is_sorted_disjoint_and_in_bounds_on_any_bytes(text in texts::text(false)) {
            for (label, matcher) in scan_matchers() {
                let found = matcher.scan(&text);
                if let Err(message) = check(&text, &found) {
                    prop_assert!(false, "{label}: {message}");
                }
            }
        }
    }

    #[test]
    fn scratch_reuse_gives_the_same_findings() {
        let (_, matcher) = &shared()[0];
        let texts: [&[u8]; 3] = [
            b"SSN 536-90-4399\n\nDr. Angie \xc5\xbbukowski",
            b"",
            b"\xff\xfe536-90-4399\xc3",
        ];
        let mut scratch = matcher.scratch();
        let mut out = Vec::new();
        for text in texts.iter().chain(texts.iter()) {
            matcher.scan_into(text, &mut scratch, &mut out);
            assert_eq!(out, matcher.scan(text));
            check(text, &out).unwrap();
        }
    }

    /// A propagated word takes the rule that comes first in the pack among those that found
    /// it, with that rule's confidence less the propagation discount.
    #[test]
    fn propagation_takes_the_first_rule_in_the_pack() {
        let rule = |id: &str, cue: &str, confidence: f32| {
            format!(
                "[[rule]]\nid = \"{id}\"\ntype = \"NAME\"\n\
                 patterns = ['{cue} (?P<value>[A-Z][a-z]+)']\nconfidence = {confidence}\n\
                 examples = [{{ text = \"{cue} Quill\", match = \"Quill\" }}]\n"
            )
        };
        let (low, high) = (rule("t.low", "son", 0.6), rule("t.high", "Dr", 0.9));
        let text = b"His son Quill called Dr Quill. Later Quill agreed.";
        for (rules, first, confidence) in [
            ([&low, &high], "t.low", 0.55),
            ([&high, &low], "t.high", 0.85),
        ] {
            let pack = format!(
                "[pack]\nname = \"order\"\npropagate = [\"NAME\"]\n\n{}\n{}",
                rules[0], rules[1]
            );
            let rule_set = RuleSetBuilder::new().toml("order", &pack).build().unwrap();
            let matcher = Matcher::new(rule_set).unwrap();
            let found = matcher.scan(text);
            let alone = found
                .iter()
                .find(|f| f.start == 37)
                .expect("the lone Quill");
            assert_eq!(matcher.rule(alone.rule).id(), first, "{pack}");
            assert!((alone.confidence - confidence).abs() < 1e-6, "{found:?}");
        }
    }

    /// Propagation also finds a word with its case and diacritics folded, but only in title
    /// case (headings are written in capitals) and only when it is no common word.
    #[test]
    fn propagation_folds_case_into_title_case_words_that_are_not_common() {
        let pack = r#"
[pack]
name = "fold"
propagate = ["NAME"]

[[dictionary]]
id = "given"
words = ["Zed"]

[[dictionary]]
id = "common-words"
words = ["hall"]

[[rule]]
id = "t.header"
type = "NAME"
patterns = ['(?m:^)(?P<value>[^,\n]+), [A-Z]+ \| MRN']
confidence = 0.9
examples = [{ text = "HALL, ROSE | MRN", match = "HALL" }]

[[rule]]
id = "t.titled"
type = "NAME"
patterns = ['Dr (?P<value>[A-Z][a-z]+)']
confidence = 0.9
examples = [{ text = "Dr Gross", match = "Gross" }]

[[rule]]
id = "t.given"
type = "NAME"
dictionaries = ["given"]
common = ["common-words"]
examples = [{ text = "Zed", match = "Zed" }]
"#;
        let rule_set = RuleSetBuilder::new().toml("fold", pack).build().unwrap();
        let matcher = Matcher::new(rule_set).unwrap();
        let text = "NGUYỄN, ROSE | MRN 1\nHALL, ROSE | MRN 2\n\
                    Nguyen met Dr Gross in Hall B. GROSS DESCRIPTION: Gross tissue.";
        let found: Vec<&str> = matcher
            .scan(text.as_bytes())
            .iter()
            .map(|f| &text[f.range()])
            .collect();
        assert_eq!(
            found,
            ["NGUYỄN", "HALL", "Nguyen", "Gross", "Gross"],
            "{text}"
        );
    }

    #[test]
    fn invalid_utf8_gives_byte_offsets() {
        let (_, matcher) = &shared()[0];
        let text = b"\xff\xfe\xc3 SSN 536-90-4399 \x80";
        let found = matcher.scan(text);
        let ssn = found
            .iter()
            .find(|f| f.entity == deid_core::EntityType::Ssn)
            .expect("the SSN is found");
        assert_eq!((ssn.start, ssn.end), (8, 19));
    }
}

mod packs {
    use super::*;
    use deid_core::{EntityType, ErrorKind};

    /// The bundled rule that reports the stable example SSN (its id is the pack's business).
    fn bundled_ssn_rule() -> (usize, String) {
        let (_, matcher) = &shared()[0];
        let text = b"SSN 536-90-4399.";
        let finding = matcher
            .scan(text)
            .into_iter()
            .find(|f| f.entity == EntityType::Ssn)
            .expect("the bundled pack finds an SSN");
        (finding.rule, matcher.rule(finding.rule).id().to_owned())
    }

    #[test]
    fn a_user_rule_replaces_a_bundled_rule_by_id_in_place() {
        let (index, id) = bundled_ssn_rule();
        let before = bundled();
        let user = format!(
            r#"
[pack]
name = "site-overrides"
[[rule]]
id = "{id}"
type = "OTHER_ID"
patterns = ['''XQ-[0-9]{{4}}''']
confidence = 0.7
examples = [{{ text = "code XQ-1234", match = "XQ-1234" }}]
"#
        );
        let rules = RuleSetBuilder::new()
            .bundled()
            .toml("user.toml", &user)
            .build()
            .unwrap();
        assert_eq!(
            rules.rules().len(),
            before.rules().len(),
            "replaced, not added"
        );
        let rule = &rules.rules()[index];
        assert_eq!(
            rule.id(),
            id,
            "the replacement keeps the replaced rule's priority"
        );
        assert_eq!(rule.entity(), EntityType::OtherId);
        assert_eq!(rule.pack(), "site-overrides");
        assert_eq!(rule.patterns(), ["XQ-[0-9]{4}"]);
        assert_eq!(rules.rules().iter().filter(|r| r.id() == id).count(), 1);
        let names: Vec<&str> = rules.packs().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["safe-harbor", "site-overrides"]);

        let matcher = Matcher::new(rules).unwrap();
        let text = b"SSN 536-90-4399, code XQ-1234";
        let found = matcher.scan(text);
        assert!(
            !found
                .iter()
                .any(|f| f.rule == index && f.value(text) == b"536-90-4399"),
            "the old rule is gone"
        );
        assert!(found.iter().any(|f| f.rule == index
            && f.value(text) == b"XQ-1234"
            && f.entity == EntityType::OtherId));
    }

    #[test]
    fn a_user_pack_disables_a_bundled_rule_by_id() {
        let (_, id) = bundled_ssn_rule();
        let before = bundled();
        let rules = RuleSetBuilder::new()
            .bundled()
            .toml("user.toml", &format!("disable = [\"{id}\"]\n"))
            .build()
            .unwrap();
        assert_eq!(rules.rules().len(), before.rules().len() - 1);
        assert!(rules.rules().iter().all(|r| r.id() != id));
        let matcher = Matcher::new(rules).unwrap();
        let text = b"SSN 536-90-4399.";
        let kept: Vec<&str> = matcher
            .scan(text)
            .iter()
            .map(|f| matcher.rule(f.rule).id())
            .collect();
        assert!(!kept.contains(&id.as_str()), "{kept:?}");
    }

    #[test]
    fn a_later_pack_adds_new_rules_after_the_earlier_ones() {
        let rules = RuleSetBuilder::new()
            .toml("first.toml", OVERLAP_PACK)
            .toml(
                "second.toml",
                r#"[[rule]]
id = "t.extra"
type = "VEHICLE_ID"
patterns = ['''PLATE-[A-Z]{3}''']
examples = [{ text = "PLATE-ABC", match = "PLATE-ABC" }]
"#,
            )
            .build()
            .unwrap();
        assert_eq!(rules.rules().last().unwrap().id(), "t.extra");
        assert_eq!(
            rules.rules().last().unwrap().pack(),
            "second.toml",
            "a pack without a name is named by its origin"
        );
    }

    /// Each finding's value and confidence, in order.
    fn values_and_confidences<'t>(matcher: &Matcher, text: &'t str) -> Vec<(&'t str, f32)> {
        matcher
            .scan(text.as_bytes())
            .iter()
            .map(|f| (&text[f.range()], f.confidence))
            .collect()
    }

    /// A matcher for `pack`, which must load and pass `check_rules`.
    fn checked_matcher(pack: &str) -> Matcher {
        let rules = RuleSetBuilder::new()
            .toml("test.toml", pack)
            .build()
            .unwrap();
        let report = deid_core::check_rules(&rules, &MatchOptions::default());
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        Matcher::new(rules).unwrap()
    }

    #[test]
    fn an_exact_case_context_word_counts_only_as_written() {
        let matcher = checked_matcher(
            r#"[[rule]]
id = "t.kim"
type = "NAME"
patterns = ['''(?-u:\b)Kim(?-u:\b)''']
confidence = 0.8
context = [
  { words = ["IN", "OR"], effect = "forbid", window = 20, side = "after", case = "exact" },
  { words = ["Hospital"], effect = "forbid", window = 5, side = "after" },
]
examples = [{ text = "Kim lives in Omaha", match = "Kim" }]
negative_examples = ["Kim IN 46201", "Kim HOSPITAL"]
"#,
        );
        let found = |text: &str| matcher.scan(text.as_bytes()).len();
        assert_eq!(found("Kim went in or out"), 1, "lower-case in/or are words");
        assert_eq!(found("Kim, Gary IN 46201"), 0, "the state code forbids");
        assert_eq!(found("Kim, Salem OR 97301"), 0);
        assert_eq!(found("Kim In the end"), 1, "`In` is not written `IN`");
        assert_eq!(found("Kim hospital"), 0, "an any-case entry ignores case");
    }

    #[test]
    fn a_pattern_rule_drops_candidates_holding_an_excluded_word() {
        let matcher = checked_matcher(
            r#"[[dictionary]]
id = "departments"
words = ["Cardiology", "Emergency Room"]

[[rule]]
id = "t.told"
type = "NAME"
patterns = ['''told\x20(?P<value>[A-Z][a-z]+(?:\x20[A-Z][a-z]+)?)''']
exclude = ["departments"]
examples = [{ text = "told Jorge Salas", match = "Jorge Salas" }]
negative_examples = ["told Cardiology", "told Ana Cardiology"]
"#,
        );
        let found = |text: &str| matcher.scan(text.as_bytes()).len();
        assert_eq!(
            found("she told Emergency Room"),
            1,
            "phrases veto only as words"
        );
        assert_eq!(found("she told Cardiologyst"), 1, "whole words only");
    }

    #[test]
    fn a_pattern_rule_with_dictionaries_keeps_candidates_whose_every_word_is_listed() {
        let matcher = checked_matcher(
            r#"[[dictionary]]
id = "first"
words = ["maria", "jose"]

[[dictionary]]
id = "last"
words = ["gonzalez"]

[[rule]]
id = "t.lower"
type = "NAME"
patterns = ['''pt\x20(?P<value>\pL+(?:\x20\pL+)?)''']
dictionaries = ["first", "last"]
examples = [{ text = "pt maria gonzalez", match = "maria gonzalez" }]
negative_examples = ["pt jose at", "pt denies pain"]
"#,
        );
        let values = |text: &str| -> Vec<String> {
            matcher
                .scan(text.as_bytes())
                .iter()
                .map(|f| text[f.range()].to_owned())
                .collect()
        };
        assert_eq!(
            values("pt josé"),
            ["josé"],
            "diacritics fold as in word rules"
        );
        assert_eq!(
            values("pt Maria"),
            ["Maria"],
            "the pattern, not the list, decides case"
        );
    }

    #[test]
    fn an_unlisted_capitalised_word_joins_a_first_name_as_its_surname() {
        let matcher = checked_matcher(
            r#"[[dictionary]]
id = "first"
words = ["Mark", "Anna"]

[[dictionary]]
id = "places"
words = ["Boston"]

[[rule]]
id = "t.names"
type = "NAME"
dictionaries = ["first"]
case = "title"
join_bonus = 0.2
unlisted_after = ["first"]
confidence = 0.5
examples = [{ text = "directed by Mark Roseby and", match = "Mark Roseby" }]
negative_examples = ["Boston Roseby"]
"#,
        );
        let text = "Mark Roseby; Anna K. Szász; Anna K Szász; Mark Boston; Mark roseby; \
                    Mark  Roseby; Mark R2d2; Anna X";
        assert_eq!(
            values_and_confidences(&matcher, text),
            [
                ("Mark Roseby", 0.7),
                ("Anna K. Szász", 0.7),
                ("Anna K Szász", 0.7),
                ("Mark", 0.5),
                ("Mark", 0.5),
                ("Mark", 0.5),
                ("Mark", 0.5),
                ("Anna", 0.5),
            ]
        );
    }

    #[test]
    fn an_unlisted_word_before_a_lone_surname_joins_it() {
        let matcher = checked_matcher(
            r#"[[dictionary]]
id = "last"
words = ["Martinsen", "Ward"]

[[dictionary]]
id = "common"
words = ["Ward"]

[[rule]]
id = "t.names"
type = "NAME"
dictionaries = ["last"]
common = ["common"]
common_penalty = 0.3
case = "title"
join_bonus = 0.2
unlisted_before = ["last"]
confidence = 0.5
examples = [{ text = "called Weronika Martinsen today", match = "Weronika Martinsen" }]
negative_examples = ["the Aspenwood Ward"]
"#,
        );
        // Not before an initial (`Xyz K. Martinsen`), nor over a word a match already took.
        let text = "Weronika Martinsen came. Aspenwood Ward. the Martinsen file. \
                    Yuito  Martinsen. Martinsen Martinsen. Xyz K. Martinsen. \
                    Martinsen Abc Martinsen.";
        assert_eq!(
            values_and_confidences(&matcher, text),
            [
                ("Weronika Martinsen", 0.5),
                ("Martinsen", 0.5),
                ("Martinsen", 0.5),
                ("Martinsen Martinsen", 0.7),
                ("K. Martinsen", 0.5),
                ("Martinsen", 0.5),
                ("Abc Martinsen", 0.5),
            ]
        );
    }

    #[test]
    fn a_guard_word_after_a_given_name_joins_it_as_a_surname() {
        let matcher = checked_matcher(
            r#"[[dictionary]]
id = "first"
words = ["John", "Will"]

[[dictionary]]
id = "last"
words = ["Thompson", "Hospital"]

[[dictionary]]
id = "guard"
words = ["Thompson"]

[[dictionary]]
id = "stop"
words = ["Hospital"]

[[dictionary]]
id = "eponyms"
words = ["Thompson"]

[[dictionary]]
id = "common"
words = ["Will"]

[[rule]]
id = "t.names"
type = "NAME"
dictionaries = ["first", "last"]
exclude = ["guard", "stop"]
common = ["common"]
case = "title"
join_bonus = 0.2
unlisted_after = ["first"]
lifted_after_given = ["eponyms"]
confidence = 0.5
examples = [{ text = "called John Thompson today", match = "John Thompson" }]
negative_examples = ["Thompson splint"]
"#,
        );
        // Across a middle initial too; never after a common given name (`Will`, alone below
        // the scan's threshold), never a veto the rule does not lift, never the guard word
        // alone.
        let text = "John Q. Thompson came. John T Thompson. Will Thompson. \
                    John Hospital. the Thompson file.";
        assert_eq!(
            values_and_confidences(&matcher, text),
            [
                ("John Q. Thompson", 0.7),
                ("John T Thompson", 0.7),
                ("John", 0.5),
            ]
        );
    }

    #[test]
    fn a_run_joins_over_name_particles() {
        let matcher = checked_matcher(
            r#"[[dictionary]]
id = "first"
words = ["Angelina", "Rodrigo"]

[[dictionary]]
id = "particles"
words = ["van", "de", "la"]

[[rule]]
id = "t.names"
type = "NAME"
dictionaries = ["first"]
case = "title"
join_bonus = 0.2
particles = ["particles"]
confidence = 0.5
examples = [{ text = "Angelina van Hemert seen", match = "Angelina van Hemert" }]
negative_examples = ["van Hemert"]
"#,
        );
        // One or two lower-case particles, single-spaced; never three, never capitalised,
        // never before a lower-case word or across two spaces.
        let text = "Rodrigo de la Cruz. Angelina de la van Hemert. Angelina Van Hemert. \
                    Angelina van home. Angelina van  Hemert.";
        assert_eq!(
            values_and_confidences(&matcher, text),
            [
                ("Rodrigo de la Cruz", 0.7),
                ("Angelina", 0.5),
                ("Angelina", 0.5),
                ("Angelina", 0.5),
                ("Angelina", 0.5),
            ]
        );
    }

    #[test]
    fn an_unlisted_word_coordinated_with_a_name_is_a_name() {
        let matcher = checked_matcher(
            r#"[[dictionary]]
id = "first"
words = ["Mark", "Anna", "Will"]

[[dictionary]]
id = "common"
words = ["Will", "Soon"]

[[rule]]
id = "t.names"
type = "NAME"
dictionaries = ["first"]
common = ["common"]
common_penalty = 0.3
case = "title"
join_bonus = 0.2
unlisted_after = ["first"]
confidence = 0.6
examples = [{ text = "Abramovich and Mark were", match = "Abramovich" }]
negative_examples = ["Will and Testament"]
"#,
        );
        let text = "Abramovich and Mark met. Anna, Efimiya and Zoltan came. \
                    Mark, I'm here. Will and Testament. Soon and Mark. Mark & Qiu.";
        let found: Vec<&str> = matcher
            .scan(text.as_bytes())
            .iter()
            .map(|f| std::str::from_utf8(f.value(text.as_bytes())).unwrap())
            .collect();
        assert_eq!(
            found,
            [
                "Abramovich",
                "Mark",
                "Anna",
                "Efimiya",
                "Mark",
                "Mark",
                "Mark",
                "Qiu"
            ]
        );
    }

    /// Two rules that differ only in their common words do not share coordinated partners
    /// (a common name takes none), and `unlisted_after` needs no `join_bonus`.
    #[test]
    fn rules_differing_in_common_words_find_their_own_unlisted_partners() {
        let rule = |id: &str, common: &str| {
            format!(
                "[[rule]]\nid = \"{id}\"\ntype = \"NAME\"\ndictionaries = [\"first\"]\n\
                 case = \"title\"\nunlisted_after = [\"first\"]\nconfidence = 0.6\n{common}\
                 examples = [{{ text = \"Mark Roseby\", match = \"Mark Roseby\" }}]\n"
            )
        };
        let pack = format!(
            "[[dictionary]]\nid = \"first\"\nwords = [\"Will\", \"Mark\"]\n\n\
             [[dictionary]]\nid = \"common\"\nwords = [\"Will\"]\n\n{}\n{}",
            rule("t.common", "common = [\"common\"]\ncommon_penalty = 0.3\n"),
            rule("t.plain", ""),
        );
        let matcher = checked_matcher(&pack);
        let text = b"Will and Xyzzy came.";
        let found: Vec<&[u8]> = matcher.scan(text).iter().map(|f| f.value(text)).collect();
        assert_eq!(found, [&b"Will"[..], b"Xyzzy"]);
    }

    #[test]
    fn unlisted_after_applies_to_dictionary_rules_only() {
        let body = format!("{GOOD}\nunlisted_after = [\"x\"]");
        let error = load_error("user.toml", &one_rule("bad.unlisted", &body));
        let message = error.to_string();
        assert!(
            message.contains("`unlisted_after` applies to word rules"),
            "{message}"
        );
    }

    #[test]
    fn a_rule_without_patterns_or_dictionaries_is_an_error() {
        let body = "type = \"SSN\"\nexamples = [{ text = \"x\", match = \"x\" }]";
        let error = load_error("user.toml", &one_rule("bad.empty", body));
        let message = error.to_string();
        assert!(
            message.contains("a rule needs `patterns` or `dictionaries`"),
            "{message}"
        );
    }

    #[test]
    fn an_unknown_context_case_is_an_error_naming_pack_and_rule() {
        let body = format!(
            "{GOOD}\ncontext = [{{ words = [\"ssn\"], effect = \"raise\", case = \"upper\" }}]"
        );
        let error = load_error("user.toml", &one_rule("bad.case", &body));
        let message = error.to_string();
        assert!(
            message.contains("unknown context case `upper`"),
            "{message}"
        );
        assert_names(&error, "broken-pack", "bad.case");
    }

    /// A one-rule pack with `body` as the rule's extra lines.
    fn one_rule(id: &str, body: &str) -> String {
        format!("[pack]\nname = \"broken-pack\"\n\n[[rule]]\nid = \"{id}\"\n{body}\n")
    }

    const GOOD: &str = r#"type = "SSN"
patterns = ['''[0-9]{3}-[0-9]{2}-[0-9]{4}''']
examples = [{ text = "536-90-4399", match = "536-90-4399" }]"#;

    fn load_error(origin: &str, text: &str) -> deid_core::Error {
        RuleSetBuilder::new()
            .toml(origin, text)
            .build()
            .expect_err("the pack must not load")
    }

    /// Asserts the error names the pack (by name or origin) and the rule, in its accessors
    /// and in its message.
    fn assert_names(error: &deid_core::Error, pack: &str, rule: &str) {
        let message = error.to_string();
        assert!(
            message.contains(pack),
            "message names the pack `{pack}`: {message}"
        );
        assert!(error.pack().contains(pack), "pack() = {:?}", error.pack());
        assert_eq!(error.rule(), Some(rule), "rule() for: {message}");
        assert!(
            message.contains(rule),
            "message names the rule `{rule}`: {message}"
        );
    }

    #[test]
    fn the_good_rule_used_by_the_error_tests_loads() {
        RuleSetBuilder::new()
            .toml("good.toml", &one_rule("ok.rule", GOOD))
            .build()
            .unwrap();
    }

    #[test]
    fn disabling_an_unknown_id_is_an_error_naming_pack_and_id() {
        let error = RuleSetBuilder::new()
            .bundled()
            .toml("user.toml", "disable = [\"no.such.rule\"]\n")
            .build()
            .unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Invalid(_)), "{error:?}");
        assert_names(&error, "user.toml", "no.such.rule");
    }

    #[test]
    fn an_unknown_key_in_a_rule_is_an_error() {
        let text = one_rule("misspelt.key", &format!("{GOOD}\nconfidance = 0.9"));
        let error = load_error("user.toml", &text);
        assert!(matches!(error.kind(), ErrorKind::Parse(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("user.toml"), "{message}");
        assert!(
            message.contains("confidance"),
            "names the unknown key: {message}"
        );
    }

    #[test]
    fn an_unknown_key_in_a_rule_names_the_rule() {
        let text = one_rule("misspelt.key", &format!("{GOOD}\nconfidance = 0.9"));
        let error = load_error("user.toml", &text);
        assert_names(&error, "user.toml", "misspelt.key");
    }

    #[test]
    fn an_unknown_top_level_key_is_an_error() {
        let error = load_error(
            "user.toml",
            &format!("disabled = []\n{}", one_rule("ok.rule", GOOD)),
        );
        assert!(matches!(error.kind(), ErrorKind::Parse(_)), "{error:?}");
        assert!(error.to_string().contains("disabled"), "{error}");
        let error = load_error("user.toml", "[pack]\nname = \"x\"\nversoin = \"1\"\n");
        assert!(error.to_string().contains("versoin"), "{error}");
    }

    #[test]
    fn an_unknown_entity_type_is_an_error_naming_pack_and_rule() {
        let body = GOOD.replace("\"SSN\"", "\"SOCIAL\"");
        let error = load_error("user.toml", &one_rule("bad.type", &body));
        assert!(matches!(error.kind(), ErrorKind::Invalid(_)), "{error:?}");
        assert_names(&error, "broken-pack", "bad.type");
        assert!(error.to_string().contains("SOCIAL"), "{error}");
    }

    #[test]
    fn an_unknown_validator_is_an_error_naming_pack_and_rule() {
        let error = load_error(
            "user.toml",
            &one_rule(
                "bad.validator",
                &format!("{GOOD}\nvalidators = [\"luhnn\"]"),
            ),
        );
        assert!(matches!(error.kind(), ErrorKind::Invalid(_)), "{error:?}");
        assert_names(&error, "broken-pack", "bad.validator");
        assert!(error.to_string().contains("luhnn"), "{error}");
    }

    #[test]
    fn a_pattern_that_matches_the_empty_string_is_an_error_naming_pack_and_rule() {
        for pattern in ["[0-9]*", "(?:abc)?", "x?|y*", "\\b"] {
            let body = GOOD.replace("[0-9]{3}-[0-9]{2}-[0-9]{4}", pattern);
            let error = load_error("user.toml", &one_rule("empty.match", &body));
            assert!(
                matches!(error.kind(), ErrorKind::Pattern(_)),
                "{pattern}: {error:?}"
            );
            assert_names(&error, "broken-pack", "empty.match");
        }
    }

    #[test]
    fn a_unicode_word_boundary_is_an_error_naming_pack_and_rule() {
        // One such pattern would push the whole one-pass automaton onto a slow engine.
        let body = GOOD.replace(
            "[0-9]{3}-[0-9]{2}-[0-9]{4}",
            "\\b[0-9]{3}-[0-9]{2}-[0-9]{4}",
        );
        let error = load_error("user.toml", &one_rule("unicode.boundary", &body));
        assert!(matches!(error.kind(), ErrorKind::Pattern(_)), "{error:?}");
        assert_names(&error, "broken-pack", "unicode.boundary");
        let ascii = GOOD.replace(
            "[0-9]{3}-[0-9]{2}-[0-9]{4}",
            "(?-u:\\b)[0-9]{3}-[0-9]{2}-[0-9]{4}",
        );
        RuleSetBuilder::new()
            .toml("user.toml", &one_rule("ascii.boundary", &ascii))
            .build()
            .unwrap();
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_an_error_naming_pack_and_rule() {
        let body = GOOD.replace("[0-9]{3}-[0-9]{2}-[0-9]{4}", "([0-9]");
        let error = load_error("user.toml", &one_rule("bad.regex", &body));
        assert!(matches!(error.kind(), ErrorKind::Pattern(_)), "{error:?}");
        assert_names(&error, "broken-pack", "bad.regex");
    }

    #[test]
    fn a_rule_without_examples_is_an_error_naming_pack_and_rule() {
        let body = "type = \"SSN\"\npatterns = ['''[0-9]{3}-[0-9]{2}-[0-9]{4}''']";
        let error = load_error("user.toml", &one_rule("no.examples", body));
        assert!(matches!(error.kind(), ErrorKind::Invalid(_)), "{error:?}");
        assert_names(&error, "broken-pack", "no.examples");
    }

    #[test]
    fn a_pack_without_a_name_is_named_by_its_origin_in_errors() {
        let text = "[[rule]]\nid = \"no.examples\"\ntype = \"SSN\"\npatterns = ['''x[0-9]+''']\n";
        let error = load_error("/tmp/site/user-rules.toml", text);
        assert_names(&error, "/tmp/site/user-rules.toml", "no.examples");
    }

    #[test]
    fn a_missing_pack_file_is_an_io_error_naming_the_file() {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-pack.toml");
        let error = RuleSetBuilder::new().file(&path).build().unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Io(_)), "{error:?}");
        assert!(error.to_string().contains("no-such-pack.toml"), "{error}");
    }

    #[test]
    fn an_example_that_fails_is_reported_by_check_rules_naming_pack_and_rule() {
        let body = GOOD
            .replace(
                "examples = [{ text = \"536-90-4399\"",
                "examples = [{ text = \"536-90-4399 and 12-34\"",
            )
            .replace("match = \"536-90-4399\"", "match = \"12-34\"");
        let rules = RuleSetBuilder::new()
            .toml("user.toml", &one_rule("bad.example", &body))
            .build()
            .unwrap();
        let report = deid_core::check_rules(&rules, &MatchOptions::default());
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert!(matches!(report.failures[0].kind(), ErrorKind::Example(_)));
        assert_names(&report.failures[0], "broken-pack", "bad.example");
    }
}

mod masking {
    use super::*;
    use deid_core::Masked;

    const SECRET_SSN: &str = "536-90-4399";
    const TEXT: &str = "Seen by Dr. Angie Żukowski; SSN 536-90-4399; mail zoë.o'neil@example.org; call (312) 555-0142.";

    fn assert_clean(what: &str, debug: &str) {
        let lower = debug.to_lowercase();
        for secret in [
            SECRET_SSN,
            "4399",
            "żukowski",
            "angie",
            "zoë",
            "example.org",
            "555-0142",
        ] {
            if let Some(at) = lower.find(secret) {
                // Show where, without dumping what may be megabytes of cache state.
                let mut from = at.saturating_sub(60);
                while !lower.is_char_boundary(from) {
                    from -= 1;
                }
                let mut to = (at + secret.len() + 20).min(lower.len());
                while !lower.is_char_boundary(to) {
                    to += 1;
                }
                panic!(
                    "{what} Debug output holds {secret:?}: …{}…",
                    &lower[from..to]
                );
            }
        }
    }

    #[test]
    fn findings_debug_holds_no_matched_text() {
        for (label, matcher) in shared() {
            let found = matcher.scan(TEXT.as_bytes());
            assert!(!found.is_empty(), "{label}");
            assert_clean(label, &format!("{found:?}"));
            assert_clean(label, &format!("{found:#?}"));
            let mut scratch = matcher.scratch();
            let mut candidates = Vec::new();
            matcher.candidates_into(TEXT.as_bytes(), &mut scratch, &mut candidates);
            assert_clean(label, &format!("{candidates:?}"));
        }
    }

    #[test]
    fn masked_values_print_their_length_only() {
        let (_, matcher) = &shared()[0];
        let found = matcher.scan(TEXT.as_bytes());
        let values: Vec<Masked<&[u8]>> = found
            .iter()
            .map(|f| Masked(f.value(TEXT.as_bytes())))
            .collect();
        assert_clean("Masked", &format!("{values:?}"));
        assert_clean(
            "Masked",
            &values.iter().map(|v| format!("{v}")).collect::<String>(),
        );
        assert_eq!(format!("{:?}", Masked(SECRET_SSN)), "<masked 11 bytes>");
        assert_eq!(
            format!("{}", Masked(SECRET_SSN.to_owned())),
            "<masked 11 bytes>"
        );
    }

    #[test]
    fn the_matcher_debug_holds_no_scanned_text() {
        for (label, matcher) in shared() {
            let _ = matcher.scan(TEXT.as_bytes());
            // Rule examples may appear; scanned bytes must not.
            let debug = format!("{matcher:?}");
            assert!(!debug.contains("zoë.o'neil"), "{label}");
            assert!(!debug.contains("Angie Żukowski; SSN"), "{label}");
        }
    }

    #[test]
    fn scratch_debug_holds_no_scanned_text_after_a_scan() {
        for (label, matcher) in shared() {
            let mut scratch = matcher.scratch();
            let mut out = Vec::new();
            matcher.scan_into(TEXT.as_bytes(), &mut scratch, &mut out);
            assert_clean(label, &format!("{scratch:?}"));
        }
    }
}
