//! What every fuzz target asserts about a scan, and helpers shared by the targets.
#![allow(dead_code)] // Each target uses a different part.

use deid_core::{Finding, Matcher, Scratch};

/// The largest input a target looks at: bigger inputs only slow the fuzzer down (the
/// matcher is linear), and the segment cut (`MAX_SEGMENT` = 64 KiB) is still reachable.
pub const MAX_INPUT: usize = 64 * 1024 + 512;

/// The contract of [`Matcher::scan_into`]: findings sorted by start, never overlapping,
/// non-empty, inside the text, on character boundaries when the text is UTF-8, with a
/// confidence in `[min_confidence, 1]` and the entity type of the rule they name.
pub fn check_findings(matcher: &Matcher, text: &[u8], findings: &[Finding]) {
    let utf8 = std::str::from_utf8(text).ok();
    let rules = matcher.rules().rules();
    for (i, f) in findings.iter().enumerate() {
        assert!(f.start < f.end, "empty or reversed finding {i}: {}..{}", f.start, f.end);
        assert!(f.end <= text.len(), "finding {i} ends at {} past the text ({} bytes)", f.end, text.len());
        if let Some(s) = utf8 {
            assert!(
                s.is_char_boundary(f.start) && s.is_char_boundary(f.end),
                "finding {i} ({}..{}) splits a character",
                f.start,
                f.end
            );
        }
        assert!(f.rule < rules.len(), "finding {i} names rule {} of {}", f.rule, rules.len());
        assert_eq!(f.entity, rules[f.rule].entity(), "finding {i}: entity differs from its rule's");
        assert!(
            f.confidence >= matcher.min_confidence() && f.confidence <= 1.0,
            "finding {i}: confidence {} outside [{}, 1]",
            f.confidence,
            matcher.min_confidence()
        );
        if i > 0 {
            let p = &findings[i - 1];
            assert!(p.end <= f.start, "findings {} ({}..{}) and {i} ({}..{}) overlap or are unsorted", i - 1, p.start, p.end, f.start, f.end);
        }
    }
}

/// A finding as a sortable key (confidence by its bits: both engines compute it the same
/// way, so they must agree exactly).
pub fn key(f: &Finding) -> (usize, usize, usize, u32) {
    (f.start, f.end, f.rule, f.confidence.to_bits())
}

/// The one-pass automaton and the one-pattern-at-a-time reference report the same
/// candidates (as sorted lists).
pub fn check_conformance(matcher: &Matcher, text: &[u8], scratch: &mut Scratch) {
    let (mut fast, mut reference) = (Vec::new(), Vec::new());
    matcher.candidates_into(text, scratch, &mut fast);
    matcher.reference_candidates_into(text, scratch, &mut reference);
    let mut fast: Vec<_> = fast.iter().map(key).collect();
    let mut reference: Vec<_> = reference.iter().map(key).collect();
    fast.sort_unstable();
    reference.sort_unstable();
    if fast != reference {
        let only_fast: Vec<_> = fast.iter().filter(|k| !reference.contains(k)).collect();
        let only_reference: Vec<_> = reference.iter().filter(|k| !fast.contains(k)).collect();
        panic!(
            "one-pass and reference candidates differ: only one-pass {only_fast:?}, only reference {only_reference:?} \
             (start, end, rule, confidence bits)"
        );
    }
}

/// A TOML string holding `s` exactly, as the `toml` crate writes it.
pub fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}
