//! Rule packs: loading TOML, layering packs, and validating them into immutable rules.
//!
//! Packs are layered in order: the bundled `safe-harbor` pack first, then user packs. A
//! later rule with an existing id replaces the earlier one in place (so its priority is
//! kept), `disable = ["id", …]` switches rules off, and a later dictionary with an
//! existing id replaces the earlier list.

use std::path::Path;
use std::sync::Arc;

use regex_syntax::hir::Hir;

use crate::context::{Context, ContextEffect, Side};
use crate::entity::EntityType;
use crate::error::{Error, ErrorKind};
use crate::fragment::Fragments;
use crate::lexicon::{CaseRule, Lexicon};
use crate::parallel::try_map_in_order;
use crate::spec::{ContextSpec, PackSpec, RuleSpec};
use crate::validate::Validator;

/// The files of the bundled packs, embedded in the binary at build time.
const BUNDLED_FILES: &[(&str, &str)] = &[
    (
        "safe-harbor/pack.toml",
        include_str!("../../../rules/safe-harbor/pack.toml"),
    ),
    (
        "safe-harbor/names.toml",
        include_str!("../../../rules/safe-harbor/names.toml"),
    ),
    (
        "safe-harbor/dates.toml",
        include_str!("../../../rules/safe-harbor/dates.toml"),
    ),
    (
        "safe-harbor/contact.toml",
        include_str!("../../../rules/safe-harbor/contact.toml"),
    ),
    (
        "safe-harbor/ids.toml",
        include_str!("../../../rules/safe-harbor/ids.toml"),
    ),
    (
        "safe-harbor/places.toml",
        include_str!("../../../rules/safe-harbor/places.toml"),
    ),
    (
        "dict/first-names.txt",
        include_str!("../../../rules/dict/first-names.txt"),
    ),
    (
        "dict/surnames.txt",
        include_str!("../../../rules/dict/surnames.txt"),
    ),
    (
        "dict/cities.txt",
        include_str!("../../../rules/dict/cities.txt"),
    ),
    (
        "dict/counties.txt",
        include_str!("../../../rules/dict/counties.txt"),
    ),
    (
        "dict/facility-words.txt",
        include_str!("../../../rules/dict/facility-words.txt"),
    ),
    (
        "dict/clinical-terms.txt",
        include_str!("../../../rules/dict/clinical-terms.txt"),
    ),
    (
        "dict/english-common.txt",
        include_str!("../../../rules/dict/english-common.txt"),
    ),
];

/// The name of the pack loaded by default.
pub const BUNDLED_PACK: &str = "safe-harbor";

/// A validated rule: immutable, with accessors only.
#[derive(Clone, Debug)]
pub struct Rule {
    pub(crate) id: Box<str>,
    pub(crate) name: Box<str>,
    pub(crate) entity: EntityType,
    pub(crate) kind: RuleKind,
    pub(crate) validators: Box<[Validator]>,
    pub(crate) confidence: f32,
    pub(crate) context: Box<[Context]>,
    pub(crate) references: Box<[String]>,
    pub(crate) examples: Box<[(String, String)]>,
    pub(crate) negative_examples: Box<[String]>,
    pub(crate) pack: Arc<str>,
}

/// How a rule finds its candidates.
#[derive(Clone, Debug)]
pub(crate) enum RuleKind {
    /// Regular expressions; the span is group `value` when present. `hirs` holds each
    /// pattern parsed, in the same order; `exclude` is the dictionary bit mask of words that
    /// veto a candidate holding them; when `listed` is not zero, every word of a candidate
    /// must be in one of its dictionaries.
    Pattern {
        patterns: Box<[String]>,
        hirs: Box<[Hir]>,
        exclude: u64,
        listed: u64,
    },
    /// Whole words (or runs of words) found in dictionaries.
    Words(WordRule),
}

