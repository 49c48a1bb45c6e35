//! A small structured pack plus a text, both drawn by `arbitrary`: pattern rules built from
//! safe regex fragments (with or without a `value` group, `exclude` or `dictionaries`),
//! dictionary rules over three tiny dictionaries (with or without `unlisted_after`,
//! `unlisted_before`, `lifted_after_given` and `particles`), validators, context entries in
//! any or exact case (with words of their own or of named dictionaries), propagation and a
//! minimum confidence.
//!
//! Asserts the scan contract (`common::check_findings`), that a second scan with the same
//! scratch gives the same findings, and the engine's conformance: `candidates_into` (one
//! pass of the combined automaton) equals `reference_candidates_into` (every pattern alone)
//! as sorted lists.
#![no_main]

mod common;

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use deid_core::{MatchOptions, Matcher, RuleSetBuilder};
use libfuzzer_sys::fuzz_target;

/// Regex fragments that are valid alone and concatenated; a pattern is 1 to 4 of them.
const FRAGMENTS: &[&str] = &[
    r"[0-9]{3}",
    r"-",
    r"[0-9]{2}",
    r"[0-9]{4}",
    r"(?-u:\b)",
    r"[0-9]+",
    r"[ .-]",
    r"\(",
    r"\)",
    r"[A-Z][a-z]+",
    r"\p{Lu}[\p{L}\p{M}'’-]*",
    r"[a-z]+",
    r"@",
    r"\.",
    r"(?:Dr|Mr|Mrs|Ms)\.?[ \t]+",
    r" ",
    r"(?i:mrn)",
    r":?[ \t]*",
    r"[^\s]+",
    r"é",
    r"Ż\w+",
    r"(?:a|ab|abc)",
    r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}",
    r"(?:\+1[ .-]?)?",
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}",
    r"https?://[^\s]+",
    r"\n",
    r"(?s:.)",
    r"[\x80-\xFF]",
    r"(?-u:\xFF)",
    r"x+",
    r"[0-9]{5}(?:-[0-9]{4})?",
    r"(?:[ \t]+\p{Lu}[\p{L}\p{M}'’-]*\.?){0,2}?",
];

const ENTITIES: &[&str] = &["NAME", "DATE", "PHONE", "SSN", "EMAIL", "ZIP", "MRN", "URL", "IP_ADDRESS", "OTHER_ID", "CITY"];
const VALIDATORS: &[&str] = &["ssn", "date", "phone-nanp", "zip", "luhn", "ipv4", "ip", "npi", "age-over-89", "mbi", "iban", "mac"];
const CONTEXT_WORDS: &[&str] = &["dr", "mrn", "ssn", "phone", "call", "dob", "patient", "é", "mr.", "social security", "seen by", "żukowski", "IN", "Dr"];
const CASES: &[&str] = &["any", "title", "upper", "title-or-upper"];
const EFFECTS: &[&str] = &["raise", "lower", "require", "forbid"];
const SIDES: &[&str] = &["before", "after", "both"];

/// Three dictionaries: `names`, `common` (lowers confidence), `guard` (excludes).
const NAMES: &[&str] = &["Maria", "Lopez", "Angie", "Żukowski", "Smith", "Jones", "O'Brien", "Salt Lake City", "Nguyễn", "Will", "Park", "Zoë"];
const COMMON: &[&str] = &["Will", "Park", "May", "Lake", "Smith"];
const GUARD: &[&str] = &["Parkinson", "Crohn", "Salt", "Jones"];

/// Text pieces: identifiers, names, separators, non-ASCII.
const TOKENS: &[&str] = &[
    "536-90-4399", "Dr. Angie Żukowski", "Maria Lopez", "(312) 555-0142", "04/23/2016", "2016-04-23", "\n\n", "\n",
    " ", "MRN: 00123456", "Salt Lake City", "Parkinson", "é", "Ż", "10.1.2.3", "angie@example.org", "Smith-Jones",
    "O'Brien", "J. Smith", ", ", "Will", "SMITH", "62704", "call ", "Dr.", "93", "Nguyễn", "Zoe\u{308}", "https://x.org/a",
    "Mrs Jones", "\t", "\r\n", "aged 97", "-", ".", "’", " in ", " IN ", "Maria K. Roseby", "Angie Qx",
];

#[derive(Arbitrary, Debug)]
struct Case {
    rules: Vec<RuleIn>,
    propagate: bool,
    min_confidence: u8,
    text: Vec<Piece>,
}

#[derive(Arbitrary, Debug)]
struct RuleIn {
    entity: u8,
    kind: KindIn,
    validators: Vec<u8>,
    context: Vec<ContextIn>,
    confidence: u8,
}

