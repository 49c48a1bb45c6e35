//! Arbitrary bytes as a rule pack: loading must never panic, and a pack that loads must
//! compile and scan a fixed text within the scan contract (see `common::check_findings`).
#![no_main]

mod common;

use deid_core::{Matcher, RuleSetBuilder};
use libfuzzer_sys::fuzz_target;

/// A small text with something for most rule kinds to find.
const TEXT: &[u8] = "NOTE 1\nSeen by Dr. Angie Żukowski on 2016-04-23 and 04/23/2016; SSN 536-90-4399, \
    call (312) 555-0142 or mail angie.z@example.org, MRN: 00123456.\nMaria Lopez, 42 Oak St, Springfield, \
    IL 62704. IP 10.1.2.3 https://portal.example.org/p/1 age 93.\n\nŻukowski agreed. \u{0}\u{7f}é"
    .as_bytes();

fuzz_target!(|data: &[u8]| {
    if data.len() > common::MAX_INPUT {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A pack given as text resolves `file = "…"` against the working directory; keep the
    // fuzzer away from device and kernel files (a read of /dev/zero never ends).
    if ["/dev", "/proc", "/sys"].iter().any(|p| text.contains(p)) {
        return;
    }
    let Ok(rules) = RuleSetBuilder::new().toml("fuzz", text).build() else { return };
    let Ok(matcher) = Matcher::new(rules) else { return };
    let mut scratch = matcher.scratch();
    let mut findings = Vec::new();
    matcher.scan_into(TEXT, &mut scratch, &mut findings);
    common::check_findings(&matcher, TEXT, &findings);
});
