//! Policies: which action replaces each entity type, and for tables each column.
//!
//! A policy is a TOML file (see `policies/safe-harbor.toml`, the built-in default, for a
//! documented example). It is parsed into serde types that refuse unknown keys, then
//! validated into a [`Policy`]: every entity type resolved to an [`Action`], every action
//! checked against the types it can handle (`shift` only dates, `generalize` only dates,
//! ZIP codes and ages), `drop` allowed for columns only.
//!
//! ```toml
//! name = "research-extract"
//! default = "tag"              # entity types not listed
//! [entities]
//! MRN = "hash"
//! DATE = "shift"
//! SSN = "mask"
//! [columns]                    # tables: a column name, or FILE.COLUMN (file name without
//! notes_internal = "drop"      # extension); a column action beats the entity action
//! [shift]
//! min_days = -180
//! max_days = 180
//! subject = "patient_id"       # table column or JSONL field naming the subject
//! [mask]
//! keep_last = 4
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use deid_core::EntityType;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The text of the built-in `safe-harbor` policy.
pub const SAFE_HARBOR: &str = include_str!("../../../policies/safe-harbor.toml");

/// What replaces an identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Remove the value (an empty string).
    Redact,
    /// The type in brackets: `[NAME]`.
    Tag,
    /// Letters and digits become `*` except the last few; separators stay.
    Mask,
    /// A keyed HMAC-SHA-256 pseudonym: derived from the value, stable for one key.
    Hash,
    /// Format-preserving encryption (FF1); reversible by the key holder.
    Encrypt,
    /// Dates move by a keyed per-subject offset and keep their format.
    Shift,
    /// Safe Harbor generalisation: date → year, ZIP → ZIP3 or 000, age over 89 → `90+`.
    Generalize,
    /// A realistic fake value of the same type and shape, consistent per original and key.
    Surrogate,
    /// A random code not derived from the value, kept consistent by an encrypted store.
    Token,
    /// Leave the value as it is.
    Keep,
    /// Tables only: leave the column out of the output.
    Drop,
}

impl Action {
    /// Every action, in the order reports list them.
    pub const ALL: [Action; 11] = [
        Action::Redact,
        Action::Tag,
        Action::Mask,
        Action::Hash,
        Action::Encrypt,
        Action::Shift,
        Action::Generalize,
        Action::Surrogate,
        Action::Token,
        Action::Keep,
        Action::Drop,
    ];

    /// The name used in policy files and reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Redact => "redact",
            Action::Tag => "tag",
            Action::Mask => "mask",
            Action::Hash => "hash",
            Action::Encrypt => "encrypt",
            Action::Shift => "shift",
            Action::Generalize => "generalize",
            Action::Surrogate => "surrogate",
            Action::Token => "token",
            Action::Keep => "keep",
            Action::Drop => "drop",
        }
    }

    /// Whether the action needs the secret key.
    pub const fn is_keyed(self) -> bool {
        matches!(
            self,
            Action::Hash | Action::Encrypt | Action::Shift | Action::Surrogate | Action::Token
        )
    }

    fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Why `self` cannot replace values of `entity`, if it cannot.
    fn refuses(self, entity: EntityType) -> Option<&'static str> {
        use EntityType::{AgeOver89, Date, Zip};
        match self {
            Action::Shift if entity != Date => Some("`shift` applies to DATE only"),
            Action::Generalize if !matches!(entity, Date | Zip | AgeOver89) => {
                Some("`generalize` applies to DATE, ZIP and AGE_OVER_89 only")
            }
            Action::Drop => Some("`drop` removes a column: use it under [columns]"),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far and by what dates move under `shift`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftSettings {
    /// The smallest offset in days (may be negative).
    pub min_days: i64,
    /// The largest offset in days.
    pub max_days: i64,
    /// The table column or JSONL field whose value names the subject. Without it (or when
    /// a row or record lacks it) the document is the subject: a JSONL record's id, or the
    /// file.
    pub subject: Option<String>,
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    name: String,
    description: Option<String>,
    default: Action,
    entities: BTreeMap<EntityType, Action>,
    columns: BTreeMap<String, Action>,
    shift: ShiftSettings,
    keep_last: usize,
    /// Whether this is the built-in policy with its keyed actions replaced by `tag`.
    keyless: bool,
}

/// A policy file that cannot be used; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PolicyError {
    origin: String,
    message: String,
}