/// The settings of a dictionary rule, as dictionary bit masks over the [`Lexicon`].
#[derive(Clone, Debug)]
pub(crate) struct WordRule {
    pub(crate) include: u64,
    pub(crate) exclude: u64,
    pub(crate) common: u64,
    pub(crate) common_penalty: f32,
    pub(crate) case: CaseRule,
    pub(crate) max_words: usize,
    pub(crate) join_bonus: f32,
    pub(crate) unlisted_after: u64,
    pub(crate) unlisted_before: u64,
    pub(crate) lifted_after_given: u64,
    pub(crate) particles: u64,
}

impl Rule {
    /// The stable dotted id, for example `ssn.dashed`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The human-readable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The entity type the rule reports.
    pub fn entity(&self) -> EntityType {
        self.entity
    }

    /// The base confidence, before context.
    pub fn confidence(&self) -> f32 {
        self.confidence
    }

    /// The validators every candidate must pass.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The regular expressions of a pattern rule (empty for a dictionary rule).
    pub fn patterns(&self) -> &[String] {
        match &self.kind {
            RuleKind::Pattern { patterns, .. } => patterns,
            RuleKind::Words(_) => &[],
        }
    }

    /// The patterns of a pattern rule, parsed (empty for a dictionary rule).
    #[cfg(test)]
    pub(crate) fn hirs(&self) -> &[Hir] {
        match &self.kind {
            RuleKind::Pattern { hirs, .. } => hirs,
            RuleKind::Words(_) => &[],
        }
    }

    /// Whether the rule matches dictionary words rather than patterns.
    pub fn is_dictionary_rule(&self) -> bool {
        matches!(self.kind, RuleKind::Words(_))
    }

    /// The context entries.
    pub fn context(&self) -> &[Context] {
        &self.context
    }

    /// Links that explain the identifier.
    pub fn references(&self) -> &[String] {
        &self.references
    }

    /// `(text, expected value)` pairs the rule must match.
    pub fn examples(&self) -> &[(String, String)] {
        &self.examples
    }

    /// Texts the rule must not match.
    pub fn negative_examples(&self) -> &[String] {
        &self.negative_examples
    }

    /// The pack the rule came from.
    pub fn pack(&self) -> &str {
        &self.pack
    }
}

/// A validated set of rules and the dictionaries they use, ready to compile into a
/// [`crate::Matcher`].
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// Shared: `only` hands each one-rule set the same dictionaries without copying them.
    pub(crate) lexicon: Arc<Lexicon>,
    pub(crate) propagate: Vec<EntityType>,
    pub(crate) packs: Vec<PackInfo>,
    pub(crate) dictionaries: Vec<DictionaryInfo>,
}

/// What a loaded dictionary is: its id, where it comes from and how big it is.
#[derive(Clone, Debug)]
pub struct DictionaryInfo {
    /// The id rules use.
    pub id: String,
    /// Where the data comes from, as the pack says.
    pub source: Option<String>,
    /// The number of entries.
    pub entries: usize,
}

/// The name and version of a loaded pack.
#[derive(Clone, Debug)]
pub struct PackInfo {
    /// The pack's name (its file path when the pack names none).
    pub name: String,
    /// The pack's version, when it gives one.
    pub version: Option<String>,
}

impl RuleSet {
    /// The rules, in priority order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The packs that were layered, in order.
    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// The dictionaries, in bit order.
    pub fn dictionaries(&self) -> &[DictionaryInfo] {
        &self.dictionaries
    }

    /// Entity types whose confirmed values are searched again across the document.
    pub fn propagated_types(&self) -> &[EntityType] {
        &self.propagate
    }

    /// A rule set holding just one rule of this one (for `deid rules check` and the
    /// one-rule-at-a-time reference). Dictionaries are shared.
    pub fn only(&self, rule_index: usize) -> RuleSet {
        RuleSet {
            rules: vec![self.rules[rule_index].clone()],
            lexicon: Arc::clone(&self.lexicon),
            propagate: Vec::new(),
            packs: self.packs.clone(),
            dictionaries: self.dictionaries.clone(),
        }
    }
}