#[derive(Arbitrary, Debug)]
enum KindIn {
    Pattern { patterns: Vec<Vec<u8>>, value: Option<(u8, u8)>, exclude: u8, listed: u8 },
    Words { dictionaries: u8, exclude: u8, common: u8, case: u8, max_words: u8, join_bonus: u8, common_penalty: u8, unlisted_after: u8, unlisted_before: u8, lifted: u8, particles: u8 },
}

#[derive(Arbitrary, Debug)]
struct ContextIn {
    words: Vec<u8>,
    dictionaries: u8,
    effect: u8,
    amount: u8,
    window: u16,
    side: u8,
    exact_case: bool,
}

#[derive(Arbitrary, Debug)]
enum Piece {
    Token(u8),
    Raw(Vec<u8>),
    Repeat(u8, u16),
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[i as usize % list.len()]
}

fn dictionary_list(mask: u8) -> String {
    let ids = ["names", "common", "guard"];
    let chosen: Vec<String> = (0..3).filter(|b| mask & (1 << b) != 0).map(|b| format!("\"{}\"", ids[b])).collect();
    chosen.join(", ")
}

fn pack_toml(case: &Case) -> String {
    let mut t = String::new();
    if case.propagate {
        t.push_str("[pack]\npropagate = [\"NAME\"]\n\n");
    }
    for (id, words) in [("names", NAMES), ("common", COMMON), ("guard", GUARD)] {
        let words: Vec<String> = words.iter().map(|w| common::toml_string(w)).collect();
        t.push_str(&format!("[[dictionary]]\nid = \"{id}\"\nwords = [{}]\n\n", words.join(", ")));
    }
    for (n, rule) in case.rules.iter().take(4).enumerate() {
        t.push_str(&format!("[[rule]]\nid = \"fuzz.r{n}\"\ntype = \"{}\"\n", pick(ENTITIES, rule.entity)));
        t.push_str(&format!("confidence = {}\n", f32::from(rule.confidence % 101) / 100.0));
        match &rule.kind {
            KindIn::Pattern { patterns, value, exclude, listed } => {
                let mut list = Vec::new();
                for fragments in patterns.iter().take(3) {
                    let parts: Vec<&str> = fragments.iter().take(4).map(|&i| pick(FRAGMENTS, i)).collect();
                    if parts.is_empty() {
                        continue;
                    }
                    let mut pattern = String::new();
                    let (from, to) = match value {
                        Some((a, b)) => {
                            let (a, b) = (*a as usize % parts.len(), *b as usize % parts.len());
                            (a.min(b), a.max(b))
                        }
                        None => (usize::MAX, usize::MAX),
                    };
                    for (k, part) in parts.iter().enumerate() {
                        if k == from {
                            pattern.push_str("(?P<value>");
                        }
                        pattern.push_str(part);
                        if k == to {
                            pattern.push(')');
                        }
                    }
                    list.push(format!("'''{pattern}'''"));
                }
                if list.is_empty() {
                    list.push("'''[0-9]{3}-[0-9]{2}-[0-9]{4}'''".to_owned());
                }
                t.push_str(&format!("patterns = [{}]\n", list.join(", ")));
                if exclude & 7 != 0 {
                    t.push_str(&format!("exclude = [{}]\n", dictionary_list(*exclude)));
                }
                if listed & 7 != 0 {
                    t.push_str(&format!("dictionaries = [{}]\n", dictionary_list(*listed)));
                }
            }
            KindIn::Words { dictionaries, exclude, common, case, max_words, join_bonus, common_penalty, unlisted_after, unlisted_before, lifted, particles } => {
                let include = if dictionaries & 7 == 0 { 1 } else { *dictionaries };
                t.push_str(&format!("dictionaries = [{}]\n", dictionary_list(include)));
                if exclude & 7 != 0 {
                    t.push_str(&format!("exclude = [{}]\n", dictionary_list(*exclude)));
                }
                if common & 7 != 0 {
                    t.push_str(&format!("common = [{}]\ncommon_penalty = {}\n", dictionary_list(*common), f32::from(common_penalty % 101) / 100.0));
                }
                t.push_str(&format!("case = \"{}\"\nmax_words = {}\n", pick(CASES, *case), 1 + max_words % 4));
                t.push_str(&format!("join_bonus = {}\n", f32::from(join_bonus % 51) / 100.0));
                // Joins name lists the rule matches (the pack loader refuses others).
                if unlisted_after & include & 7 != 0 {
                    t.push_str(&format!("unlisted_after = [{}]\n", dictionary_list(unlisted_after & include)));
                }
                if unlisted_before & include & 7 != 0 {
                    t.push_str(&format!("unlisted_before = [{}]\n", dictionary_list(unlisted_before & include)));
                }
                // Lifts vetoes of the rule's own exclusions, after its given-name lists; it
                // and particles act in runs only (the loader refuses them without a bonus).
                let joins = join_bonus % 51 != 0;
                if joins && unlisted_after & include & 7 != 0 && lifted & exclude & 7 != 0 {
                    t.push_str(&format!("lifted_after_given = [{}]\n", dictionary_list(lifted & exclude)));
                }
                if joins && particles & 7 != 0 {
                    t.push_str(&format!("particles = [{}]\n", dictionary_list(*particles)));
                }
            }
        }
        let validators: Vec<String> = rule.validators.iter().take(2).map(|&v| format!("\"{}\"", pick(VALIDATORS, v))).collect();
        if !validators.is_empty() {
            t.push_str(&format!("validators = [{}]\n", validators.join(", ")));
        }
        t.push_str("examples = [{ text = \"x\", match = \"x\" }]\n");
        for context in rule.context.iter().take(3) {
            let words: Vec<String> = context.words.iter().take(3).map(|&w| common::toml_string(pick(CONTEXT_WORDS, w))).collect();
            let named = context.dictionaries & 7 != 0;
            let words = if words.is_empty() && !named { vec!["\"dr\"".to_owned()] } else { words };
            let effect = pick(EFFECTS, context.effect);
            t.push_str(&format!("[[rule.context]]\nwords = [{}]\neffect = \"{effect}\"\n", words.join(", ")));
            if named {
                t.push_str(&format!("dictionaries = [{}]\n", dictionary_list(context.dictionaries)));
            }
            if matches!(effect, "raise" | "lower") {
                t.push_str(&format!("amount = {}\n", f32::from(context.amount % 101) / 100.0));
            }
            t.push_str(&format!("window = {}\nside = \"{}\"\n", 1 + context.window % 1024, pick(SIDES, context.side)));
            if context.exact_case {
                t.push_str("case = \"exact\"\n");
            }
        }
        t.push('\n');
    }
    t
}

