//! The matcher: compile a rule set once, then scan any number of texts from any thread.
//!
//! # How a scan works
//!
//! 1. **Candidates, one pass per pattern family.** Patterns that start with a few literals
//!    (labels such as `MRN`) form one family across all types, which a literal prefilter
//!    skips through; the other patterns of each entity type form a family. Each family is
//!    compiled into one leftmost-first multi-pattern automaton
//!    (regex-automata's meta engine: literal prefilters in front of a lazy DFA). One pass of
//!    each family's automaton over the text yields its *union matches*. The text is cut into
//!    segments at blank lines (at most [`MAX_SEGMENT`] bytes); a family with no union match
//!    in a segment costs nothing more there. Otherwise each of its patterns runs alone,
//!    but only inside *windows*: the union matches widened by the pattern's longest possible
//!    match (the whole segment for unbounded patterns). Dictionary rules split the text into
//!    words once ([`crate::words`]) and look each capitalised word up in one hash map
//!    ([`crate::lexicon`]).
//! 2. **Confirmation, per candidate.** Validators (checksums, calendars, ranges) and context
//!    (words near the candidate, found by one Aho-Corasick automaton over a small window)
//!    set or veto each candidate's confidence. Candidates under the minimum confidence are
//!    dropped.
//! 3. **Propagation.** For entity types the pack lists in `propagate` (names, by default),
//!    each word of a confirmed value is searched again across the whole text, so a name
//!    seen once with a title (`Dr. Żukowski`) is also caught alone (`Żukowski agreed`).
//! 4. **Overlaps.** Overlapping findings resolve deterministically: the higher confidence
//!    wins; then the longer span; then the rule that comes first in the pack; then the
//!    earlier start. Findings come out sorted by start and never overlap.
//!
//! # Why the windows are exact
//!
//! The windowed search reports exactly what each pattern reports when run alone over the
//! segment (the one-rule-at-a-time reference in the tests checks this). Let `q` be a
//! pattern of a family and `[a, b)` a match of `q` alone. The family's leftmost-first
//! iteration, resumed at or before `a`, finds a match starting at or before `a` (since `q`
//! matches at `a`) and either it or a later one ends after `a`: every match of `q` overlaps
//! some union match `U`. If `q` matches at most `L` bytes, `[a, b)` lies inside
//! `[U.start - L, U.end + L]`. Merged, these windows hold every match of `q` whole, so no
//! match of `q` crosses a window edge, and `q`'s own leftmost-first iteration, started at
//! each window's start, finds the same next match as the iteration over the whole segment.
//! Look-around (`^`, `(?-u:\b)`) sees the whole text, so cutting the search range changes
//! nothing else.
//!
//! A pattern with a Unicode word boundary is refused at load: the lazy DFA cannot evaluate
//! one on non-ASCII text, and would hand the whole family to a much slower engine.
//!
//! Because a segment boundary is a blank line, no finding spans a blank line, and none
//! spans the cut of an over-long segment.

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Input, meta};

use crate::context::{ContextEffect, Side};
use crate::error::{Error, ErrorKind};
use crate::finding::Finding;
use crate::lexicon::{CaseRule, STARTS_PHRASE, push_normalized};
use crate::pack::{Rule, RuleKind, RuleSet, WordRule};
use crate::words::{Word, words_into};

/// The largest segment the automaton pass looks at in one go.
pub const MAX_SEGMENT: usize = 64 * 1024;

/// The confidence a finding needs, unless the caller sets another.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.5;

/// The lazy DFA cache of a family's union automaton. PERF: a union of a hundred patterns
/// needs many states; with the default 2 MiB the cache thrashes and the meta engine falls
/// back to the PikeVM, 20-40x slower. The cache grows only as states are built.
const UNION_CACHE_BYTES: usize = 64 << 20;

/// How much lower a propagated finding's confidence is than the finding it came from.
const PROPAGATION_DISCOUNT: f32 = 0.05;

/// A compiled rule set. Cheap to clone, `Send + Sync`; scan with a per-thread [`Scratch`].
#[derive(Clone, Debug)]
pub struct Matcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: RuleSet,
    /// Pattern families, each with its union automaton.
    families: Vec<Family>,
    /// Every pattern of every pattern rule.
    patterns: Vec<CompiledPattern>,
    /// Indexes of dictionary rules.
    word_rules: Vec<usize>,
    /// Whether some dictionary rule matches words of any case.
    any_case: bool,
    /// Context words of every rule, as one automaton.
    context_words: Option<AhoCorasick>,
    /// Context entries per rule, by rule index.
    contexts: Vec<RuleContext>,
    /// The longest context word in bytes: a word counts when its near edge is in the
    /// window, so the search reaches this much further.
    longest_context_word: usize,
    /// Dictionary bits that block propagation (the `exclude` lists of word rules).
    propagation_guard: u64,
    min_confidence: f32,
}