/// Layers rule packs into a [`RuleSet`].
///
/// ```
/// let rules = deid_core::RuleSetBuilder::new().bundled().build().unwrap();
/// assert!(rules.rules().len() > 20);
/// ```
#[derive(Debug, Default)]
pub struct RuleSetBuilder {
    layers: Vec<Layer>,
}

#[derive(Debug)]
struct Layer {
    origin: String,
    base_dir: Option<std::path::PathBuf>,
    bundled: bool,
    /// The pack's files: one, or several for a bundled pack split by topic.
    sources: Result<Vec<String>, Error>,
}

impl RuleSetBuilder {
    /// An empty builder: no rules until a pack is added.
    pub fn new() -> RuleSetBuilder {
        RuleSetBuilder::default()
    }

    /// Adds the bundled `safe-harbor` pack.
    pub fn bundled(mut self) -> RuleSetBuilder {
        self.layers.push(Layer {
            origin: format!("bundled:{BUNDLED_PACK}"),
            base_dir: None,
            bundled: true,
            sources: Ok(BUNDLED_FILES
                .iter()
                .filter(|(path, _)| path.starts_with("safe-harbor/"))
                .map(|(_, text)| (*text).to_owned())
                .collect()),
        });
        self
    }

    /// Adds a pack from a TOML file; its dictionary files are resolved beside it.
    pub fn file(mut self, path: &Path) -> RuleSetBuilder {
        let origin = path.display().to_string();
        let sources = std::fs::read_to_string(path)
            .map(|text| vec![text])
            .map_err(|e| Error::new(origin.clone(), None, ErrorKind::Io(e.to_string())));
        self.layers.push(Layer {
            origin,
            base_dir: path.parent().map(Path::to_path_buf),
            bundled: false,
            sources,
        });
        self
    }

    /// Adds a pack from TOML text; `origin` names it in errors.
    pub fn toml(mut self, origin: &str, text: &str) -> RuleSetBuilder {
        self.layers.push(Layer {
            origin: origin.to_owned(),
            base_dir: None,
            bundled: false,
            sources: Ok(vec![text.to_owned()]),
        });
        self
    }

