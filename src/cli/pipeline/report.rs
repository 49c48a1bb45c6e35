//! The report of a `redact` run (`--report FILE`, JSON) and its one-line summary.
//!
//! A report says what was done and under which policy, engine and rules, so that a
//! reviewer can check a release against it: counts by type, action and column, files and
//! rows, the policy's name and SHA-256, the key's public fingerprint. It holds no original
//! value, and no value derived from one.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use deid::Engine;
use deid_formats::output::AtomicFile;
use deid_transform::{Action, Redactor};
use serde_json::{Value, json};

use super::Totals;

/// What happened to one table column.
pub(in crate::cli) struct ColumnOutcome {
    pub(in crate::cli) file: String,
    pub(in crate::cli) column: String,
    /// The classifier's (or the user's) label: a type, `FREE_TEXT`, or none.
    pub(in crate::cli) label: Option<String>,
    /// What the policy did to it: an action, `scan` for free text, `keep`.
    pub(in crate::cli) action: String,
    /// Cells changed.
    pub(in crate::cli) cells: u64,
}

/// `redact: tag 120, generalize 40 (3 fell back to tag), token 12; policy … (sha256 …)`.
pub(super) fn action_line(redactor: &Redactor) -> String {
    let mut by_action: BTreeMap<Action, (u64, u64)> = BTreeMap::new();
    for entry in redactor.tally().entries() {
        let counts = by_action.entry(entry.action).or_default();
        counts.0 += entry.applied;
        counts.1 += entry.fell_back;
    }
    let actions: Vec<String> = by_action
        .iter()
        .map(|(action, (applied, fell_back))| match fell_back {
            0 => format!("{action} {applied}"),
            n => format!("{action} {applied} ({n} fell back to tag)"),
        })
        .collect();
    let policy = redactor.policy();
    format!(
        "deid: actions: {}; policy {:?}{} (sha256 {})",
        if actions.is_empty() {
            "none".to_owned()
        } else {
            actions.join(", ")
        },
        policy.name(),
        if policy.is_keyless() { ", keyless" } else { "" },
        &policy.digest()[..16],
    )
}

/// Writes the JSON report atomically.
pub(super) fn write(
    path: &Path,
    engine: &Engine,
    redactor: &Redactor,
    totals: &Totals,
) -> anyhow::Result<()> {
    let policy = redactor.policy();
    let packs: Vec<Value> = engine
        .matcher()
        .rules()
        .packs()
        .iter()
        .map(|p| json!({"name": p.name, "version": p.version}))
        .collect();
    let mut by_action: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_type_and_action = Vec::new();
    for entry in redactor.tally().entries() {
        *by_action.entry(entry.action.as_str()).or_default() += entry.applied;
        if entry.fell_back > 0 {
            *by_action.entry(Action::Tag.as_str()).or_default() += entry.fell_back;
        }
        by_type_and_action.push(json!({
            "type": entry.entity.as_str(),
            "action": entry.action.as_str(),
            "applied": entry.applied,
            "fell_back_to_tag": entry.fell_back,
        }));
    }
    let by_type: BTreeMap<&str, u64> = totals
        .by_type
        .iter()
        .map(|(t, n)| (t.as_str(), *n))
        .collect();
    let columns: Vec<Value> = totals
        .columns
        .iter()
        .map(|c| {
            json!({
                "file": c.file,
                "column": c.column,
                "label": c.label,
                "action": c.action,
                "cells_changed": c.cells,
            })
        })
        .collect();
    let report = json!({
        "deid_version": env!("CARGO_PKG_VERSION"),
        "rule_packs": packs,
        "policy": {
            "name": policy.name(),
            "sha256": policy.digest(),
            "keyless": policy.is_keyless(),
        },
        "key_fingerprint": redactor.key_fingerprint(),
        "files": totals.files,
        "bytes": totals.bytes,
        "table_rows": totals.rows,
        "errors": totals.errors,
        "identifiers": totals.findings,
        "by_type": by_type,
        "by_action": by_action,
        "by_type_and_action": by_type_and_action,
        "columns": columns,
        "tokens_added": redactor.tokens_added(),
    });
    let mut file = AtomicFile::create(path)
        .with_context(|| format!("{}: cannot create the report", path.display()))?;
    serde_json::to_writer_pretty(&mut file, &report)?;
    std::io::Write::write_all(&mut file, b"\n")?;
    file.commit()
        .with_context(|| format!("{}: cannot write the report", path.display()))?;
    Ok(())
}