#[derive(Debug)]
struct CompiledPattern {
    rule: usize,
    regex: meta::Regex,
    /// Capture group index of `value`, when the pattern names one.
    value_group: Option<usize>,
    /// The longest match in bytes, when bounded.
    max_len: Option<usize>,
}

/// Patterns searched together: the union automaton's pattern `i` is `members[i]`.
#[derive(Debug)]
struct Family {
    union: meta::Regex,
    members: Vec<usize>,
}

#[derive(Debug, Default)]
struct RuleContext {
    entries: Vec<ContextEntry>,
    max_window: usize,
}

#[derive(Debug)]
struct ContextEntry {
    /// Sorted pattern ids in `context_words`.
    words: Vec<u32>,
    effect: ContextEffect,
    window: usize,
    side: Side,
}

/// Mutable per-thread state for [`Matcher::scan_into`]. Reuse it: creating one allocates.
///
/// Its buffers hold pieces of the last scanned text, so its `Debug` output shows sizes only.
pub struct Scratch {
    family_caches: Vec<meta::Cache>,
    pattern_caches: Vec<meta::Cache>,
    captures: Vec<Captures>,
    union_matches: Vec<(usize, usize)>,
    windows: Vec<(usize, usize)>,
    words: Vec<Word>,
    all_masks: Vec<u64>,
    any_masks: Vec<u64>,
    key: String,
    candidates: Vec<Finding>,
    stats: Vec<RuleStats>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch")
            .field("patterns", &self.pattern_caches.len())
            .field("candidates", &self.candidates.len())
            .field("words", &self.words.len())
            .finish_non_exhaustive()
    }
}

/// Counters per rule, accumulated by every scan with one [`Scratch`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleStats {
    /// Spans the rule's pattern or dictionary produced, before validation and context.
    pub candidates: u64,
    /// Candidates that passed validators and context.
    pub confirmed: u64,
}

/// Options for compiling a [`Matcher`].
#[derive(Clone, Debug)]
pub struct MatchOptions {
    /// Findings below this confidence are not reported.
    pub min_confidence: f32,
}

impl Default for MatchOptions {
    fn default() -> MatchOptions {
        MatchOptions {
            min_confidence: DEFAULT_MIN_CONFIDENCE,
        }
    }
}

fn syntax_config() -> syntax::Config {
    // Patterns run on bytes that may not be UTF-8; Unicode classes still match where it is.
    syntax::Config::new().utf8(false)
}

/// What compiling a pattern tells about it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PatternShape {
    /// The longest match in bytes, when bounded.
    pub(crate) max_len: Option<usize>,
    /// Whether every match starts with one of a few literals of 3 bytes or more (a label
    /// such as `MRN`), so a literal prefilter can skip the text between them.
    pub(crate) literal_prefix: bool,
}

/// Parses a pattern: its shape, or why it is refused (it does not parse, can match the
/// empty string, or uses a Unicode word boundary). Compiling happens in the matcher.
pub(crate) fn pattern_shape(pattern: &str) -> Result<PatternShape, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    if hir.properties().minimum_len() == Some(0) {
        return Err("the pattern can match the empty string".into());
    }
    // PERF: the lazy DFA cannot evaluate a Unicode word boundary on non-ASCII text, so one
    // such pattern would push the whole one-pass automaton onto the PikeVM, ~20x slower.
    if hir.properties().look_set().contains_word_unicode() {
        return Err(
            "Unicode word boundaries (`\\b`, `\\B` with Unicode on) make the one-pass automaton \
                    fall back to a slow engine on non-ASCII text; use `(?-u:\\b)` for ASCII \
                    identifiers, or a class such as `[^\\p{L}]` / no boundary for names"
                .into(),
        );
    }
    Ok(PatternShape {
        max_len: hir.properties().maximum_len(),
        literal_prefix: has_literal_prefix(&hir),
    })
}

/// Whether a prefilter can find every start of `hir`: a finite set of at most 64 prefix
/// literals, each at least 3 bytes long.
fn has_literal_prefix(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix).limit_total(256);
    let prefixes = extractor.extract(hir);
    prefixes.literals().is_some_and(|literals| {
        !literals.is_empty() && literals.len() <= 64 && literals.iter().all(|l| l.len() >= 3)
    })
}

impl Matcher {
    /// Compiles a rule set with the default options.
    ///
    /// # Errors
    /// When the combined automaton exceeds its size limits.
    pub fn new(rules: RuleSet) -> Result<Matcher, Error> {
        Matcher::with_options(rules, &MatchOptions::default())
    }

