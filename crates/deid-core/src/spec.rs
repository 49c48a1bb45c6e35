//! The serde form of a rule pack: exactly what a TOML file may say, nothing validated yet.
//!
//! Every struct denies unknown fields, so a misspelt key is an error rather than a rule
//! that silently does less than its author meant. [`crate::pack`] turns this form into
//! validated, immutable rules.

use serde::Deserialize;

/// A whole rule pack file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSpec {
    /// Name, version and pack-wide settings.
    #[serde(default)]
    pub pack: PackHeader,
    /// Named pieces of patterns that patterns insert as `{{ID}}`, in definition order.
    #[serde(default, rename = "fragment")]
    pub fragments: Vec<FragmentSpec>,
    /// Word lists the rules refer to by id.
    #[serde(default, rename = "dictionary")]
    pub dictionaries: Vec<DictionarySpec>,
    /// The rules, in priority order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
    /// Ids of rules from earlier packs to switch off.
    #[serde(default)]
    pub disable: Vec<String>,
}

impl PackSpec {
    /// Appends another file of the same pack: its rules and dictionaries follow ours, and
    /// its header fills in what ours leaves out.
    pub(crate) fn merge(&mut self, other: PackSpec) {
        let header = &mut self.pack;
        header.name = header.name.take().or(other.pack.name);
        header.version = header.version.take().or(other.pack.version);
        header.description = header.description.take().or(other.pack.description);
        header.propagate.extend(other.pack.propagate);
        self.fragments.extend(other.fragments);
        self.dictionaries.extend(other.dictionaries);
        self.rules.extend(other.rules);
        self.disable.extend(other.disable);
    }
}

/// The `[pack]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackHeader {
    /// The pack's name, for example `safe-harbor`.
    #[serde(default)]
    pub name: Option<String>,
    /// The pack's version.
    #[serde(default)]
    pub version: Option<String>,
    /// One line on what the pack is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Entity types whose confirmed values are searched again across the whole document.
    #[serde(default)]
    pub propagate: Vec<String>,
}

/// A `[[fragment]]` entry: a piece of a pattern with a name, so that a building block such
/// as a title-case name word is written once rather than in every pattern that needs it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FragmentSpec {
    /// The name patterns use, as `{{ID}}`: ASCII letters, digits and `_`, not starting
    /// with a digit.
    pub id: String,
    /// The regex text; it may use fragments defined before it.
    pub pattern: String,
}

/// A `[[dictionary]]` entry: a word list, inline or in a file beside the pack.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionarySpec {
    /// The id rules use to refer to this list.
    pub id: String,
    /// A file, one entry per line, relative to the pack file.
    #[serde(default)]
    pub file: Option<String>,
    /// Inline entries.
    #[serde(default)]
    pub words: Vec<String>,
    /// Where the data comes from, for the record.
    #[serde(default)]
    pub source: Option<String>,
}