fn text_bytes(pieces: &[Piece]) -> Vec<u8> {
    let mut text = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Token(i) => text.extend_from_slice(pick(TOKENS, *i).as_bytes()),
            Piece::Raw(bytes) => text.extend_from_slice(bytes),
            Piece::Repeat(i, n) => {
                for _ in 0..(*n % 4096) {
                    text.extend_from_slice(pick(TOKENS, *i).as_bytes());
                    if text.len() > common::MAX_INPUT {
                        break;
                    }
                }
            }
        }
        if text.len() > common::MAX_INPUT {
            text.truncate(common::MAX_INPUT);
            break;
        }
    }
    text
}

/// `DEID_FUZZ_PRINT=1` prints each input's pack (TOML) and text (escaped) on stderr: run a
/// crash with it to get the material of a regression test.
static PRINT: LazyLock<bool> = LazyLock::new(|| std::env::var_os("DEID_FUZZ_PRINT").is_some());

fuzz_target!(|case: Case| {
    let toml = pack_toml(&case);
    if *PRINT {
        eprintln!("---- pack\n{toml}---- text\n{}\n----", text_bytes(&case.text).escape_ascii());
    }
    let rules = match RuleSetBuilder::new().toml("fuzz", &toml).build() {
        Ok(rules) => rules,
        // Fragments can combine into a pattern that matches the empty string; nothing else
        // the generator writes should be rejected.
        Err(e) if e.to_string().contains("empty string") => return,
        Err(e) => panic!("generated pack rejected: {e}\n{toml}"),
    };
    let options = MatchOptions { min_confidence: f32::from(case.min_confidence % 101) / 100.0 };
    let matcher = Matcher::with_options(rules, &options).unwrap_or_else(|e| panic!("generated pack does not compile: {e}\n{toml}"));
    let text = text_bytes(&case.text);
    let mut scratch = matcher.scratch();
    let (mut findings, mut again) = (Vec::new(), Vec::new());
    matcher.scan_into(&text, &mut scratch, &mut findings);
    common::check_findings(&matcher, &text, &findings);
    matcher.scan_into(&text, &mut scratch, &mut again);
    let (a, b): (Vec<_>, Vec<_>) = (findings.iter().map(common::key).collect(), again.iter().map(common::key).collect());
    assert_eq!(a, b, "a second scan with the same scratch differs");
    common::check_conformance(&matcher, &text, &mut scratch);
});