    /// Compiles a rule set.
    ///
    /// Cost: building the automaton for the bundled pack takes tens of milliseconds; do it
    /// once and share the matcher.
    ///
    /// # Errors
    /// When the combined automaton exceeds its size limits.
    pub fn with_options(rules: RuleSet, options: &MatchOptions) -> Result<Matcher, Error> {
        let build_error = |rule: Option<&str>, message: String| {
            Error::new("rule set", rule, ErrorKind::Pattern(message))
        };
        let mut patterns = Vec::new();
        // Pattern indexes per family. PERF: one family per type measured best on notes (two
        // big families build huge DFAs; one per rule makes too many passes), and pulling the
        // literal-prefixed patterns into one prefiltered family saved another ~20%.
        // `None` is the family of literal-prefixed patterns of every type: one prefiltered pass.
        let mut family_members: std::collections::BTreeMap<Option<crate::EntityType>, Vec<usize>> =
            Default::default();
        let mut sources = Vec::new();
        let mut word_rules = Vec::new();
        let mut any_case = false;
        let mut propagation_guard = 0;
        for (index, rule) in rules.rules.iter().enumerate() {
            match &rule.kind {
                RuleKind::Pattern { patterns: list } => {
                    for pattern in list.iter() {
                        let shape =
                            pattern_shape(pattern).map_err(|m| build_error(Some(rule.id()), m))?;
                        let regex = meta::Regex::builder()
                            .syntax(syntax_config())
                            .build(pattern)
                            .map_err(|e| build_error(Some(rule.id()), e.to_string()))?;
                        let value_group = regex
                            .group_info()
                            .to_index(regex_automata::PatternID::ZERO, "value");
                        let family = if shape.literal_prefix {
                            None
                        } else {
                            Some(rule.entity)
                        };
                        family_members
                            .entry(family)
                            .or_default()
                            .push(patterns.len());
                        patterns.push(CompiledPattern {
                            rule: index,
                            regex,
                            value_group,
                            max_len: shape.max_len,
                        });
                        sources.push(pattern.as_str());
                    }
                }
                RuleKind::Words(word) => {
                    word_rules.push(index);
                    any_case |= word.case == CaseRule::Any;
                    propagation_guard |= word.exclude;
                }
            }
        }
        let mut families = Vec::new();
        for members in family_members.into_values() {
            let family_sources: Vec<&str> = members.iter().map(|&i| sources[i]).collect();
            let union = meta::Regex::builder()
                .configure(
                    meta::Config::new()
                        .utf8_empty(false)
                        .hybrid_cache_capacity(UNION_CACHE_BYTES),
                )
                .syntax(syntax_config())
                .build_many(&family_sources)
                .map_err(|e| build_error(None, e.to_string()))?;
            families.push(Family { union, members });
        }
        let (context_words, contexts) =
            compile_contexts(&rules.rules).map_err(|m| build_error(None, m))?;
        let longest_context_word = rules
            .rules
            .iter()
            .flat_map(|r| r.context.iter())
            .flat_map(|c| c.words.iter())
            .map(String::len)
            .max()
            .unwrap_or(0);
        Ok(Matcher {
            inner: Arc::new(Inner {
                rules,
                families,
                patterns,
                word_rules,
                any_case,
                context_words,
                contexts,
                longest_context_word,
                propagation_guard,
                min_confidence: options.min_confidence,
            }),
        })
    }

    /// The rule set this matcher was compiled from.
    pub fn rules(&self) -> &RuleSet {
        &self.inner.rules
    }

    /// The rule a finding's [`Finding::rule`] index refers to.
    ///
    /// # Panics
    /// If `index` is not a rule index of this matcher.
    pub fn rule(&self, index: usize) -> &Rule {
        &self.inner.rules.rules[index]
    }

    /// The minimum confidence of reported findings.
    pub fn min_confidence(&self) -> f32 {
        self.inner.min_confidence
    }

    /// Fresh scratch space for this matcher.
    pub fn scratch(&self) -> Scratch {
        let inner = &self.inner;
        Scratch {
            family_caches: inner
                .families
                .iter()
                .map(|f| f.union.create_cache())
                .collect(),
            pattern_caches: inner
                .patterns
                .iter()
                .map(|p| p.regex.create_cache())
                .collect(),
            captures: inner
                .patterns
                .iter()
                .map(|p| p.regex.create_captures())
                .collect(),
            union_matches: Vec::new(),
            windows: Vec::new(),
            words: Vec::new(),
            all_masks: Vec::new(),
            any_masks: Vec::new(),
            key: String::new(),
            candidates: Vec::new(),
            stats: vec![RuleStats::default(); inner.rules.rules.len()],
        }
    }

    /// Scans `text` and replaces the contents of `out` with the findings, sorted by start
    /// and never overlapping.
    ///
    /// `text` may be any bytes: invalid UTF-8 never panics, and offsets are byte offsets.
    /// Cost is linear in the text; the scratch space keeps allocations flat across calls.
    pub fn scan_into(&self, text: &[u8], scratch: &mut Scratch, out: &mut Vec<Finding>) {
        out.clear();
        self.confirmed_candidates(text, scratch, true, &mut Dispatch::Automaton);
        resolve_overlaps(&mut scratch.candidates, out);
    }

