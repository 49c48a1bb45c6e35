//! deid's engine: the entity taxonomy, rule packs, the one-pass matcher, validators,
//! context and findings.
//!
//! A [`RuleSetBuilder`] layers TOML rule packs (the bundled `safe-harbor` pack and any user
//! packs) into a validated [`RuleSet`]; a [`Matcher`] compiles it once and scans any number
//! of texts from any number of threads, each with its own [`Scratch`]; a scan yields
//! [`Finding`]s — byte spans with an [`EntityType`], the rule that found them and a
//! confidence. Findings never carry the scanned bytes; [`Masked`] keeps values out of
//! `Debug` output where a value must be held.
//!
//! ```
//! use deid_core::{EntityType, Matcher, RuleSetBuilder};
//!
//! let rules = RuleSetBuilder::new().bundled().build()?;
//! let matcher = Matcher::new(rules)?;
//! let text = b"Call 312-555-0142 about SSN 536-90-4399.";
//! let mut scratch = matcher.scratch();
//! let mut findings = Vec::new();
//! matcher.scan_into(text, &mut scratch, &mut findings);
//! let types: Vec<EntityType> = findings.iter().map(|f| f.entity).collect();
//! assert_eq!(types, [EntityType::Phone, EntityType::Ssn]);
//! # Ok::<(), deid_core::Error>(())
//! ```

mod check;
mod context;
mod end_finder;
mod entity;
mod error;
mod finding;
mod fragment;
mod lexicon;
mod matcher;
mod pack;
mod parallel;
mod spec;
mod validate;
mod words;

pub use check::{CheckReport, check_rules};
pub use context::{Context, ContextEffect, Side};
pub use entity::{EntityType, UnknownEntityType};
pub use error::{Error, ErrorKind};
pub use finding::{Finding, Masked};
pub use matcher::{
    DEFAULT_MIN_CONFIDENCE, MAX_SEGMENT, MatchOptions, Matcher, RuleStats, Scratch, segments,
};
pub use pack::{
    BUNDLED_PACK, DictionaryInfo, PackInfo, Rule, RuleSet, RuleSetBuilder, bundled_file,
};
pub use validate::Validator;
