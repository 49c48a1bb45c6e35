//! Proving a rule set: what `deid rules check` runs.
//!
//! Every rule compiles alone and all compile together; every example is reported by its
//! rule alone with exactly the expected span; no negative example is reported by its rule.

use crate::error::{Error, ErrorKind};
use crate::matcher::{MatchOptions, Matcher};
use crate::pack::RuleSet;

/// The outcome of checking a rule set: the number of rules and examples proven, and every
/// failure found (checking goes on past the first).
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Rules checked.
    pub rules: usize,
    /// Examples and negative examples run.
    pub examples: usize,
    /// Everything that failed.
    pub failures: Vec<Error>,
}

/// Checks `rules` as described in the module docs.
pub fn check_rules(rules: &RuleSet, options: &MatchOptions) -> CheckReport {
    let mut report = CheckReport {
        rules: rules.rules().len(),
        ..CheckReport::default()
    };
    let mut ids = std::collections::HashSet::new();
    for rule in rules.rules() {
        if !ids.insert(rule.id()) {
            report.failures.push(Error::new(
                rule.pack(),
                Some(rule.id()),
                ErrorKind::Invalid("duplicate rule id".into()),
            ));
        }
    }
    for index in 0..rules.rules().len() {
        let rule = &rules.rules()[index];
        let fail =
            |message: String| Error::new(rule.pack(), Some(rule.id()), ErrorKind::Example(message));
        let alone = match Matcher::with_options(rules.only(index), options) {
            Ok(matcher) => matcher,
            Err(e) => {
                report.failures.push(e);
                continue;
            }
        };
        let mut scratch = alone.scratch();
        let mut found = Vec::new();
        for (text, expected) in rule.examples() {
            report.examples += 1;
            let Some(start) = text.find(expected.as_str()) else {
                report.failures.push(fail(format!(
                    "example value {expected:?} does not occur in its text {text:?}"
                )));
                continue;
            };
            let end = start + expected.len();
            alone.scan_into(text.as_bytes(), &mut scratch, &mut found);
            if !found.iter().any(|f| f.start == start && f.end == end) {
                let got: Vec<&str> = found.iter().map(|f| &text[f.start..f.end]).collect();
                report.failures.push(fail(format!(
                    "example {text:?}: expected {expected:?}, found {got:?}"
                )));
            }
        }
        for text in rule.negative_examples() {
            report.examples += 1;
            alone.scan_into(text.as_bytes(), &mut scratch, &mut found);
            if !found.is_empty() {
                let got: Vec<&str> = found.iter().map(|f| &text[f.start..f.end]).collect();
                report
                    .failures
                    .push(fail(format!("negative example {text:?} matched {got:?}")));
            }
        }
    }
    let all = rules.clone();
    if let Err(e) = Matcher::with_options(all, options) {
        report.failures.push(e);
    }
    report
}