    /// Scans `text` and returns the findings (allocates; prefer [`Matcher::scan_into`]).
    pub fn scan(&self, text: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_into(text, &mut self.scratch(), &mut out);
        out
    }

    /// Every confirmed candidate before propagation and overlap resolution, in no
    /// particular order. This is what the one-rule-at-a-time reference is checked against.
    pub fn candidates_into(&self, text: &[u8], scratch: &mut Scratch, out: &mut Vec<Finding>) {
        self.confirmed_candidates(text, scratch, false, &mut Dispatch::Automaton);
        out.clear();
        out.extend_from_slice(&scratch.candidates);
    }

    /// [`Matcher::candidates_into`] without the automaton: every pattern runs alone over
    /// every segment. Slow; it exists as the reference the fast path must agree with.
    #[doc(hidden)]
    pub fn reference_candidates_into(
        &self,
        text: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<Finding>,
    ) {
        self.confirmed_candidates(text, scratch, false, &mut Dispatch::EachPattern);
        out.clear();
        out.extend_from_slice(&scratch.candidates);
    }

    /// Per-rule counters accumulated in `scratch`, indexed like [`RuleSet::rules`].
    pub fn stats<'s>(&self, scratch: &'s Scratch) -> &'s [RuleStats] {
        &scratch.stats
    }

    fn confirmed_candidates(
        &self,
        text: &[u8],
        scratch: &mut Scratch,
        propagate: bool,
        dispatch: &mut Dispatch,
    ) {
        scratch.candidates.clear();
        self.pattern_candidates(text, scratch, dispatch);
        self.word_candidates(text, scratch);
        if propagate && !self.inner.rules.propagate.is_empty() {
            self.propagate(text, scratch);
        }
    }

    fn pattern_candidates(&self, text: &[u8], scratch: &mut Scratch, dispatch: &mut Dispatch) {
        let inner = &*self.inner;
        if inner.patterns.is_empty() {
            return;
        }
        if let Dispatch::EachPattern = dispatch {
            for segment in segments(text) {
                for id in 0..inner.patterns.len() {
                    self.search_pattern(text, scratch, id, segment.clone());
                }
            }
            return;
        }
        for (f, family) in inner.families.iter().enumerate() {
            // PERF: one search over the whole text; restarting the union automaton at every
            // segment costs far more than the segments save.
            scratch.union_matches.clear();
            let cache = &mut scratch.family_caches[f];
            let mut input = Input::new(text);
            while let Some(m) = family.union.search_with(cache, &input) {
                scratch.union_matches.push((m.start(), m.end()));
                input.set_start(m.end().max(m.start() + 1));
                if input.start() > input.end() {
                    break;
                }
            }
            if scratch.union_matches.is_empty() {
                continue;
            }
            let mut first = 0;
            for segment in segments(text) {
                // Union matches are ordered and disjoint: those overlapping this segment.
                while first < scratch.union_matches.len()
                    && scratch.union_matches[first].1 <= segment.start
                {
                    first += 1;
                }
                let last =
                    first + scratch.union_matches[first..].partition_point(|u| u.0 < segment.end);
                if first == last {
                    continue;
                }
                let union = std::mem::take(&mut scratch.union_matches);
                for &id in &family.members {
                    let max_len = inner.patterns[id].max_len;
                    windows_into(
                        &union[first..last],
                        max_len,
                        segment.clone(),
                        &mut scratch.windows,
                    );
                    for index in 0..scratch.windows.len() {
                        let (start, end) = scratch.windows[index];
                        self.search_pattern(text, scratch, id, start..end);
                    }
                }
                scratch.union_matches = union;
            }
        }
    }

    /// Runs pattern `id` alone over `range` and confirms its candidates.
    fn search_pattern(
        &self,
        text: &[u8],
        scratch: &mut Scratch,
        id: usize,
        range: std::ops::Range<usize>,
    ) {
        let pattern = &self.inner.patterns[id];
        let rule = &self.inner.rules.rules[pattern.rule];
        let cache = &mut scratch.pattern_caches[id];
        let caps = &mut scratch.captures[id];
        let mut input = Input::new(text).range(range);
        loop {
            let (whole, span) = match pattern.value_group {
                Some(group) => {
                    pattern.regex.search_captures_with(cache, &input, caps);
                    let Some(whole) = caps.get_match() else { break };
                    (whole.span(), caps.get_group(group))
                }
                None => match pattern.regex.search_with(cache, &input) {
                    Some(m) => (m.span(), Some(m.span())),
                    None => break,
                },
            };
            if let Some(span) = span.filter(|s| s.start < s.end) {
                scratch.stats[pattern.rule].candidates += 1;
                if rule
                    .validators
                    .iter()
                    .all(|v| v.is_valid(&text[span.start..span.end]))
                {
                    let confirmed = (&mut scratch.candidates, scratch.stats.as_mut_slice());
                    self.push_confirmed(
                        text,
                        confirmed,
                        pattern.rule,
                        span.start,
                        span.end,
                        rule.confidence,
                    );
                }
            }
            // Patterns never match empty (checked at load), so this always advances.
            input.set_start(whole.end.max(whole.start + 1));
            if input.start() > input.end() {
                break;
            }
        }
    }

    fn word_candidates(&self, text: &[u8], scratch: &mut Scratch) {
        let inner = &*self.inner;
        if inner.word_rules.is_empty() || inner.rules.lexicon.is_empty() {
            return;
        }
        let lexicon = &inner.rules.lexicon;
        scratch.words.clear();
        words_into(text, &mut scratch.words);
        scratch.all_masks.clear();
        scratch.any_masks.clear();
        for word in &scratch.words {
            let (all, any) = if word.shape.initial_upper || inner.any_case {
                word_masks(text, word, lexicon, &mut scratch.key)
            } else {
                (0, 0)
            };
            scratch.all_masks.push(all);
            scratch.any_masks.push(any);
        }
        let view = WordView {
            words: &scratch.words,
            all: &scratch.all_masks,
            any: &scratch.any_masks,
        };
        let key = &mut scratch.key;
        for &rule_index in &inner.word_rules {
            let rule = &inner.rules.rules[rule_index];
            let RuleKind::Words(word_rule) = &rule.kind else {
                continue;
            };
            let words = view.words;
            let mut i = 0;
            while i < words.len() {
                let Some(mut end) = self.word_match_at(text, &view, key, word_rule, i) else {
                    i += 1;
                    continue;
                };
                let mut start = i;
                let mut joined = 0usize;
                let all_common = (start..end).all(|k| view.any[k] & word_rule.common != 0);
                if word_rule.join_bonus > 0.0 {
                    if start >= 1
                        && is_initial(text, &words[start - 1])
                        && is_join_gap(text, words[start - 1].end + 1, words[start].start)
                    {
                        start -= 1;
                    }
                    loop {
                        let mut next = end;
                        if next < words.len()
                            && is_initial(text, &words[next])
                            && next + 1 < words.len()
                            && is_join_gap(text, words[next - 1].end, words[next].start)
                            && is_join_gap(text, words[next].end + 1, words[next + 1].start)
                        {
                            next += 1;
                        }
                        if next >= words.len()
                            || !is_join_gap(
                                text,
                                words[next - 1].end + usize::from(next > end),
                                words[next].start,
                            )
                        {
                            break;
                        }
                        match self.word_match_at(text, &view, key, word_rule, next) {
                            Some(after) => {
                                end = after;
                                joined += 1;
                            }
                            None => break,
                        }
                    }
                }
                let mut confidence = rule.confidence + joined as f32 * word_rule.join_bonus;
                if joined == 0 && all_common {
                    confidence -= word_rule.common_penalty;
                }
                scratch.stats[rule_index].candidates += 1;
                let (s, e) = (words[start].start, words[end - 1].end);
                if rule.validators.iter().all(|v| v.is_valid(&text[s..e])) {
                    let confirmed = (&mut scratch.candidates, scratch.stats.as_mut_slice());
                    self.push_confirmed(
                        text,
                        confirmed,
                        rule_index,
                        s,
                        e,
                        confidence.clamp(0.0, 1.0),
                    );
                }
                i = end;
            }
        }
    }

    /// The end (exclusive word index) of the longest dictionary match of `rule` starting at
    /// word `i`, if any.
    fn word_match_at(
        &self,
        text: &[u8],
        view: &WordView<'_>,
        key: &mut String,
        rule: &WordRule,
        i: usize,
    ) -> Option<usize> {
        let lexicon = &self.inner.rules.lexicon;
        let words = view.words;
        if !case_ok(rule.case, &words[i]) {
            return None;
        }
        if view.any[i] & STARTS_PHRASE != 0 {
            let longest = lexicon.max_words().min(rule.max_words).min(words.len() - i);
            for len in (2..=longest).rev() {
                let phrase = &words[i..i + len];
                let spaced = phrase
                    .windows(2)
                    .all(|w| &text[w[0].end..w[1].start] == b" ");
                if !spaced || !phrase.iter().all(|w| case_ok(rule.case, w)) {
                    continue;
                }
                key.clear();
                for (k, w) in phrase.iter().enumerate() {
                    if k > 0 {
                        key.push(' ');
                    }
                    push_normalized(key, word_str(text, w));
                }
                let mask = lexicon.get(key);
                if mask & rule.include != 0 && mask & rule.exclude == 0 {
                    return Some(i + len);
                }
            }
        }
        let included = view.all[i] & rule.include != 0;
        let excluded = view.any[i] & rule.exclude != 0;
        (included && !excluded).then_some(i + 1)
    }

    fn push_confirmed(
        &self,
        text: &[u8],
        (candidates, stats): (&mut Vec<Finding>, &mut [RuleStats]),
        rule: usize,
        start: usize,
        end: usize,
        base: f32,
    ) {
        let Some(confidence) = self.apply_context(text, rule, start, end, base) else {
            return;
        };
        if confidence < self.inner.min_confidence {
            return;
        }
        stats[rule].confirmed += 1;
        let entity = self.inner.rules.rules[rule].entity;
        candidates.push(Finding {
            start,
            end,
            entity,
            rule,
            confidence,
        });
    }

    /// The confidence after context, or `None` when context vetoes the candidate.
    fn apply_context(
        &self,
        text: &[u8],
        rule: usize,
        start: usize,
        end: usize,
        base: f32,
    ) -> Option<f32> {
        let context = &self.inner.contexts[rule];
        if context.entries.is_empty() {
            return Some(base);
        }
        let automaton = self.inner.context_words.as_ref()?;
        let reach = context.max_window + self.inner.longest_context_word;
        let low = start.saturating_sub(reach);
        let high = (end + reach).min(text.len());
        let mut present = 0u64;
        let input = aho_corasick::Input::new(text).range(low..high);
        for hit in automaton.find_overlapping_iter(input) {
            let (hit_start, hit_end) = (hit.start(), hit.end());
            if hit_start < end && start < hit_end || !is_word_boundary(text, hit_start, hit_end) {
                continue;
            }
            let (before, distance) = if hit_end <= start {
                (true, start - hit_end)
            } else {
                (false, hit_start - end)
            };
            let id = hit.pattern().as_u32();
            for (k, entry) in context.entries.iter().enumerate() {
                let side_ok = match entry.side {
                    Side::Both => true,
                    Side::Before => before,
                    Side::After => !before,
                };
                if side_ok && distance <= entry.window && entry.words.binary_search(&id).is_ok() {
                    present |= 1 << k;
                }
            }
        }
        let mut confidence = base;
        for (k, entry) in context.entries.iter().enumerate() {
            let here = present & (1 << k) != 0;
            match entry.effect {
                ContextEffect::Raise(amount) if here => confidence += amount,
                ContextEffect::Lower(amount) if here => confidence -= amount,
                ContextEffect::Require if !here => return None,
                ContextEffect::Forbid if here => return None,
                _ => {}
            }
        }
        Some(confidence.clamp(0.0, 1.0))
    }

    /// Searches each word of the confirmed values of propagated types across the text.
    fn propagate(&self, text: &[u8], scratch: &mut Scratch) {
        let inner = &*self.inner;
        let mut needles: Vec<(&[u8], usize, f32)> = Vec::new();
        let mut seen: rustc_hash::FxHashSet<&[u8]> = rustc_hash::FxHashSet::default();
        let mut found_words = Vec::new();
        for finding in &scratch.candidates {
            if !inner.rules.propagate.contains(&finding.entity) {
                continue;
            }
            found_words.clear();
            words_into(&text[finding.start..finding.end], &mut found_words);
            for word in &found_words {
                let bytes = &text[finding.start + word.start..finding.start + word.end];
                if !(word.shape.is_title() || word.shape.is_upper()) || word.end - word.start < 3 {
                    continue;
                }
                let (_, any) = word_masks(
                    &text[finding.start..],
                    word,
                    &inner.rules.lexicon,
                    &mut scratch.key,
                );
                if any & inner.propagation_guard != 0 || !seen.insert(bytes) {
                    continue;
                }
                needles.push((
                    bytes,
                    finding.rule,
                    finding.confidence - PROPAGATION_DISCOUNT,
                ));
            }
        }
        if needles.is_empty() {
            return;
        }
        let Ok(automaton) = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(needles.iter().map(|(n, ..)| n))
        else {
            return;
        };
        for hit in automaton.find_iter(text) {
            if !is_word_boundary(text, hit.start(), hit.end()) {
                continue;
            }
            let (_, rule, confidence) = needles[hit.pattern().as_usize()];
            if confidence >= inner.min_confidence {
                let entity = inner.rules.rules[rule].entity;
                scratch.candidates.push(Finding {
                    start: hit.start(),
                    end: hit.end(),
                    entity,
                    rule,
                    confidence,
                });
            }
        }
    }
}