impl PolicyError {
    fn new(origin: &str, message: impl Into<String>) -> PolicyError {
        PolicyError {
            origin: origin.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    name: String,
    description: Option<String>,
    default: Option<String>,
    #[serde(default)]
    entities: BTreeMap<String, String>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    shift: Option<ShiftSpec>,
    mask: Option<MaskSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftSpec {
    min_days: i64,
    max_days: i64,
    subject: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaskSpec {
    keep_last: usize,
}

/// The offset range when a policy shifts dates without saying how far.
const DEFAULT_SHIFT_DAYS: i64 = 365;
/// The characters `mask` keeps when a policy does not say.
const DEFAULT_KEEP_LAST: usize = 4;
/// The most characters `mask` may keep (it never keeps more than half of a value anyway).
const MAX_KEEP_LAST: usize = 8;
/// The longest shift a policy may ask for: beyond a century, years stop meaning anything.
const MAX_SHIFT_DAYS: i64 = 36_525;

impl Policy {
    /// The built-in `safe-harbor` policy.
    pub fn safe_harbor() -> Policy {
        Policy::parse("built-in safe-harbor policy", SAFE_HARBOR)
            .expect("the built-in policy is valid (tested)")
    }

    /// Reads and validates a policy file.
    ///
    /// # Errors
    /// When the file cannot be read, is not valid TOML, has an unknown key, names an
    /// unknown entity type or action, or pairs an action with a type it cannot handle.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::new(&origin, format!("cannot read the policy: {e}")))?;
        Policy::parse(&origin, &text)
    }

    /// Parses and validates policy text; `origin` names it in errors.
    ///
    /// # Errors
    /// As [`Policy::from_file`].
    pub fn parse(origin: &str, text: &str) -> Result<Policy, PolicyError> {
        let spec: PolicySpec =
            toml::from_str(text).map_err(|e| PolicyError::new(origin, e.to_string()))?;
        let action = |key: &str, name: &str| {
            Action::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                PolicyError::new(
                    origin,
                    format!(
                        "{key}: unknown action {name:?}; known: {}",
                        known.join(", ")
                    ),
                )
            })
        };
        let default = match &spec.default {
            Some(name) => action("default", name)?,
            None => Action::Tag,
        };
        if matches!(
            default,
            Action::Shift | Action::Generalize | Action::Drop | Action::Keep
        ) {
            return Err(PolicyError::new(
                origin,
                format!("default: `{default}` cannot apply to every entity type"),
            ));
        }
        let mut entities = BTreeMap::new();
        for (name, action_name) in &spec.entities {
            let key = format!("entities.{name}");
            let entity: EntityType = name
                .parse()
                .map_err(|e| PolicyError::new(origin, format!("{key}: {e}")))?;
            let action = action(&key, action_name)?;
            if let Some(why) = action.refuses(entity) {
                return Err(PolicyError::new(origin, format!("{key}: {why}")));
            }
            entities.insert(entity, action);
        }
        let mut columns = BTreeMap::new();
        for (column, action_name) in &spec.columns {
            let key = format!("columns.{column:?}");
            let action = action(&key, action_name)?;
            if matches!(action, Action::Shift | Action::Generalize) {
                return Err(PolicyError::new(
                    origin,
                    format!(
                        "{key}: `{action}` depends on the value's type; label the column \
                         (`--column NAME=DATE`) and set the action under [entities]"
                    ),
                ));
            }
            columns.insert(column.clone(), action);
        }
        let shift = match spec.shift {
            Some(s) => {
                if s.min_days > s.max_days {
                    return Err(PolicyError::new(
                        origin,
                        "shift: min_days is larger than max_days",
                    ));
                }
                if s.min_days.unsigned_abs().max(s.max_days.unsigned_abs())
                    > MAX_SHIFT_DAYS.unsigned_abs()
                {
                    return Err(PolicyError::new(
                        origin,
                        format!("shift: offsets are limited to ±{MAX_SHIFT_DAYS} days"),
                    ));
                }
                if s.min_days == 0 && s.max_days == 0 {
                    return Err(PolicyError::new(origin, "shift: the range is only 0 days"));
                }
                ShiftSettings {
                    min_days: s.min_days,
                    max_days: s.max_days,
                    subject: s.subject,
                }
            }
            None => ShiftSettings {
                min_days: -DEFAULT_SHIFT_DAYS,
                max_days: DEFAULT_SHIFT_DAYS,
                subject: None,
            },
        };
        let keep_last = spec.mask.map_or(DEFAULT_KEEP_LAST, |m| m.keep_last);
        if keep_last > MAX_KEEP_LAST {
            return Err(PolicyError::new(
                origin,
                format!("mask: keep_last is at most {MAX_KEEP_LAST}"),
            ));
        }
        Ok(Policy {
            name: spec.name,
            description: spec.description,
            default,
            entities,
            columns,
            shift,
            keep_last,
            keyless: false,
        })
    }

    /// This policy with every keyed action replaced by `tag`: what the built-in default
    /// does when no key is given.
    pub fn keyless(&self) -> Policy {
        let unkey = |a: Action| if a.is_keyed() { Action::Tag } else { a };
        Policy {
            default: unkey(self.default),
            entities: self.entities.iter().map(|(e, a)| (*e, unkey(*a))).collect(),
            columns: self
                .columns
                .iter()
                .map(|(c, a)| (c.clone(), unkey(*a)))
                .collect(),
            keyless: true,
            ..self.clone()
        }
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a keyless variant made by [`Policy::keyless`].
    pub fn is_keyless(&self) -> bool {
        self.keyless
    }

    /// The action for values of `entity`.
    pub fn action(&self, entity: EntityType) -> Action {
        self.entities.get(&entity).copied().unwrap_or(self.default)
    }

    /// The action a policy sets for a table column, by `FILE.COLUMN` (file name without
    /// extension) first, then by column name; names compare case-insensitively.
    pub fn column_action(&self, file_stem: &str, column: &str) -> Option<Action> {
        self.column_rule(file_stem, column)
            .map(|(_, action)| action)
    }

    /// Like [`Policy::column_action`], with the `[columns]` key that matched.
    pub fn column_rule(&self, file_stem: &str, column: &str) -> Option<(&str, Action)> {
        let qualified = format!("{file_stem}.{column}");
        let find = |name: &str| {
            self.columns
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(key, action)| (key.as_str(), *action))
        };
        find(&qualified).or_else(|| find(column))
    }

    /// The keys of `[columns]`.
    pub fn column_rules(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(String::as_str)
    }

    /// Whether any type or column is shifted.
    pub fn shifts(&self) -> bool {
        EntityType::ALL
            .iter()
            .any(|e| self.action(*e) == Action::Shift)
    }

    /// The shift settings.
    pub fn shift(&self) -> &ShiftSettings {
        &self.shift
    }

    /// How many trailing letters and digits `mask` keeps.
    pub fn keep_last(&self) -> usize {
        self.keep_last
    }

    /// Every keyed action the policy uses, with where it is set (`entities.MRN`,
    /// `columns."mrn"`), for the error that a key is missing.
    pub fn keyed_uses(&self) -> Vec<(Action, String)> {
        let mut uses = Vec::new();
        for entity in EntityType::ALL {
            let action = self.action(*entity);
            if action.is_keyed() {
                uses.push((action, format!("entities.{}", entity.as_str())));
            }
        }
        for (column, action) in &self.columns {
            if action.is_keyed() {
                uses.push((*action, format!("columns.{column:?}")));
            }
        }
        uses
    }

    /// The effective policy as TOML: every entity type with its action. This is what
    /// `deid policy show` prints and what [`Policy::digest`] hashes.
    pub fn to_toml(&self) -> String {
        use std::fmt::Write as _;
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let mut out = String::new();
        let _ = writeln!(out, "name = {}", quote(&self.name));
        if let Some(description) = &self.description {
            let _ = writeln!(out, "description = {}", quote(description));
        }
        if self.keyless {
            out.push_str("# keyless variant: keyed actions are replaced by `tag`\n");
        }
        let _ = writeln!(out, "default = {}", quote(self.default.as_str()));
        out.push_str("\n[entities]\n");
        for entity in EntityType::ALL {
            let _ = writeln!(
                out,
                "{} = {}",
                entity.as_str(),
                quote(self.action(*entity).as_str())
            );
        }
        if !self.columns.is_empty() {
            out.push_str("\n[columns]\n");
            for (column, action) in &self.columns {
                let _ = writeln!(out, "{} = {}", quote(column), quote(action.as_str()));
            }
        }
        out.push_str("\n[shift]\n");
        let _ = writeln!(out, "min_days = {}", self.shift.min_days);
        let _ = writeln!(out, "max_days = {}", self.shift.max_days);
        if let Some(subject) = &self.shift.subject {
            let _ = writeln!(out, "subject = {}", quote(subject));
        }
        let _ = write!(out, "\n[mask]\nkeep_last = {}\n", self.keep_last);
        out
    }

    /// SHA-256 of [`Policy::to_toml`], in hex: names the exact policy a report came from.
    pub fn digest(&self) -> String {
        let digest = Sha256::digest(self.to_toml().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, String> {
        Policy::parse("test.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_built_in_policy_covers_every_type_as_documented() {
        let policy = Policy::safe_harbor();
        assert_eq!(policy.action(EntityType::Zip), Action::Generalize);
        assert_eq!(policy.action(EntityType::Date), Action::Generalize);
        assert_eq!(policy.action(EntityType::AgeOver89), Action::Generalize);
        assert_eq!(policy.action(EntityType::Mrn), Action::Token);
        assert_eq!(policy.action(EntityType::Name), Action::Tag);
        // Safe Harbor never emits a value derived from an identifier.
        for entity in EntityType::ALL {
            let action = policy.action(*entity);
            assert!(
                !matches!(
                    action,
                    Action::Hash | Action::Surrogate | Action::Encrypt | Action::Keep
                ),
                "{entity:?} -> {action}"
            );
        }
        // Every type is listed explicitly, so a reader sees the whole mapping.
        for entity in EntityType::ALL {
            assert!(
                SAFE_HARBOR.contains(&format!("\n{} = ", entity.as_str())),
                "{entity:?} is not listed in policies/safe-harbor.toml"
            );
        }
    }

    #[test]
    fn keyless_variant_tags_link_columns() {
        let keyless = Policy::safe_harbor().keyless();
        assert!(keyless.is_keyless());
        assert_eq!(keyless.action(EntityType::Mrn), Action::Tag);
        assert_eq!(keyless.action(EntityType::Zip), Action::Generalize);
        assert!(keyless.keyed_uses().is_empty());
        assert_ne!(keyless.digest(), Policy::safe_harbor().digest());
    }

    #[test]
    fn bad_policies_are_refused_with_the_key_named() {
        for (text, expected) in [
            ("name = 'x'\nbogus = 1", "unknown field `bogus`"),
            ("name = 'x'\n[entities]\nNAMES = 'tag'", "entities.NAMES"),
            (
                "name = 'x'\n[entities]\nNAME = 'scramble'",
                "unknown action \"scramble\"",
            ),
            (
                "name = 'x'\n[entities]\nNAME = 'shift'",
                "`shift` applies to DATE only",
            ),
            (
                "name = 'x'\n[entities]\nSSN = 'generalize'",
                "DATE, ZIP and AGE_OVER_89",
            ),
            ("name = 'x'\n[entities]\nSSN = 'drop'", "under [columns]"),
            ("name = 'x'\n[columns]\ndob = 'shift'", "label the column"),
            (
                "name = 'x'\ndefault = 'keep'",
                "cannot apply to every entity type",
            ),
            (
                "name = 'x'\n[shift]\nmin_days = 5\nmax_days = 1",
                "min_days is larger",
            ),
            (
                "name = 'x'\n[shift]\nmin_days = 0\nmax_days = 0",
                "only 0 days",
            ),
            (
                "name = 'x'\n[shift]\nmin_days = -9223372036854775808\nmax_days = 1",
                "limited to",
            ),
            ("name = 'x'\n[mask]\nkeep_last = 9", "at most 8"),
            (
                "name = 'x'\n[shift]\nmin_days = 1\nmax_days = 1\nsubjct = 'a'",
                "subjct",
            ),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.starts_with("test.toml: "), "{error}");
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn column_actions_match_qualified_names_first() {
        let policy =
            parse("name = 'x'\n[columns]\nmrn = 'hash'\n'visits.MRN' = 'token'\nnotes = 'drop'")
                .unwrap();
        assert_eq!(policy.column_action("visits", "mrn"), Some(Action::Token));
        assert_eq!(policy.column_action("labs", "MRN"), Some(Action::Hash));
        assert_eq!(policy.column_action("labs", "notes"), Some(Action::Drop));
        assert_eq!(policy.column_action("labs", "dob"), None);
        let uses = policy.keyed_uses();
        assert!(
            uses.iter()
                .any(|(a, at)| *a == Action::Hash && at == "columns.\"mrn\"")
        );
    }

    #[test]
    fn the_effective_policy_round_trips_through_its_toml() {
        let policy = parse(
            "name = 'x'\ndefault = 'redact'\n[entities]\nDATE = 'shift'\n\
             [shift]\nmin_days = -30\nmax_days = 30\nsubject = 'patient_id'\n[mask]\nkeep_last = 2",
        )
        .unwrap();
        // Listing every type explicitly changes nothing: the same effective policy.
        let again = parse(&policy.to_toml()).unwrap();
        assert_eq!(again.to_toml(), policy.to_toml());
        assert_eq!(again.digest(), policy.digest());
        assert_eq!(policy.shift().subject.as_deref(), Some("patient_id"));
        assert_eq!(policy.keep_last(), 2);
        assert_eq!(policy.action(EntityType::Name), Action::Redact);
    }
}
