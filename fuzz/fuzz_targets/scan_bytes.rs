//! Arbitrary bytes through the bundled matcher: the scan contract (sorted, non-overlapping,
//! in bounds, on character boundaries of UTF-8 input) and, for inputs up to 4 KiB, the
//! one-pass-versus-reference conformance of the bundled pack.
#![no_main]

mod common;

use std::sync::{LazyLock, Mutex};

use deid_core::{Finding, Matcher, RuleSetBuilder, Scratch};
use libfuzzer_sys::fuzz_target;

/// Compiled once per process; the scratch space is reused across inputs like a real
/// scanning thread reuses it.
static MATCHER: LazyLock<Matcher> =
    LazyLock::new(|| Matcher::new(RuleSetBuilder::new().bundled().build().expect("bundled pack")).expect("compiles"));
static STATE: LazyLock<Mutex<(Scratch, Vec<Finding>)>> = LazyLock::new(|| Mutex::new((MATCHER.scratch(), Vec::new())));

fuzz_target!(|data: &[u8]| {
    if data.len() > common::MAX_INPUT {
        return;
    }
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let (scratch, findings) = &mut *state;
    MATCHER.scan_into(data, scratch, findings);
    common::check_findings(&MATCHER, data, findings);
    if data.len() <= 4096 {
        common::check_conformance(&MATCHER, data, scratch);
    }
});