/// The words of a text with their dictionary masks (see [`word_masks`]).
struct WordView<'a> {
    words: &'a [Word],
    all: &'a [u64],
    any: &'a [u64],
}

/// The windows a pattern of longest match `max_len` must search, given its family's union
/// matches in `segment` (see "Why the windows are exact").
fn windows_into(
    union: &[(usize, usize)],
    max_len: Option<usize>,
    segment: std::ops::Range<usize>,
    out: &mut Vec<(usize, usize)>,
) {
    out.clear();
    let Some(reach) = max_len else {
        out.push((segment.start, segment.end));
        return;
    };
    for &(start, end) in union {
        let window = (
            start.saturating_sub(reach).max(segment.start),
            (end + reach).min(segment.end),
        );
        match out.last_mut() {
            Some(last) if window.0 <= last.1 => last.1 = last.1.max(window.1),
            _ => out.push(window),
        }
    }
}

/// How candidates are dispatched to patterns.
enum Dispatch {
    /// The family automata pick the windows each pattern searches.
    Automaton,
    /// Every pattern runs over every segment (the reference).
    EachPattern,
}

fn compile_contexts(rules: &[Rule]) -> Result<(Option<AhoCorasick>, Vec<RuleContext>), String> {
    let mut words: Vec<&str> = Vec::new();
    let mut contexts = Vec::with_capacity(rules.len());
    for rule in rules {
        if rule.context.len() > 64 {
            return Err(format!(
                "rule `{}` has more than 64 context entries",
                rule.id()
            ));
        }
        let mut compiled = RuleContext::default();
        for entry in rule.context.iter() {
            let mut ids: Vec<u32> = entry
                .words
                .iter()
                .map(|w| match words.iter().position(|x| x == w) {
                    Some(id) => id as u32,
                    None => {
                        words.push(w);
                        (words.len() - 1) as u32
                    }
                })
                .collect();
            ids.sort_unstable();
            ids.dedup();
            compiled.max_window = compiled.max_window.max(entry.window);
            compiled.entries.push(ContextEntry {
                words: ids,
                effect: entry.effect,
                window: entry.window,
                side: entry.side,
            });
        }
        contexts.push(compiled);
    }
    if words.is_empty() {
        return Ok((None, contexts));
    }
    let automaton = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::Standard)
        .build(&words)
        .map_err(|e| e.to_string())?;
    Ok((Some(automaton), contexts))
}