    /// Parses, layers and validates every pack.
    ///
    /// # Errors
    /// The first pack that cannot be read, parsed or validated, naming the pack and rule.
    pub fn build(self) -> Result<RuleSet, Error> {
        let mut rule_specs: Vec<(RuleSpec, Arc<str>)> = Vec::new();
        let mut dictionaries: Vec<LoadedDictionary> = Vec::new();
        let mut propagate = Vec::new();
        let mut packs = Vec::new();
        // Fragments of a pack serve its own rules and those of every later pack.
        let mut fragments = Fragments::default();
        for layer in self.layers {
            let origin = layer.origin;
            let mut spec = PackSpec::default();
            for text in layer.sources? {
                let part: PackSpec =
                    toml::from_str(&text).map_err(|e| parse_error(&origin, &text, &e))?;
                spec.merge(part);
            }
            let pack_name: Arc<str> = spec
                .pack
                .name
                .clone()
                .unwrap_or_else(|| origin.clone())
                .into();
            packs.push(PackInfo {
                name: pack_name.to_string(),
                version: spec.pack.version.clone(),
            });
            for name in &spec.pack.propagate {
                let entity = parse_entity(&origin, None, name)?;
                if !propagate.contains(&entity) {
                    propagate.push(entity);
                }
            }
            for dict in spec.dictionaries {
                let mut words = dict.words;
                if let Some(file) = &dict.file {
                    let text = if layer.bundled {
                        // Bundled pack files sit in `rules/<pack>/`, dictionaries in `rules/dict/`.
                        bundled_file(file.trim_start_matches("../"))
                            .map(str::to_owned)
                            .ok_or_else(|| {
                                Error::new(
                                    origin.clone(),
                                    None,
                                    ErrorKind::Io(format!("no bundled file `{file}`")),
                                )
                            })?
                    } else {
                        let path = layer
                            .base_dir
                            .as_deref()
                            .unwrap_or(Path::new("."))
                            .join(file);
                        read_dictionary(&path).map_err(|message| {
                            Error::new(
                                origin.clone(),
                                None,
                                ErrorKind::Io(format!(
                                    "dictionary `{}`: {message}",
                                    path.display()
                                )),
                            )
                        })?
                    };
                    words.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned),
                    );
                }
                match dictionaries.iter_mut().find(|(id, ..)| *id == dict.id) {
                    Some(existing) => (existing.1, existing.2) = (words, dict.source),
                    None => dictionaries.push((dict.id, words, dict.source)),
                }
            }
            for id in &spec.disable {
                let before = rule_specs.len();
                rule_specs.retain(|(r, _)| r.id != *id);
                if rule_specs.len() == before {
                    return Err(Error::new(
                        origin,
                        Some(id),
                        ErrorKind::Invalid(
                            "`disable` names a rule that no earlier pack defines".into(),
                        ),
                    ));
                }
            }
            let mut seen_fragments = std::collections::HashSet::new();
            for fragment in &spec.fragments {
                if !seen_fragments.insert(fragment.id.as_str()) {
                    return Err(Error::new(
                        origin,
                        None,
                        ErrorKind::Invalid(format!(
                            "fragment `{}` is defined twice in this pack",
                            fragment.id
                        )),
                    ));
                }
                fragments
                    .define(&fragment.id, &fragment.pattern)
                    .map_err(|message| {
                        Error::new(origin.clone(), None, ErrorKind::Invalid(message))
                    })?;
            }
            let mut seen = std::collections::HashSet::new();
            for mut rule in spec.rules {
                for pattern in &mut rule.patterns {
                    *pattern = fragments.expand(pattern).map_err(|message| {
                        Error::new(origin.clone(), Some(&rule.id), ErrorKind::Invalid(message))
                    })?;
                }
                if !seen.insert(rule.id.clone()) {
                    return Err(Error::new(
                        origin,
                        Some(&rule.id),
                        ErrorKind::Invalid("duplicate rule id in this pack".into()),
                    ));
                }
                match rule_specs.iter_mut().find(|(r, _)| r.id == rule.id) {
                    Some(existing) => *existing = (rule, pack_name.clone()),
                    None => rule_specs.push((rule, pack_name.clone())),
                }
            }
        }
        // Bit 63 of a lexicon entry marks the start of a phrase, so 63 dictionaries at most.
        if dictionaries.len() > 63 {
            return Err(Error::new(
                "rule set",
                None,
                ErrorKind::Invalid("more than 63 dictionaries".into()),
            ));
        }
        // PERF: parsing the patterns and hashing the dictionaries are most of a pack's
        // load time, and independent; every rule parses on its own.
        let (rules, lexicon) = rayon::join(
            || {
                try_map_in_order(&rule_specs, |(spec, pack)| {
                    validate_rule(spec, pack, &dictionaries)
                })
            },
            || Lexicon::new(dictionaries.iter().map(|(_, words, _)| words.as_slice())),
        );
        let (rules, lexicon) = (rules?, Arc::new(lexicon));
        let dictionaries = dictionaries
            .into_iter()
            .map(|(id, words, source)| DictionaryInfo {
                id,
                source,
                entries: words.len(),
            })
            .collect();
        Ok(RuleSet {
            rules,
            lexicon,
            propagate,
            packs,
            dictionaries,
        })
    }
}

/// A TOML error as one line — `line L, column C: message` — naming the rule whose table
/// holds the error when there is one.
fn parse_error(origin: &str, text: &str, error: &toml::de::Error) -> Error {
    let message = error.message().replace('\n', " ");
    let Some(span) = error.span() else {
        return Error::new(origin, None, ErrorKind::Parse(message));
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    // The enclosing `[[rule]]` table, and the id it declares.
    let rule = before.rfind("[[rule]]").and_then(|table| {
        let body = &text[table + "[[rule]]".len()..];
        let body = &body[..body.find("\n[").unwrap_or(body.len())];
        body.lines().find_map(|l| {
            let value = l
                .trim()
                .strip_prefix("id")?
                .trim_start()
                .strip_prefix('=')?
                .trim();
            Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned())
        })
    });
    Error::new(
        origin,
        rule.as_deref(),
        ErrorKind::Parse(format!("line {line}, column {column}: {message}")),
    )
}