/// A `[[rule]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable dotted id, for example `ssn.dashed`.
    pub id: String,
    /// Human-readable name.
    #[serde(default)]
    pub name: Option<String>,
    /// The entity type the rule reports, for example `SSN`.
    #[serde(rename = "type")]
    pub entity: String,
    /// Regular expressions (pattern rules). The span is the group named `value` when the
    /// pattern has one, else the whole match.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Dictionaries whose entries the rule matches as whole words (word rules), or one of
    /// which must hold every word of a pattern rule's candidate (`pt maria gonzalez`: names
    /// in lower case are names only when the lists know them).
    #[serde(default)]
    pub dictionaries: Vec<String>,
    /// Dictionaries whose entries never match (word rules), or whose words veto a pattern
    /// rule's candidate that holds one (a cue pattern's `says Cardiology`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Dictionaries whose entries lower the confidence by `common_penalty` (word rules).
    #[serde(default)]
    pub common: Vec<String>,
    /// How much a `common` entry lowers the confidence.
    #[serde(default)]
    pub common_penalty: Option<f32>,
    /// Required letter case of a word-rule match: `any`, `title`, `upper`, `title-or-upper`.
    #[serde(default)]
    pub case: Option<String>,
    /// Longest run of words a word rule joins into one match.
    #[serde(default)]
    pub max_words: Option<usize>,
    /// Confidence added per extra word joined into a word-rule match.
    #[serde(default)]
    pub join_bonus: Option<f32>,
    /// Dictionaries (of the rule's own `dictionaries`) after whose words one capitalised
    /// word that no dictionary holds joins a one-word match, with `join_bonus` (a surname
    /// the lists lack after a known first name: `Mark Roseby`, `Anna K. Szász`). With it,
    /// such a word coordinated with a match that is not a common word is a match of its
    /// own (`Abramovich and Wilson`, `Efimiya, Mary`).
    #[serde(default)]
    pub unlisted_after: Vec<String>,
    /// Dictionaries (of the rule's own `dictionaries`) before whose words, matched alone,
    /// one capitalised word that no dictionary holds joins the match, without `join_bonus`
    /// (a given name the lists lack before a known surname: `Weronika Martinsen`).
    #[serde(default)]
    pub unlisted_before: Vec<String>,
    /// Dictionaries of words that `exclude` does not veto right after a lone word of an
    /// `unlisted_after` dictionary that is no common word, when the rule's `dictionaries`
    /// hold them: the guard list holds eponyms that are also common surnames, and after a
    /// given name they are surnames (`John Thompson`, `Lisa Murphy`), while `Thompson
    /// splint` and `Murphy sign` stay vetoed.
    #[serde(default)]
    pub lifted_after_given: Vec<String>,
    /// Dictionaries of lower-case words that may stand, one or two, between two words of
    /// a joined run; the title-case word after them joins even when no dictionary holds it
    /// (`Angelina van Hemert`, `Rodrigo de la Cruz`).
    #[serde(default)]
    pub particles: Vec<String>,
    /// Validators every candidate must pass, by name.
    #[serde(default)]
    pub validators: Vec<String>,
    /// Base confidence in `[0, 1]`.
    #[serde(default)]
    pub confidence: Option<f32>,
    /// Context words that raise, lower, require or forbid.
    #[serde(default)]
    pub context: Vec<ContextSpec>,
    /// Links that explain the identifier.
    #[serde(default)]
    pub references: Vec<String>,
    /// Texts the rule must match, with the expected value.
    #[serde(default)]
    pub examples: Vec<ExampleSpec>,
    /// Texts the rule must not match.
    #[serde(default)]
    pub negative_examples: Vec<String>,
}

/// A `[[rule.context]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Words or short phrases, matched as whole words, in any case unless `case` is `exact`.
    #[serde(default)]
    pub words: Vec<String>,
    /// `[[dictionary]]` ids whose entries count as words of this entry too, so rules can
    /// share one list. They are matched as context words (whole words, in any case unless
    /// `case` is `exact`), not with a dictionary's folding of diacritics; the ids resolve
    /// after every pack has loaded, so a later pack's version of a dictionary applies.
    #[serde(default)]
    pub dictionaries: Vec<String>,
    /// `raise`, `lower`, `require` or `forbid`.
    pub effect: String,
    /// For `raise` and `lower`: how much the confidence moves.
    #[serde(default)]
    pub amount: Option<f32>,
    /// Bytes to look at on each side of the candidate.
    #[serde(default)]
    pub window: Option<usize>,
    /// `before`, `after` or `both` (the default).
    #[serde(default)]
    pub side: Option<String>,
    /// `any` (the default) or `exact`: an exact entry's words count only as written, so a
    /// state code `IN` or `OR` is not the English word `in` or `or`.
    #[serde(default)]
    pub case: Option<String>,
}

/// An example: a text and the value the rule must report in it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleSpec {
    /// The input text.
    pub text: String,
    /// The exact value the rule must report (its first occurrence in `text`).
    #[serde(rename = "match")]
    pub expected: String,
}