/// Splits `text` into segments at blank lines, none longer than [`MAX_SEGMENT`].
pub fn segments(text: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let limit = (start + MAX_SEGMENT).min(text.len());
        let window = &text[start..limit];
        let mut end = limit;
        let mut search = 0;
        while let Some(offset) = memchr::memchr(b'\n', &window[search..]) {
            let newline = search + offset;
            let rest = &window[newline + 1..];
            let blank = rest
                .iter()
                .position(|&b| !matches!(b, b' ' | b'\t' | b'\r'));
            if let Some(p) = blank.filter(|&p| rest[p] == b'\n') {
                end = start + newline + 1 + p + 1;
                break;
            }
            search = newline + 1;
        }
        if end == limit && limit < text.len() {
            end = cut_point(text, start, limit);
        }
        let segment = start..end;
        start = end;
        Some(segment)
    })
}

/// Where to cut an over-long segment: after the last line break, else after the last
/// space, else at a UTF-8 character boundary.
fn cut_point(text: &[u8], start: usize, limit: usize) -> usize {
    let window = &text[start..limit];
    if let Some(p) = memchr::memrchr(b'\n', window).or_else(|| memchr::memrchr(b' ', window)) {
        return start + p + 1;
    }
    let mut end = limit;
    while end > start + 1 && text[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    end
}

/// Keeps the best of overlapping candidates (see the module docs), sorted by start.
///
/// PERF: most candidates overlap nothing, so a sort by start and one linear check settle
/// the common case; only when something overlaps are the candidates ranked and placed into
/// an ordered map (O(n log n)).
pub(crate) fn resolve_overlaps(candidates: &mut [Finding], out: &mut Vec<Finding>) {
    out.clear();
    candidates.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.end.cmp(&b.end))
            .then(a.rule.cmp(&b.rule))
    });
    if candidates.windows(2).all(|w| w[0].end <= w[1].start) {
        out.extend_from_slice(candidates);
        return;
    }
    candidates.sort_unstable_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.rule.cmp(&b.rule))
            .then(a.start.cmp(&b.start))
    });
    // Accepted findings by start; they never overlap, so their ends are ordered too.
    let mut accepted: std::collections::BTreeMap<usize, Finding> =
        std::collections::BTreeMap::new();
    for candidate in candidates.iter() {
        let before = accepted
            .range(..=candidate.start)
            .next_back()
            .is_some_and(|(_, f)| f.end > candidate.start);
        let after = accepted
            .range(candidate.start..)
            .next()
            .is_some_and(|(_, f)| f.start < candidate.end);
        if !before && !after {
            accepted.insert(candidate.start, *candidate);
        }
    }
    out.extend(accepted.into_values());
}