/// The largest dictionary file a pack may name.
const MAX_DICTIONARY_BYTES: u64 = 64 << 20;

/// Reads a dictionary file: a regular file (not a device or FIFO, which might never end)
/// of at most [`MAX_DICTIONARY_BYTES`].
fn read_dictionary(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_DICTIONARY_BYTES {
        return Err(format!("larger than {} MiB", MAX_DICTIONARY_BYTES >> 20));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// The text of a bundled file, by its path relative to `rules/`.
pub fn bundled_file(path: &str) -> Option<&'static str> {
    BUNDLED_FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
}

fn parse_entity(pack: &str, rule: Option<&str>, name: &str) -> Result<EntityType, Error> {
    name.parse().map_err(|e: crate::entity::UnknownEntityType| {
        Error::new(pack, rule, ErrorKind::Invalid(e.to_string()))
    })
}

/// A dictionary as loaded: id, entries and source.
type LoadedDictionary = (String, Vec<String>, Option<String>);

fn dictionary_index(dictionaries: &[LoadedDictionary], name: &str) -> Option<usize> {
    dictionaries.iter().position(|(id, ..)| id == name)
}

fn validate_rule(
    spec: &RuleSpec,
    pack: &Arc<str>,
    dictionaries: &[LoadedDictionary],
) -> Result<Rule, Error> {
    let id = spec.id.as_str();
    let invalid =
        |message: String| Error::new(pack.to_string(), Some(id), ErrorKind::Invalid(message));
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(invalid(
            "ids use letters, digits, `.`, `-` and `_` only".into(),
        ));
    }
    let entity = parse_entity(pack, Some(id), &spec.entity)?;
    let confidence =
        unit_interval(spec.confidence.unwrap_or(0.8), "confidence").map_err(&invalid)?;
    let dict_mask = |names: &[String], key: &str| -> Result<u64, Error> {
        names.iter().try_fold(0u64, |mask, name| {
            let index = dictionary_index(dictionaries, name)
                .ok_or_else(|| invalid(format!("`{key}` names unknown dictionary `{name}`")))?;
            Ok(mask | 1 << index)
        })
    };
    let kind = match (spec.patterns.is_empty(), spec.dictionaries.is_empty()) {
        (false, _) => {
            let hirs = spec
                .patterns
                .iter()
                .map(|pattern| crate::matcher::parse_pattern(pattern))
                .collect::<Result<Box<[Hir]>, String>>()
                .map_err(|m| Error::new(pack.to_string(), Some(id), ErrorKind::Pattern(m)))?;
            let word_keys = [
                (!spec.common.is_empty(), "common"),
                (spec.case.is_some(), "case"),
                (spec.max_words.is_some(), "max_words"),
                (spec.join_bonus.is_some(), "join_bonus"),
                (!spec.unlisted_after.is_empty(), "unlisted_after"),
                (!spec.unlisted_before.is_empty(), "unlisted_before"),
                (!spec.lifted_after_given.is_empty(), "lifted_after_given"),
                (!spec.particles.is_empty(), "particles"),
                (spec.common_penalty.is_some(), "common_penalty"),
            ];
            if let Some((_, key)) = word_keys.iter().find(|(set, _)| *set) {
                return Err(invalid(format!(
                    "`{key}` applies to word rules (`dictionaries` without `patterns`) only"
                )));
            }
            RuleKind::Pattern {
                patterns: spec.patterns.clone().into_boxed_slice(),
                hirs,
                exclude: dict_mask(&spec.exclude, "exclude")?,
                listed: dict_mask(&spec.dictionaries, "dictionaries")?,
            }
        }
        (true, false) => {
            // An unlisted word joins a match of these lists only: a list the rule does not
            // match would never take effect, which is a mistake worth naming.
            for (key, names) in [
                ("unlisted_after", &spec.unlisted_after),
                ("unlisted_before", &spec.unlisted_before),
            ] {
                if let Some(name) = names.iter().find(|name| !spec.dictionaries.contains(name)) {
                    return Err(invalid(format!(
                        "`{key}` names `{name}`, which is not one of the rule's `dictionaries`"
                    )));
                }
            }
            if !spec.lifted_after_given.is_empty() && spec.unlisted_after.is_empty() {
                return Err(invalid(
                    "`lifted_after_given` needs `unlisted_after` (the given-name lists)".into(),
                ));
            }
            // Both act only where words join into runs.
            let joins = spec.join_bonus.is_some_and(|bonus| bonus > 0.0);
            for (key, names) in [
                ("lifted_after_given", &spec.lifted_after_given),
                ("particles", &spec.particles),
            ] {
                if !names.is_empty() && !joins {
                    return Err(invalid(format!(
                        "`{key}` acts where words join into runs, which needs a `join_bonus` above 0"
                    )));
                }
            }
            RuleKind::Words(WordRule {
                include: dict_mask(&spec.dictionaries, "dictionaries")?,
                exclude: dict_mask(&spec.exclude, "exclude")?,
                common: dict_mask(&spec.common, "common")?,
                common_penalty: unit_interval(spec.common_penalty.unwrap_or(0.3), "common_penalty")
                    .map_err(&invalid)?,
                case: match spec.case.as_deref() {
                    None | Some("any") => CaseRule::Any,
                    Some("title") => CaseRule::Title,
                    Some("upper") => CaseRule::Upper,
                    Some("title-or-upper") => CaseRule::TitleOrUpper,
                    Some(other) => {
                        return Err(invalid(format!(
                            "unknown case `{other}` (any, title, upper, title-or-upper)"
                        )));
                    }
                },
                max_words: match spec.max_words.unwrap_or(1) {
                    n @ 1..=8 => n,
                    n => return Err(invalid(format!("max_words {n} is outside 1..=8"))),
                },
                join_bonus: unit_interval(spec.join_bonus.unwrap_or(0.0), "join_bonus")
                    .map_err(&invalid)?,
                unlisted_after: dict_mask(&spec.unlisted_after, "unlisted_after")?,
                unlisted_before: dict_mask(&spec.unlisted_before, "unlisted_before")?,
                lifted_after_given: dict_mask(&spec.lifted_after_given, "lifted_after_given")?,
                particles: dict_mask(&spec.particles, "particles")?,
            })
        }
        (true, true) => {
            return Err(invalid("a rule needs `patterns` or `dictionaries`".into()));
        }
    };
    let validators = spec
        .validators
        .iter()
        .map(|name| {
            Validator::from_name(name).ok_or_else(|| invalid(format!("unknown validator `{name}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let context = spec
        .context
        .iter()
        .map(|c| validate_context(c, dictionaries).map_err(&invalid))
        .collect::<Result<Vec<_>, _>>()?;
    if spec.examples.is_empty() {
        return Err(invalid("a rule needs at least one example".into()));
    }
    Ok(Rule {
        id: id.into(),
        name: spec.name.clone().unwrap_or_else(|| id.to_owned()).into(),
        entity,
        kind,
        validators: validators.into(),
        confidence,
        context: context.into(),
        references: spec.references.clone().into(),
        examples: spec
            .examples
            .iter()
            .map(|e| (e.text.clone(), e.expected.clone()))
            .collect(),
        negative_examples: spec.negative_examples.clone().into(),
        pack: pack.clone(),
    })
}

fn validate_context(
    spec: &ContextSpec,
    dictionaries: &[LoadedDictionary],
) -> Result<Context, String> {
    let effect = match spec.effect.as_str() {
        "raise" => ContextEffect::Raise(unit_interval(spec.amount.unwrap_or(0.2), "amount")?),
        "lower" => ContextEffect::Lower(unit_interval(spec.amount.unwrap_or(0.2), "amount")?),
        "require" | "forbid" if spec.amount.is_some() => {
            return Err(format!(
                "context effect `{}` takes no `amount`",
                spec.effect
            ));
        }
        "require" => ContextEffect::Require,
        "forbid" => ContextEffect::Forbid,
        other => {
            return Err(format!(
                "unknown context effect `{other}` (raise, lower, require, forbid)"
            ));
        }
    };
    let side = match spec.side.as_deref() {
        None | Some("both") => Side::Both,
        Some("before") => Side::Before,
        Some("after") => Side::After,
        Some(other) => {
            return Err(format!(
                "unknown context side `{other}` (before, after, both)"
            ));
        }
    };
    let window = spec.window.unwrap_or(40);
    if window == 0 || window > 1024 {
        return Err(format!("context window {window} is outside 1..=1024 bytes"));
    }
    let exact_case = match spec.case.as_deref() {
        None | Some("any") => false,
        Some("exact") => true,
        Some(other) => return Err(format!("unknown context case `{other}` (any, exact)")),
    };
    let mut listed = Vec::new();
    for name in &spec.dictionaries {
        let index = dictionary_index(dictionaries, name)
            .ok_or_else(|| format!("context names unknown dictionary `{name}`"))?;
        listed.extend(&dictionaries[index].1);
    }
    let words: Vec<String> = spec
        .words
        .iter()
        .chain(listed)
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if exact_case {
                w.to_owned()
            } else {
                w.to_lowercase()
            }
        })
        .collect();
    if words.is_empty() {
        return Err("a context entry needs at least one word (`words` or `dictionaries`)".into());
    }
    Ok(Context {
        words: words.into(),
        effect,
        window,
        side,
        exact_case,
    })
}

fn unit_interval(value: f32, key: &str) -> Result<f32, String> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{key}` {value} is outside 0..=1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_must_be_regular_files() {
        let pack = "[[dictionary]]\nid = \"d\"\nfile = \"/dev/zero\"\n";
        let error = RuleSetBuilder::new()
            .toml("user.toml", pack)
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }

    #[test]
    fn of_several_invalid_rules_the_first_in_pack_order_is_reported() {
        // Rules are validated in parallel; the error must not depend on which finishes first.
        let pack: String = (0..32)
            .map(|i| format!("[[rule]]\nid = \"r{i:02}\"\ntype = \"NAME\"\npatterns = ['(']\n"))
            .collect();
        for _ in 0..8 {
            let error = RuleSetBuilder::new()
                .toml("user.toml", &pack)
                .build()
                .unwrap_err();
            assert!(error.to_string().contains("r00"), "{error}");
        }
    }

    const SHARED_CONTEXT_PACK: &str = r#"
[[dictionary]]
id = "product-words"
words = ["lot", "catalog"]

[[rule]]
id = "bare-number"
type = "OTHER_ID"
patterns = ['(?-u:\b)[0-9]{5}(?-u:\b)']
context = [{ words = ["batch"], dictionaries = ["product-words"], effect = "forbid", window = 8, side = "before" }]
examples = [{ text = "room 12345", match = "12345" }]
"#;

    #[test]
    fn context_entries_take_the_words_of_named_dictionaries() {
        let rules = RuleSetBuilder::new()
            .toml("shared.toml", SHARED_CONTEXT_PACK)
            .build()
            .unwrap();
        let matcher = crate::Matcher::new(rules).unwrap();
        for vetoed in ["lot 12345", "Catalog 12345", "batch 12345"] {
            assert!(matcher.scan(vetoed.as_bytes()).is_empty(), "{vetoed}");
        }
        assert_eq!(matcher.scan(b"room 12345").len(), 1);
    }

    #[test]
    fn a_context_entry_naming_an_unknown_dictionary_is_an_error() {
        let pack = SHARED_CONTEXT_PACK.replace("[\"product-words\"]", "[\"missing\"]");
        let error = RuleSetBuilder::new()
            .toml("shared.toml", &pack)
            .build()
            .unwrap_err();
        assert!(
            error.to_string().contains("unknown dictionary `missing`"),
            "{error}"
        );
    }

    #[test]
    fn unlisted_joins_name_lists_the_rule_matches() {
        let pack = r#"
[[dictionary]]
id = "given"
words = ["Anna"]

[[dictionary]]
id = "family"
words = ["Szasz"]

[[rule]]
id = "names"
type = "NAME"
dictionaries = ["given"]
unlisted_after = ["family"]
examples = [{ text = "Anna", match = "Anna" }]
"#;
        let error = RuleSetBuilder::new()
            .toml("user.toml", pack)
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`unlisted_after` names `family`, which is not one of the rule's"),
            "{error}"
        );
        let fixed = pack.replace("[\"given\"]\nunlisted", "[\"given\", \"family\"]\nunlisted");
        RuleSetBuilder::new()
            .toml("user.toml", &fixed)
            .build()
            .unwrap();
    }

    #[test]
    fn lifted_vetoes_need_given_names_and_joins() {
        let pack = r#"
[[dictionary]]
id = "given"
words = ["John"]

[[dictionary]]
id = "guard"
words = ["Thompson"]

[[rule]]
id = "names"
type = "NAME"
dictionaries = ["given"]
exclude = ["guard"]
lifted_after_given = ["guard"]
join_bonus = 0.1
examples = [{ text = "John", match = "John" }]
"#;
        let build = |pack: &str| {
            RuleSetBuilder::new()
                .toml("user.toml", pack)
                .build()
                .map(drop)
                .map_err(|e| e.to_string())
        };
        let error = build(pack).unwrap_err();
        assert!(
            error.contains("`lifted_after_given` needs `unlisted_after`"),
            "{error}"
        );
        let with_given = pack.replace("exclude =", "unlisted_after = [\"given\"]\nexclude =");
        build(&with_given).unwrap();
        let error = build(&with_given.replace("join_bonus = 0.1", "join_bonus = 0.0")).unwrap_err();
        assert!(error.contains("needs a `join_bonus` above 0"), "{error}");
    }

    const FRAGMENT_PACK: &str = r#"
[[fragment]]
id = "DIGITS"
pattern = '[0-9]{3}'

[[rule]]
id = "code"
type = "OTHER_ID"
patterns = ['code {{DIGITS}}-{{DIGITS}}']
examples = [{ text = "code 123-456", match = "code 123-456" }]
"#;

    #[test]
    fn patterns_use_fragments_of_their_own_and_earlier_packs() {
        let user = r#"
[[rule]]
id = "user.code"
type = "OTHER_ID"
patterns = ['ref {{DIGITS}}']
examples = [{ text = "ref 123", match = "ref 123" }]
"#;
        let rules = RuleSetBuilder::new()
            .toml("base.toml", FRAGMENT_PACK)
            .toml("user.toml", user)
            .build()
            .unwrap();
        let patterns: Vec<&str> = rules
            .rules()
            .iter()
            .flat_map(|rule| rule.patterns())
            .map(String::as_str)
            .collect();
        assert_eq!(
            patterns,
            ["code (?:[0-9]{3})-(?:[0-9]{3})", "ref (?:[0-9]{3})"]
        );
        let report = crate::check::check_rules(&rules, &crate::MatchOptions::default());
        assert!(report.failures.is_empty(), "{:?}", report.failures);
    }

    #[test]
    fn fragment_errors_name_the_pack_and_what_is_wrong() {
        let cases = [
            (
                FRAGMENT_PACK.replace("{{DIGITS}}-", "{{DIGIT}}-"),
                "user.toml: rule `code`: `{{DIGIT}}` names no fragment of this pack or an earlier one",
            ),
            (
                format!("{FRAGMENT_PACK}\n[[fragment]]\nid = \"DIGITS\"\npattern = 'x'\n"),
                "fragment `DIGITS` is defined twice in this pack",
            ),
            (
                FRAGMENT_PACK.replace("id = \"DIGITS\"", "id = \"3DIGITS\""),
                "fragment id `3DIGITS`",
            ),
        ];
        for (pack, expected) in cases {
            let error = RuleSetBuilder::new()
                .toml("user.toml", &pack)
                .build()
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