#[inline]
fn word_str<'t>(text: &'t [u8], word: &Word) -> &'t str {
    // Words hold only decoded characters, so this never fails.
    std::str::from_utf8(&text[word.start..word.end]).unwrap_or_default()
}

/// The dictionaries holding every part of a word (`all`) and any part (`any`); parts are
/// split at hyphens so `Smith-Jones` matches when both halves are surnames.
fn word_masks(
    text: &[u8],
    word: &Word,
    lexicon: &crate::lexicon::Lexicon,
    key: &mut String,
) -> (u64, u64) {
    let s = word_str(text, word);
    key.clear();
    push_normalized(key, s);
    let whole = lexicon.get(key);
    if whole & !STARTS_PHRASE != 0 || !s.contains('-') {
        return (whole, whole);
    }
    let (mut all, mut any) = (u64::MAX, 0);
    for part in s.split('-') {
        key.clear();
        push_normalized(key, part);
        let mask = lexicon.get(key) & !STARTS_PHRASE;
        all &= mask;
        any |= mask;
    }
    (all | whole, any | whole)
}

fn case_ok(rule: CaseRule, word: &Word) -> bool {
    match rule {
        CaseRule::Any => !word.shape.has_digit,
        CaseRule::Title => word.shape.is_title(),
        CaseRule::Upper => word.shape.is_upper(),
        CaseRule::TitleOrUpper => word.shape.is_title() || word.shape.is_upper(),
    }
}

/// `Q.` in `John Q. Smith`.
fn is_initial(text: &[u8], word: &Word) -> bool {
    word.end - word.start == 1 && word.shape.initial_upper && text.get(word.end) == Some(&b'.')
}

/// Whether the bytes between two words of a name are a plausible gap: a space, a comma
/// and a space, or a single line break (hard-wrapped text).
fn is_join_gap(text: &[u8], from: usize, to: usize) -> bool {
    if from > to || to - from > 3 {
        return false;
    }
    let gap = &text[from..to];
    matches!(
        gap,
        b" " | b", " | b"\n" | b" \n" | b"\r\n" | b",\n" | b"\t"
    )
}

fn is_word_boundary(text: &[u8], start: usize, end: usize) -> bool {
    let word_byte = |b: u8| b.is_ascii_alphanumeric() || b >= 0x80;
    let edge_start = text.get(start).is_some_and(|&b| word_byte(b));
    let edge_end = end > 0 && word_byte(text[end - 1]);
    let before = start > 0 && edge_start && word_byte(text[start - 1]);
    let after = edge_end && text.get(end).is_some_and(|&b| word_byte(b));
    !before && !after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(start: usize, end: usize, rule: usize, confidence: f32) -> Finding {
        Finding {
            start,
            end,
            entity: crate::EntityType::Name,
            rule,
            confidence,
        }
    }

    #[test]
    fn overlaps_resolve_by_confidence_then_length_then_rule() {
        let mut candidates = vec![
            finding(0, 10, 1, 0.9),
            finding(5, 20, 0, 0.8),
            finding(20, 25, 2, 0.6),
            finding(20, 24, 0, 0.6),
            finding(30, 34, 3, 0.7),
            finding(30, 34, 2, 0.7),
        ];
        let mut out = Vec::new();
        resolve_overlaps(&mut candidates, &mut out);
        let kept: Vec<(usize, usize, usize)> =
            out.iter().map(|f| (f.start, f.end, f.rule)).collect();
        assert_eq!(kept, [(0, 10, 1), (20, 25, 2), (30, 34, 2)]);
    }

    #[test]
    fn segments_cut_at_blank_lines_and_cover_the_text() {
        let text = b"one\ntwo\n\nthree\n \t\nfour";
        let cut: Vec<_> = segments(text).map(|r| &text[r]).collect();
        assert_eq!(cut, [&b"one\ntwo\n\n"[..], b"three\n \t\n", b"four"]);
    }

    #[test]
    fn long_segments_cut_at_char_boundaries() {
        let text = "é".repeat(MAX_SEGMENT);
        let mut covered = 0;
        for range in segments(text.as_bytes()) {
            assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            assert!(range.len() <= MAX_SEGMENT);
            covered += range.len();
        }
        assert_eq!(covered, text.len());
    }

    #[test]
    fn windows_widen_merge_and_clip() {
        let mut out = Vec::new();
        windows_into(&[(10, 12), (20, 22), (60, 61)], Some(5), 8..64, &mut out);
        assert_eq!(out, [(8, 27), (55, 64)]);
        windows_into(&[(10, 12)], None, 8..64, &mut out);
        assert_eq!(out, [(8, 64)]);
    }

    #[test]
    fn pattern_lengths() {
        assert_eq!(
            pattern_shape("[0-9]{3}-[0-9]{2,4}").unwrap().max_len,
            Some(8)
        );
        assert_eq!(pattern_shape("[0-9]+").unwrap().max_len, None);
    }

    #[test]
    fn join_gaps() {
        let text = b"Smith, John\nDoe  X";
        assert!(is_join_gap(text, 5, 7));
        assert!(is_join_gap(text, 11, 12));
        assert!(!is_join_gap(text, 15, 17));
    }

    #[test]
    fn empty_patterns_are_rejected() {
        assert!(pattern_shape("a*").is_err());
        assert!(pattern_shape("(").is_err());
        assert!(pattern_shape("a+").is_ok());
        assert!(pattern_shape(r"\bword\b").is_err());
        assert!(pattern_shape(r"(?-u:\b)[0-9]+(?-u:\b)").is_ok());
    }
}
