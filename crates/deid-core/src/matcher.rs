//! The matcher: compile a rule set once, then scan any number of texts from any thread.
//!
//! # How a scan works
//!
//! 1. **Candidates, a few passes for every pattern.** The patterns of all rules are shared
//!    out among four forward lazy DFAs that report every pattern matching at every
//!    position (regex-automata's hybrid DFA, `MatchKind::All`, walked by
//!    [`crate::end_finder`]). One pass of each over the text yields, for each pattern, the
//!    offsets where some match of it *ends*. The text is cut into segments at blank lines
//!    (at most [`MAX_SEGMENT`] bytes); each pattern then runs alone, with captures, but
//!    only inside its *windows*: each of its match ends widened backwards by its longest
//!    possible match (to the segment start for unbounded patterns), and no further back
//!    than the line breaks one match can hold allow. A pattern that matches nowhere costs
//!    nothing after the passes. Dictionary rules split the text into words once
//!    ([`crate::words`]) and look each capitalised word up in one hash map
//!    ([`crate::lexicon`]).
//! 2. **Confirmation, per candidate.** Validators (checksums, calendars, ranges) and context
//!    (words near the candidate, found by walking the rule's own anchored Aho-Corasick
//!    automaton from each word start in a small window) set or veto each candidate's
//!    confidence. Candidates under the minimum confidence are dropped.
//! 3. **Propagation.** For entity types the pack lists in `propagate` (names, by default),
//!    each word of a confirmed value is searched again across the whole text, so a name
//!    seen once with a title (`Dr. Żukowski`) is also caught alone (`Żukowski agreed`).
//! 4. **Overlaps.** Overlapping findings resolve deterministically. A finding that contains
//!    findings of its own rule first takes the highest of their confidences, so a run of
//!    name words is not cut into the parts that context or propagation made surer. Then the
//!    higher confidence wins; then the longer span; then the rule that comes first in the
//!    pack; then the earlier start. Findings come out sorted by start and never overlap.
//!
//! # Why the windows are exact
//!
//! The windowed search reports exactly what each pattern reports when run alone over the
//! segment (the one-rule-at-a-time reference in the tests checks this). Let `q` be a
//! pattern that matches at most `L` bytes and `[a, b)` a match of `q` alone in a segment
//! `S`. The pass reports `q` at `b`, so `[a, b)` lies inside the window
//! `[max(b - L, S.start), b]`. If a match of `q` holds at most `k` line breaks, it starts
//! after the `(k+1)`-th line break before `b` (else it would hold that one and the `k`
//! after it), so the window may start just after that line break instead. Windows that
//! overlap within a segment are merged; then a window edge inside a match `[a, b)` of `q`
//! is impossible, since the window of `b` reaches past both ends of that match. So no
//! match of `q` crosses a window edge, and `q`'s own leftmost-first iteration, started at
//! each window's start, finds the same next match as the iteration over the whole
//! segment. Look-around (`^`, `(?-u:\b)`) sees the whole text, so cutting the search
//! range changes nothing else.
//!
//! PERF: one pass of an overlapping DFA over every pattern runs at about 150 MB/s on
//! generated notes once its states are built; the earlier design, one leftmost-first pass
//! per entity type (26 passes), managed about 18 MB/s. But varied text keeps one DFA over
//! every pattern building states (see `END_FINDER_GROUPS`), so the patterns are split four
//! ways. The DFAs' states are built lazily per [`Scratch`] and kept, so a scratch pays the
//! build once. If a DFA gives up (its cache keeps filling on adversarial text), the scan
//! falls back to running every pattern over every segment: slower, same findings.
//!
//! A pattern with a Unicode word boundary is refused at load: the lazy DFA cannot evaluate
//! one on non-ASCII text.
//!
//! Because a segment boundary is a blank line, no finding spans a blank line, and none
//! spans the cut of an over-long segment.

use std::sync::Arc;

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, dfa::DFA as WordDfa};
use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::util::captures::Captures;
use regex_automata::{Input, meta};
use regex_syntax::hir::Hir;

use crate::context::{ContextEffect, Side};
use crate::end_finder;
use crate::error::{Error, ErrorKind};
use crate::finding::Finding;
use crate::lexicon::{CaseRule, STARTS_PHRASE, push_normalized};
use crate::pack::{Rule, RuleKind, RuleSet, WordRule};
use crate::parallel::try_map_in_order;
use crate::words::{Word, words_into};

/// The largest segment the automaton pass looks at in one go.
pub const MAX_SEGMENT: usize = 64 * 1024;

/// The confidence a finding needs, unless the caller sets another.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.5;

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
    /// Forward DFAs over groups of patterns, reporting where matches end.
    end_finders: Vec<EndFinder>,
    /// Every pattern of every pattern rule.
    patterns: Vec<CompiledPattern>,
    /// Indexes of dictionary rules.
    word_rules: Vec<usize>,
    /// For each dictionary rule (by position in `word_rules`), the position of the first
    /// one with the same matching settings: its matches are theirs too.
    word_rule_twins: Vec<usize>,
    /// Whether some dictionary rule matches words of any case.
    any_case: bool,
    /// Context entries per rule, by rule index.
    contexts: Vec<RuleContext>,
    /// Dictionary bits that block propagation (the `exclude` lists of word rules).
    propagation_guard: u64,
    /// Dictionary bits of common words (the `common` lists of word rules), which
    /// propagation does not reach by folding case or diacritics.
    propagation_common: u64,
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
    /// The most line breaks (`\n` bytes) one match holds, when bounded.
    max_line_breaks: Option<usize>,
    /// Dictionary bits whose words veto a candidate (the rule's `exclude`).
    exclude: u64,
    /// Dictionary bits one of which each word of a candidate needs (the rule's
    /// `dictionaries`); zero for none.
    listed: u64,
}

#[derive(Debug, Default)]
struct RuleContext {
    entries: Vec<ContextEntry>,
    /// The rule's context words, as an automaton that matches from a given start; `None`
    /// when the rule has no context.
    ///
    /// PERF: one automaton per rule, not one shared by all. The walk from each word start
    /// in a window waits on memory for each byte: the shared automaton of the bundled
    /// pack's ~940 words took ~1 MB, one rule's takes a few KB and stays in cache.
    words: Option<ContextWords>,
    /// For each word of `words`, by its id there, the entries that list it, as a bit set
    /// over `entries`.
    entries_of_word: Vec<u64>,
    /// For each word of `words`, by its id there, the only spelling that counts when its
    /// entries match case exactly; `None` when any case counts.
    exact_spelling: Vec<Option<Box<[u8]>>>,
    /// How far before and after a candidate the context search looks: a word counts when
    /// its near edge is within the window, so an entry reaches its window plus its longest
    /// word, on its side.
    reach_before: usize,
    reach_after: usize,
    /// The widest window after the candidate: a word that starts further on is too far for
    /// every entry, so the walk tries no start past it.
    window_after: usize,
}

/// A rule's context words, ready to walk from any position.
#[derive(Debug)]
struct ContextWords {
    automaton: WordDfa,
    /// The automaton's anchored start state.
    start: aho_corasick::automaton::StateID,
    /// The bytes some word starts with, in either ASCII case. PERF: most positions of a
    /// window start no word; this table turns them away before the automaton is touched.
    first_bytes: [bool; 256],
}

impl ContextWords {
    fn new(words: &[&str]) -> Result<ContextWords, String> {
        let automaton = WordDfa::builder()
            .ascii_case_insensitive(true)
            .match_kind(aho_corasick::MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Anchored)
            .build(words)
            .map_err(|e| e.to_string())?;
        let start = automaton
            .start_state(Anchored::Yes)
            .map_err(|e| e.to_string())?;
        let mut first_bytes = [false; 256];
        for first in words.iter().filter_map(|word| word.bytes().next()) {
            first_bytes[usize::from(first.to_ascii_lowercase())] = true;
            first_bytes[usize::from(first.to_ascii_uppercase())] = true;
        }
        Ok(ContextWords {
            automaton,
            start,
            first_bytes,
        })
    }
}

#[derive(Debug)]
struct ContextEntry {
    effect: ContextEffect,
    window: usize,
    side: Side,
}

/// Mutable per-thread state for [`Matcher::scan_into`]. Reuse it: creating one allocates.
///
/// Its buffers hold pieces of the last scanned text, so its `Debug` output shows sizes only.
pub struct Scratch {
    end_finder_caches: Vec<DfaCache>,
    pattern_caches: Vec<meta::Cache>,
    captures: Vec<Captures>,
    segment_ends: Vec<usize>,
    /// Offsets of the text's line breaks.
    line_breaks: Vec<usize>,
    /// Windows to search, per pattern.
    windows: Vec<Vec<(usize, usize)>>,
    /// The patterns that have windows, in the order they got their first.
    matched_patterns: Vec<usize>,
    words: Vec<Word>,
    /// The matches of each dictionary rule that finds its own (see `word_rule_twins`).
    word_matches: Vec<Vec<WordMatch>>,
    all_masks: Vec<u64>,
    any_masks: Vec<u64>,
    /// Indexes of the words some dictionary holds (a non-zero `any` mask).
    listed_words: Vec<usize>,
    key: Vec<u8>,
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

/// Parses a pattern, or says why it is refused: it does not parse, can match the empty
/// string, or uses a Unicode word boundary. Patterns run on bytes that may not be UTF-8;
/// Unicode classes still match where it is. A rule set keeps the parse, so the matcher
/// never parses a pattern again.
pub(crate) fn parse_pattern(pattern: &str) -> Result<Hir, String> {
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
    Ok(hir)
}

/// The most line breaks (`\n` bytes) a match of `hir` can hold, or `None` when a
/// repetition without bound can repeat one.
fn max_line_breaks(hir: &Hir) -> Option<usize> {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(0),
        HirKind::Literal(literal) => Some(literal.0.iter().filter(|&&b| b == b'\n').count()),
        HirKind::Class(Class::Unicode(class)) => Some(usize::from(
            class
                .ranges()
                .iter()
                .any(|r| r.start() <= '\n' && '\n' <= r.end()),
        )),
        HirKind::Class(Class::Bytes(class)) => Some(usize::from(
            class
                .ranges()
                .iter()
                .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        )),
        HirKind::Repetition(repetition) => match max_line_breaks(&repetition.sub)? {
            0 => Some(0),
            each => each.checked_mul(usize::try_from(repetition.max?).ok()?),
        },
        HirKind::Capture(capture) => max_line_breaks(&capture.sub),
        HirKind::Concat(parts) => parts
            .iter()
            .try_fold(0usize, |sum, part| sum.checked_add(max_line_breaks(part)?)),
        HirKind::Alternation(parts) => parts
            .iter()
            .try_fold(0usize, |most, part| Some(most.max(max_line_breaks(part)?))),
    }
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
    /// once and share the matcher. The independent parts build in parallel on the current
    /// rayon pool (the global one outside `ThreadPool::install`).
    ///
    /// # Errors
    /// When the combined automaton exceeds its size limits.
    pub fn with_options(rules: RuleSet, options: &MatchOptions) -> Result<Matcher, Error> {
        let build_error = |rule: Option<&str>, message: String| {
            Error::new("rule set", rule, ErrorKind::Pattern(message))
        };
        let mut sources = Vec::new();
        let mut word_rules = Vec::new();
        let mut any_case = false;
        let mut propagation_guard = 0;
        let mut propagation_common = 0;
        for (index, rule) in rules.rules.iter().enumerate() {
            match &rule.kind {
                RuleKind::Pattern {
                    hirs,
                    exclude,
                    listed,
                    ..
                } => {
                    let lists = WordLists {
                        exclude: *exclude,
                        listed: *listed,
                    };
                    sources.extend(hirs.iter().map(|hir| (index, hir, lists)));
                }
                RuleKind::Words(word) => {
                    word_rules.push(index);
                    any_case |= word.case == CaseRule::Any;
                    propagation_guard |= word.exclude;
                    propagation_common |= word.common;
                }
            }
        }
        // PERF: the patterns' own regexes, the end finders and the context automata are
        // independent builds, most of compiling a pack after parsing it.
        let (patterns, (end_finders, contexts)) = rayon::join(
            || {
                try_map_in_order(&sources, |&(index, hir, lists)| {
                    compile_pattern(index, hir, lists)
                        .map_err(|e| build_error(Some(rules.rules[index].id()), e))
                })
            },
            || {
                let hirs: Vec<&Hir> = sources.iter().map(|&(_, hir, _)| hir).collect();
                rayon::join(
                    || build_end_finders(&hirs).map_err(|e| build_error(None, e)),
                    || compile_contexts(&rules.rules).map_err(|m| build_error(None, m)),
                )
            },
        );
        let (patterns, end_finders, contexts) = (patterns?, end_finders?, contexts?);
        let word_rule_twins = word_rule_twins(&rules, &word_rules);
        Ok(Matcher {
            inner: Arc::new(Inner {
                rules,
                end_finders,
                patterns,
                word_rule_twins,
                word_rules,
                any_case,
                contexts,
                propagation_guard,
                propagation_common,
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
            end_finder_caches: inner
                .end_finders
                .iter()
                .map(|finder| finder.dfa.create_cache())
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
            segment_ends: Vec::new(),
            line_breaks: Vec::new(),
            windows: vec![Vec::new(); inner.patterns.len()],
            matched_patterns: Vec::new(),
            words: Vec::new(),
            word_matches: vec![Vec::new(); inner.word_rules.len()],
            all_masks: Vec::new(),
            any_masks: Vec::new(),
            listed_words: Vec::new(),
            key: Vec::new(),
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
        // Filled by the dictionary rules, if any; propagation splits the text itself otherwise.
        scratch.words.clear();
        self.pattern_candidates(text, scratch, dispatch);
        self.word_candidates(text, scratch);
        if propagate && !self.inner.rules.propagate.is_empty() {
            self.propagate(text, scratch);
        }
    }

    fn pattern_candidates(&self, text: &[u8], scratch: &mut Scratch, dispatch: &mut Dispatch) {
        let inner = &*self.inner;
        if inner.end_finders.is_empty() {
            return;
        }
        if let Dispatch::Automaton = dispatch
            && collect_windows(&inner.end_finders, &inner.patterns, text, scratch).is_ok()
        {
            // PERF: only the patterns that matched are visited (cells of a table are many
            // tiny texts); pattern order keeps candidate order independent of the text.
            let mut matched = std::mem::take(&mut scratch.matched_patterns);
            matched.sort_unstable();
            for &id in &matched {
                let mut windows = std::mem::take(&mut scratch.windows[id]);
                for &(start, end) in &windows {
                    self.search_pattern(text, scratch, id, start..end);
                }
                windows.clear();
                scratch.windows[id] = windows;
            }
            matched.clear();
            scratch.matched_patterns = matched;
            return;
        }
        for segment in segments(text) {
            for id in 0..inner.patterns.len() {
                self.search_pattern(text, scratch, id, segment.clone());
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
                let value = &text[span.start..span.end];
                let lexicon = &self.inner.rules.lexicon;
                if rule.validators.iter().all(|v| v.is_valid(value))
                    && words_pass_lists(
                        lexicon,
                        value,
                        pattern.exclude,
                        pattern.listed,
                        &mut scratch.key,
                    )
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
        words_into(text, &mut scratch.words);
        scratch.all_masks.clear();
        scratch.any_masks.clear();
        scratch.listed_words.clear();
        for (index, word) in scratch.words.iter().enumerate() {
            let (all, any) = if word.shape.initial_upper || inner.any_case {
                word_masks(text, word, lexicon, &mut scratch.key)
            } else {
                (0, 0)
            };
            scratch.all_masks.push(all);
            scratch.any_masks.push(any);
            if any != 0 {
                scratch.listed_words.push(index);
            }
        }
        let view = WordView {
            words: &scratch.words,
            all: &scratch.all_masks,
            any: &scratch.any_masks,
        };
        let key = &mut scratch.key;
        for (position, &rule_index) in inner.word_rules.iter().enumerate() {
            let rule = &inner.rules.rules[rule_index];
            let RuleKind::Words(word_rule) = &rule.kind else {
                continue;
            };
            // PERF: rules with the same matching settings (they differ in context or
            // confidence) find the same matches; the first of them finds them for all.
            let twin = inner.word_rule_twins[position];
            if twin == position {
                let matches = &mut scratch.word_matches[position];
                matches.clear();
                self.word_matches(text, &view, key, word_rule, &scratch.listed_words, matches);
            }
            for found in &scratch.word_matches[twin] {
                let all_common = found
                    .first
                    .clone()
                    .all(|k| view.any[k] & word_rule.common != 0);
                let mut confidence = rule.confidence + found.joined as f32 * word_rule.join_bonus;
                if found.joined == 0 && all_common {
                    confidence -= word_rule.common_penalty;
                }
                scratch.stats[rule_index].candidates += 1;
                let (s, e) = (found.start, found.end);
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
            }
        }
    }

    /// The dictionary matches of one rule's settings, left to right, none overlapping.
    fn word_matches(
        &self,
        text: &[u8],
        view: &WordView<'_>,
        key: &mut Vec<u8>,
        word_rule: &WordRule,
        listed_words: &[usize],
        out: &mut Vec<WordMatch>,
    ) {
        let words = view.words;
        // PERF: a match starts at a word some dictionary holds, so only those are tried.
        let mut next_free = 0;
        for &i in listed_words {
            if i < next_free {
                continue;
            }
            let Some(mut end) = self.word_match_at(text, view, key, word_rule, i) else {
                continue;
            };
            let mut start = i;
            let mut joined = 0usize;
            let first = start..end;
            // A lone given name that is no common word: a surname of `lifted_after_given`
            // may follow it, vetoed or not.
            let lone_given = word_rule.lifted_after_given != 0
                && first.len() == 1
                && view.any[i] & word_rule.unlisted_after != 0
                && view.any[i] & word_rule.common == 0;
            if word_rule.join_bonus > 0.0 {
                if start >= 1
                    && is_initial(text, &words[start - 1])
                    && is_join_gap(text, words[start - 1].end + 1, words[start].start)
                {
                    start -= 1;
                }
                loop {
                    let mut next = end;
                    // The bytes after a skipped middle initial that belong to it (its dot).
                    let mut dot = 0;
                    let mut particles = 0;
                    if next + 1 < words.len()
                        && let Some(width) = middle_initial_dot(text, &words[next])
                        && is_join_gap(text, words[next - 1].end, words[next].start)
                        && is_join_gap(text, words[next].end + width, words[next + 1].start)
                    {
                        next += 1;
                        dot = width;
                    } else if word_rule.particles != 0 {
                        particles = self.particles_at(text, view, key, word_rule.particles, next);
                        next += particles;
                    }
                    if next >= words.len()
                        || !is_join_gap(text, words[next - 1].end + dot, words[next].start)
                    {
                        break;
                    }
                    let surname = || {
                        (joined == 0 && lone_given && is_lifted_surname(view, word_rule, next))
                            .then_some(next + 1)
                    };
                    let after_particles = || {
                        (particles > 0 && is_unlisted_title(text, view, next, word_rule.common))
                            .then_some(next + 1)
                    };
                    match self
                        .word_match_at(text, view, key, word_rule, next)
                        .or_else(surname)
                        .or_else(after_particles)
                    {
                        Some(after) => {
                            end = after;
                            joined += 1;
                        }
                        None => break,
                    }
                }
            }
            // Only right after a lone first name: a longer run (`Tammy Plain, Ann`) may
            // already be a street and a city.
            if joined == 0
                && view.any[end - 1] & word_rule.unlisted_after != 0
                && let Some(after) = unlisted_surname_end(text, view, end, word_rule.common)
            {
                end = after;
                joined += 1;
            }
            // Only before a lone surname that is no common word, likewise (`Weronika
            // Martinsen`, not `Aspenwood Ward`), but without the join bonus: brands and
            // abbreviations are in no list either (`Vanco Davis`), and the bonus would lift
            // a bare match over the propagation threshold (in the bundled pack, 0.54 + 0.15),
            // spreading such a word through the text.
            if joined == 0
                && start == first.start
                && first.len() == 1
                && view.any[start] & word_rule.unlisted_before != 0
                && view.any[start] & word_rule.common == 0
                && let Some(given) = unlisted_given_name(text, view, start, word_rule.common)
                && given >= next_free
            {
                start = given;
            }
            // A name's unlisted partner in a coordination (`Abramovich and Wilson`,
            // `Efimiya, Mary`) is a name too, unless the name itself is a common word.
            let coordinates = word_rule.unlisted_after != 0
                && (joined > 0 || first.clone().all(|k| view.any[k] & word_rule.common == 0));
            let single = |i: usize| WordMatch {
                start: words[i].start,
                end: words[i].end,
                joined: 0,
                first: i..i + 1,
            };
            let before = coordinates
                .then(|| coordinated_unlisted(text, view, start, Side::Before, word_rule.common))
                .flatten();
            if let Some(i) = before.filter(|&i| i >= next_free) {
                out.push(single(i));
            }
            out.push(WordMatch {
                start: words[start].start,
                end: words[end - 1].end,
                joined,
                first,
            });
            next_free = end;
            let after = coordinates
                .then(|| coordinated_unlisted(text, view, end, Side::After, word_rule.common))
                .flatten();
            if let Some(i) = after {
                out.push(single(i));
                next_free = i + 1;
            }
        }
    }

    /// How many name particles (`van`, `de la`: lower-case words of the `particles`
    /// dictionaries, at most two) start at word `at`, each a single space after the word
    /// before it and a single space before the word after them; 0 when that word is missing.
    fn particles_at(
        &self,
        text: &[u8],
        view: &WordView<'_>,
        key: &mut Vec<u8>,
        particles: u64,
        at: usize,
    ) -> usize {
        let words = view.words;
        let spaced = |k: usize| k < words.len() && &text[words[k - 1].end..words[k].start] == b" ";
        let mut count = 0;
        while count < 2 && spaced(at + count) {
            let word = &words[at + count];
            if word.shape.initial_upper || word.end - word.start > 5 {
                break;
            }
            let (all, _) = word_masks(text, word, &self.inner.rules.lexicon, key);
            if all & particles == 0 {
                break;
            }
            count += 1;
        }
        if spaced(at + count) { count } else { 0 }
    }

    /// The end (exclusive word index) of the longest dictionary match of `rule` starting at
    /// word `i`, if any.
    fn word_match_at(
        &self,
        text: &[u8],
        view: &WordView<'_>,
        key: &mut Vec<u8>,
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
                        key.push(b' ');
                    }
                    push_normalized(key, &text[w.start..w.end]);
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
        let words = context.words.as_ref()?;
        let low = start.saturating_sub(context.reach_before);
        let high = (end + context.reach_after).min(text.len());
        let mut present = 0u64;
        // A context word that starts inside the candidate overlaps it and does not count.
        let last_start_after = (end + context.window_after + 1).min(high);
        for starts in [low..start, end..last_start_after] {
            for_each_context_word(words, text, starts, high, |at, word, word_end| {
                if at < start && start < word_end {
                    return;
                }
                let spelling = context.exact_spelling[word as usize].as_deref();
                if spelling.is_some_and(|spelling| text[at..word_end] != *spelling) {
                    return;
                }
                let (before, distance) = if word_end <= start {
                    (true, start - word_end)
                } else {
                    (false, at - end)
                };
                let mut rest = context.entries_of_word[word as usize];
                while rest != 0 {
                    let k = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    let entry = &context.entries[k];
                    let side_ok = match entry.side {
                        Side::Both => true,
                        Side::Before => before,
                        Side::After => !before,
                    };
                    if side_ok && distance <= entry.window {
                        present |= 1 << k;
                    }
                }
            });
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

    /// Finds each word of the confirmed values of propagated types wherever it stands alone
    /// as a word in the text. A word found by several rules takes the rule that comes first
    /// in the pack (then the higher confidence) among the findings confident enough to
    /// spread, whatever order the candidates came in.
    ///
    /// Words match as written, and also as the dictionaries compare them (case and
    /// diacritics folded, [`push_normalized`]) when the text's word is in title case and no
    /// guard or common-word list holds it: a header's `CAREY, LEON` names the `Leon` of the
    /// note, but `HALL, ROSE` says nothing of `Hall B`, nor a title-case `Gross` of a
    /// `GROSS DESCRIPTION` heading.
    fn propagate(&self, text: &[u8], scratch: &mut Scratch) {
        let inner = &*self.inner;
        // Each propagated word as written, and by its key, with the rule and confidence
        // its hits get.
        let mut exact: rustc_hash::FxHashMap<&[u8], Needle> = Default::default();
        let mut folded: rustc_hash::FxHashMap<Vec<u8>, Needle> = Default::default();
        let mut folded_shapes = KeyShapes::default();
        let mut found_words = Vec::new();
        for finding in &scratch.candidates {
            // A finding too weak to spread must not shadow a later rule's that can.
            let spread = finding.confidence - PROPAGATION_DISCOUNT;
            if spread < inner.min_confidence || !inner.rules.propagate.contains(&finding.entity) {
                continue;
            }
            found_words.clear();
            words_into(&text[finding.start..finding.end], &mut found_words);
            for word in &found_words {
                if !is_propagatable(word) {
                    continue;
                }
                let (_, any) = word_masks(
                    &text[finding.start..],
                    word,
                    &inner.rules.lexicon,
                    &mut scratch.key,
                );
                if any & inner.propagation_guard != 0 {
                    continue;
                }
                let needle = Needle {
                    rule: finding.rule,
                    confidence: spread,
                };
                let bytes = &text[finding.start + word.start..finding.start + word.end];
                // PERF: the best needle of a key is the best of its spellings', so only a
                // spelling's better needle can change it; folding every word of every
                // finding cost 0.6 % of a scan of generated notes, copying its key 0.3 %.
                if !needle.keep_first(exact.entry(bytes)) {
                    continue;
                }
                scratch.key.clear();
                push_normalized(&mut scratch.key, bytes);
                folded_shapes.add(&scratch.key);
                match folded.get_mut(scratch.key.as_slice()) {
                    Some(held) => {
                        needle.keep_better(held);
                    }
                    None => {
                        folded.insert(scratch.key.clone(), needle);
                    }
                }
            }
        }
        if exact.is_empty() {
            return;
        }
        // PERF: the text's words are already split (for the dictionary rules), so one hash
        // lookup per capitalised word finds every hit; an Aho-Corasick automaton over the
        // needles cost a build per text and a full pass.
        if scratch.words.is_empty() {
            words_into(text, &mut scratch.words);
        }
        for word in &scratch.words {
            if !is_propagatable(word) {
                continue;
            }
            let bytes = &text[word.start..word.end];
            let needle = match exact.get(bytes) {
                Some(needle) => needle,
                // PERF: most title-case words are no needle; an ASCII word's key (with no
                // apostrophe) has its length and its first letter in lower case, so these
                // rule most out before the word is folded (folding every one cost 0.5 % of
                // a scan).
                None if word.shape.is_title() && folded_shapes.may_hold(bytes) => {
                    scratch.key.clear();
                    push_normalized(&mut scratch.key, bytes);
                    let Some(needle) = folded.get(&scratch.key) else {
                        continue;
                    };
                    let (_, any) = word_masks(text, word, &inner.rules.lexicon, &mut scratch.key);
                    if any & (inner.propagation_guard | inner.propagation_common) != 0 {
                        continue;
                    }
                    needle
                }
                None => continue,
            };
            scratch.candidates.push(Finding {
                start: word.start,
                end: word.end,
                entity: inner.rules.rules[needle.rule].entity,
                rule: needle.rule,
                confidence: needle.confidence,
            });
        }
    }
}

/// The lengths and first bytes of a set of dictionary keys: a quick test that an ASCII
/// word's key is not among them.
#[derive(Default)]
struct KeyShapes {
    lengths: u64,
    first_bytes: u128,
}

impl KeyShapes {
    fn add(&mut self, key: &[u8]) {
        self.lengths |= 1 << key.len().min(63);
        if let Some(&first) = key.first().filter(|b| b.is_ascii()) {
            self.first_bytes |= 1 << first;
        }
    }

    /// Whether `word`'s key may be one of the keys added; always for a word that is not
    /// ASCII or holds an apostrophe, whose key folding may shorten.
    fn may_hold(&self, word: &[u8]) -> bool {
        let folds_as_is = word.is_ascii() && !word.contains(&b'\'');
        let Some(first) = word.first().filter(|_| folds_as_is) else {
            return true;
        };
        self.lengths & 1 << word.len().min(63) != 0
            && self.first_bytes & 1 << first.to_ascii_lowercase() != 0
    }
}

/// A word that propagation searches for: the rule and confidence its hits get.
#[derive(Clone, Copy)]
struct Needle {
    rule: usize,
    confidence: f32,
}

impl Needle {
    /// Holds this needle for a word unless the one held is better; whether it is held.
    fn keep_first<K>(self, entry: std::collections::hash_map::Entry<'_, K, Needle>) -> bool {
        match entry {
            std::collections::hash_map::Entry::Occupied(mut held) => {
                self.keep_better(held.get_mut())
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(self);
                true
            }
        }
    }

    /// Replaces `held` with this needle if this one's rule comes first in the pack (then,
    /// of one rule, if it is more confident); whether it did.
    fn keep_better(self, held: &mut Needle) -> bool {
        let better =
            self.rule < held.rule || self.rule == held.rule && self.confidence > held.confidence;
        if better {
            *held = self;
        }
        better
    }
}

/// Whether a word can carry a name elsewhere in the text: capitalised, three bytes or more.
fn is_propagatable(word: &Word) -> bool {
    (word.shape.is_title() || word.shape.is_upper()) && word.end - word.start >= 3
}

/// The words of a text with their dictionary masks (see [`word_masks`]).
struct WordView<'a> {
    words: &'a [Word],
    all: &'a [u64],
    any: &'a [u64],
}

/// A dictionary match: its byte span, how many matches were joined into it, and the words
/// of the first match (before any join).
#[derive(Clone, Debug)]
struct WordMatch {
    start: usize,
    end: usize,
    joined: usize,
    first: std::ops::Range<usize>,
}

/// Runs the end finder over `text` and fills `scratch.windows` with the windows each
/// pattern must search (see "Why the windows are exact"). On error (the DFA gave up) the
/// windows are left empty.
fn collect_windows(
    end_finders: &[EndFinder],
    patterns: &[CompiledPattern],
    text: &[u8],
    scratch: &mut Scratch,
) -> Result<(), regex_automata::MatchError> {
    scratch.segment_ends.clear();
    scratch.segment_ends.extend(segments(text).map(|s| s.end));
    scratch.line_breaks.clear();
    scratch.line_breaks.extend(memchr::memchr_iter(b'\n', text));
    let (segment_ends, line_breaks) = (&scratch.segment_ends, &scratch.line_breaks);
    let (windows, matched) = (&mut scratch.windows, &mut scratch.matched_patterns);
    let mut result = Ok(());
    // The DFAs are walked two at a time (see `end_finder::for_each_match_end`).
    for (finders, caches) in end_finders
        .chunks(2)
        .zip(scratch.end_finder_caches.chunks_mut(2))
    {
        // Per DFA: the segment holding the last byte of the current match, and the number
        // of line breaks before the match's end; its ends never decrease.
        let mut positions = [(0, 0); 2];
        let (first, second) = caches.split_at_mut(1);
        let first = (&finders[0].dfa, &mut first[0]);
        let second = finders.get(1).map(|finder| (&finder.dfa, &mut second[0]));
        result = end_finder::for_each_match_end(first, second, text, |side, local, end| {
            let finder = &finders[side];
            let pattern = &patterns[finder.patterns[local]];
            let (segment, breaks_before) = &mut positions[side];
            while segment_ends[*segment] < end {
                *segment += 1;
            }
            while line_breaks.get(*breaks_before).is_some_and(|&at| at < end) {
                *breaks_before += 1;
            }
            let segment_start = segment.checked_sub(1).map_or(0, |s| segment_ends[s]);
            // A match holding at most `k` line breaks starts after the (k+1)-th line
            // break before its end.
            let after_breaks = pattern.max_line_breaks.map_or(0, |k| {
                breaks_before
                    .checked_sub(k + 1)
                    .map_or(0, |i| line_breaks[i] + 1)
            });
            let reach = pattern.max_len.map_or(0, |len| end.saturating_sub(len));
            let start = segment_start.max(after_breaks).max(reach);
            let pattern = finder.patterns[local];
            let windows = &mut windows[pattern];
            match windows.last_mut() {
                // Merge within a segment only: a window never crosses a segment boundary.
                Some(last) if start <= last.1 && last.1 > segment_start => last.1 = end,
                Some(_) => windows.push((start, end)),
                None => {
                    windows.push((start, end));
                    matched.push(pattern);
                }
            }
        });
        if result.is_err() {
            break;
        }
    }
    if result.is_err() {
        for &id in &scratch.matched_patterns {
            scratch.windows[id].clear();
        }
        scratch.matched_patterns.clear();
    }
    result
}

/// A pattern rule's dictionary masks (see [`RuleKind::Pattern`]).
#[derive(Clone, Copy)]
struct WordLists {
    exclude: u64,
    listed: u64,
}

/// Pattern `hir` of rule `index`, compiled to run alone inside its windows.
fn compile_pattern(index: usize, hir: &Hir, lists: WordLists) -> Result<CompiledPattern, String> {
    // PERF: a pattern only runs inside its windows, a few dozen bytes each, where a
    // literal prefilter has nothing to skip. Extracting the literals for one was a third
    // of compiling the bundled pack.
    let regex = meta::Regex::builder()
        .configure(meta::Config::new().auto_prefilter(false))
        .build_from_hir(hir)
        .map_err(|e| e.to_string())?;
    let value_group = regex
        .group_info()
        .to_index(regex_automata::PatternID::ZERO, "value");
    Ok(CompiledPattern {
        rule: index,
        regex,
        value_group,
        max_len: hir.properties().maximum_len(),
        max_line_breaks: max_line_breaks(hir),
        exclude: lists.exclude,
        listed: lists.listed,
    })
}

/// A DFA over a group of patterns: its pattern `i` is `patterns[i]` of the matcher.
#[derive(Debug)]
struct EndFinder {
    dfa: DFA,
    patterns: Vec<usize>,
}

/// How many DFAs the patterns are shared out among, in pack order.
///
/// PERF: a state of one DFA over every pattern is a combination of where each pattern's
/// partial matches stand, and varied text (the dev notes) keeps meeting new combinations:
/// one DFA built states for every few bytes, outgrew its 64 MiB cache and cleared it over
/// and over, scanning ~0.3 MB/s. Four DFAs have far fewer combinations to build, at the
/// price of four passes over the text: on the dev notes the first scan is 3-4x faster and
/// a second scan of the same text 10x faster, while repetitive generated notes, whose
/// states one DFA had all built, scan ~15% slower (the probe runs for 1-12 DFAs are in
/// docs/DESIGN.md).
const END_FINDER_GROUPS: usize = 4;

fn build_end_finders(sources: &[&Hir]) -> Result<Vec<EndFinder>, String> {
    let per_group = sources.len().div_ceil(END_FINDER_GROUPS).max(1);
    let ids: Vec<usize> = (0..sources.len()).collect();
    let groups: Vec<&[usize]> = ids.chunks(per_group).collect();
    try_map_in_order(&groups, |group| {
        let hirs: Vec<&Hir> = group.iter().map(|&i| sources[i]).collect();
        Ok(EndFinder {
            dfa: end_finder::build(&hirs, end_finder::CACHE_BYTES)?,
            patterns: group.to_vec(),
        })
    })
}

/// How candidates are dispatched to patterns.
enum Dispatch {
    /// The end finder picks the windows each pattern searches.
    Automaton,
    /// Every pattern runs over every segment (the reference).
    EachPattern,
}

/// For each dictionary rule, the position in `word_rules` of the first rule with the same
/// matching settings: dictionaries, exclusions, case, length, whether matches join, the
/// unlisted-word dictionaries and, when those are set, the common words (a common name
/// takes no coordinated partner, a common surname no given name before it).
fn word_rule_twins(rules: &RuleSet, word_rules: &[usize]) -> Vec<usize> {
    let settings = |index: usize| match &rules.rules[index].kind {
        RuleKind::Words(w) => Some((
            w.include,
            w.exclude,
            w.case,
            w.max_words,
            w.join_bonus > 0.0,
            w.unlisted_after,
            w.unlisted_before,
            w.lifted_after_given,
            w.particles,
            (w.unlisted_after | w.unlisted_before != 0).then_some(w.common),
        )),
        RuleKind::Pattern { .. } => None,
    };
    (0..word_rules.len())
        .map(|k| {
            (0..k)
                .find(|&j| settings(word_rules[j]) == settings(word_rules[k]))
                .unwrap_or(k)
        })
        .collect()
}

fn compile_contexts(rules: &[Rule]) -> Result<Vec<RuleContext>, String> {
    let mut contexts = Vec::with_capacity(rules.len());
    for rule in rules {
        if rule.context.len() > 64 {
            return Err(format!(
                "rule `{}` has more than 64 context entries",
                rule.id()
            ));
        }
        let mut compiled = RuleContext::default();
        let mut words: Vec<&str> = Vec::new();
        // Each distinct word (and exact spelling) once: entries may share words, and an
        // entry that names a dictionary brings many.
        let mut ids: rustc_hash::FxHashMap<(&str, bool), usize> = Default::default();
        for (k, entry) in rule.context.iter().enumerate() {
            for word in entry.words.iter() {
                let id = *ids.entry((word, entry.exact_case)).or_insert_with(|| {
                    words.push(word);
                    compiled.entries_of_word.push(0);
                    compiled
                        .exact_spelling
                        .push(entry.exact_case.then(|| Box::from(word.as_bytes())));
                    words.len() - 1
                });
                compiled.entries_of_word[id] |= 1 << k;
            }
            let longest_word = entry.words.iter().map(String::len).max().unwrap_or(0);
            let reach = entry.window + longest_word;
            if entry.side != Side::After {
                compiled.reach_before = compiled.reach_before.max(reach);
            }
            if entry.side != Side::Before {
                compiled.reach_after = compiled.reach_after.max(reach);
                compiled.window_after = compiled.window_after.max(entry.window);
            }
            compiled.entries.push(ContextEntry {
                effect: entry.effect,
                window: entry.window,
                side: entry.side,
            });
        }
        if !words.is_empty() {
            // PERF: the first design, an unanchored overlapping search over each window,
            // found short words (`in`, `v`, `x`) inside most words of the text, only for a
            // word-boundary check to throw those hits away. An anchored DFA walked from word
            // starts visits each byte of a window about once and stops at the first byte no
            // word continues with.
            let automaton = ContextWords::new(&words)
                .map_err(|e| format!("rule `{}`: context words: {e}", rule.id()))?;
            compiled.words = Some(automaton);
        }
        contexts.push(compiled);
    }
    Ok(contexts)
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
/// Candidates are ranked (higher confidence, longer span, earlier rule, earlier start) and
/// each is kept unless it overlaps a better one already kept. PERF: the ranking only
/// matters within a *cluster*, a run of candidates (by start) chained by overlaps; most
/// clusters hold one candidate, so sorting by start and ranking each cluster apart is
/// linear in practice.
pub(crate) fn resolve_overlaps(candidates: &mut [Finding], out: &mut Vec<Finding>) {
    out.clear();
    candidates.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.end.cmp(&b.end))
            .then(a.rule.cmp(&b.rule))
    });
    let mut first = 0;
    while first < candidates.len() {
        let mut reach = candidates[first].end;
        let mut last = first + 1;
        while last < candidates.len() && candidates[last].start < reach {
            reach = reach.max(candidates[last].end);
            last += 1;
        }
        let cluster = &mut candidates[first..last];
        if let [single] = cluster {
            out.push(*single);
        } else {
            lift_containers(cluster);
            resolve_cluster(cluster, out);
        }
        first = last;
    }
}

/// Raises each candidate of a cluster sorted by (start, end) to the highest confidence of
/// the candidates of its rule that it contains. Only its own rule's: another rule's surer
/// part does not vouch for the rest of a longer span (`Dr. Jane Roe, January` holds the
/// titled `Jane Roe`, not a name up to the month). Each candidate looks only at the
/// candidates that start inside it.
fn lift_containers(cluster: &mut [Finding]) {
    for outer in 0..cluster.len() {
        let Finding {
            start, end, rule, ..
        } = cluster[outer];
        let same_start = cluster[..outer]
            .iter()
            .rev()
            .take_while(|inner| inner.start == start);
        let later = cluster[outer + 1..]
            .iter()
            .take_while(|inner| inner.start < end);
        let surest = same_start
            .chain(later)
            .filter(|inner| inner.rule == rule && inner.end <= end)
            .map(|inner| inner.confidence)
            .fold(cluster[outer].confidence, f32::max);
        cluster[outer].confidence = surest;
    }
}

/// Better candidates first: higher confidence, then the longer span, then the rule that
/// comes first in the pack, then the earlier start.
fn rank(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.confidence
        .total_cmp(&a.confidence)
        .then((b.end - b.start).cmp(&(a.end - a.start)))
        .then(a.rule.cmp(&b.rule))
        .then(a.start.cmp(&b.start))
}

/// [`resolve_overlaps`] for one cluster; appends the kept candidates sorted by start.
fn resolve_cluster(cluster: &mut [Finding], out: &mut Vec<Finding>) {
    cluster.sort_unstable_by(rank);
    // Kept findings by start; they never overlap, so their ends are ordered too.
    let mut kept: std::collections::BTreeMap<usize, Finding> = std::collections::BTreeMap::new();
    for candidate in cluster.iter() {
        let before = kept
            .range(..=candidate.start)
            .next_back()
            .is_some_and(|(_, f)| f.end > candidate.start);
        let after = kept
            .range(candidate.start..)
            .next()
            .is_some_and(|(_, f)| f.start < candidate.end);
        if !before && !after {
            kept.insert(candidate.start, *candidate);
        }
    }
    out.extend(kept.into_values());
}

/// Whether the words of `value` pass a pattern rule's lists, looked up once each: no word
/// is in a dictionary of `exclude`, and, unless `listed` is empty, every word is in one of
/// `listed` (a value without words passes: the rule's pattern decides it alone).
fn words_pass_lists(
    lexicon: &crate::lexicon::Lexicon,
    value: &[u8],
    exclude: u64,
    listed: u64,
    key: &mut Vec<u8>,
) -> bool {
    (exclude == 0 && listed == 0)
        || dictionaries_of_words(lexicon, value, key)
            .all(|bits| bits & exclude == 0 && (listed == 0 || bits & listed != 0))
}

/// The dictionary bits of each word of `value`, split at every byte that is not a word
/// byte.
fn dictionaries_of_words<'a>(
    lexicon: &'a crate::lexicon::Lexicon,
    value: &'a [u8],
    key: &'a mut Vec<u8>,
) -> impl Iterator<Item = u64> + 'a {
    value
        .split(|&b| !is_word_byte(b))
        .filter(|word| !word.is_empty())
        .map(move |word| {
            key.clear();
            push_normalized(key, word);
            lexicon.get(key)
        })
}

/// The dictionaries holding every part of a word (`all`) and any part (`any`); parts are
/// split at hyphens so `Smith-Jones` matches when both halves are surnames.
#[inline]
fn word_masks(
    text: &[u8],
    word: &Word,
    lexicon: &crate::lexicon::Lexicon,
    key: &mut Vec<u8>,
) -> (u64, u64) {
    let bytes = &text[word.start..word.end];
    key.clear();
    push_normalized(key, bytes);
    let whole = lexicon.get(key);
    if whole & !STARTS_PHRASE != 0 || !bytes.contains(&b'-') {
        return (whole, whole);
    }
    let (mut all, mut any) = (u64::MAX, 0);
    for part in bytes.split(|&b| b == b'-') {
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

/// The end (exclusive word index) of a surname no dictionary holds at word `next`: a
/// title-case word of two or more letters after a single space, or after an initial
/// (`Anna K. Szász`, `Ravil G Yefimov`).
fn unlisted_surname_end(
    text: &[u8],
    view: &WordView<'_>,
    next: usize,
    common: u64,
) -> Option<usize> {
    let words = view.words;
    let gap = |k: usize| &text[words[k - 1].end..words[k].start];
    if next >= words.len() || gap(next) != b" " {
        return None;
    }
    let mut at = next;
    let initial = &words[at];
    if initial.end - initial.start == 1
        && initial.shape.initial_upper
        && at + 1 < words.len()
        && matches!(gap(at + 1), b". " | b" ")
    {
        at += 1;
    }
    is_unlisted_title(text, view, at, common).then_some(at + 1)
}

/// The word before word `at`, when it is a given name no dictionary holds: a title-case word
/// of two or more letters a single space before it (`Weronika Martinsen`).
fn unlisted_given_name(text: &[u8], view: &WordView<'_>, at: usize, common: u64) -> Option<usize> {
    let before = at.checked_sub(1)?;
    let words = view.words;
    let spaced = text[words[before].end..words[at].start] == *b" ";
    (spaced && is_unlisted_title(text, view, before, common)).then_some(before)
}

/// Whether word `k` is a title-case word of two or more letters that no dictionary holds,
/// and not a contraction of `I` (`I'm`). Lookups fold diacritics, so a word written with
/// them that folds into a `common` list only (`Bašić` into English `basic`) is not that
/// word, and counts as unlisted.
fn is_unlisted_title(text: &[u8], view: &WordView<'_>, k: usize, common: u64) -> bool {
    let word = &view.words[k];
    let bytes = &text[word.start..word.end];
    let pronoun = bytes.starts_with(b"I'") || bytes.starts_with("I’".as_bytes());
    let lists = if bytes.is_ascii() {
        view.any[k]
    } else {
        view.any[k] & !common
    };
    word.shape.is_title() && lists == 0 && bytes.len() >= 2 && !pronoun
}

/// The index of an unlisted title-case word coordinated with a match that starts at word
/// `edge` (`Side::Before`: `X and Match`, `X & Match`, `X, Match`) or ends before it
/// (`Side::After`: `Match and X`, `Match & X`, `Match, X`).
fn coordinated_unlisted(
    text: &[u8],
    view: &WordView<'_>,
    edge: usize,
    side: Side,
    common: u64,
) -> Option<usize> {
    let words = view.words;
    let gap = |k: usize| &text[words[k - 1].end..words[k].start];
    let is_and = |k: usize| &text[words[k].start..words[k].end] == b"and";
    let partner = match side {
        Side::Before if edge >= 1 && matches!(gap(edge), b", " | b" & ") => edge - 1,
        Side::Before if edge >= 2 && gap(edge) == b" " && is_and(edge - 1) => {
            (gap(edge - 1) == b" ").then_some(edge - 2)?
        }
        Side::After if edge < words.len() && matches!(gap(edge), b", " | b" & ") => edge,
        Side::After if edge + 1 < words.len() && gap(edge) == b" " && is_and(edge) => {
            (gap(edge + 1) == b" ").then_some(edge + 1)?
        }
        _ => return None,
    };
    is_unlisted_title(text, view, partner, common).then_some(partner)
}

/// Whether word `k` is a word of `rule`'s dictionaries in its case that a list of
/// `lifted_after_given` holds, vetoed or not (`Thompson` after `John`).
fn is_lifted_surname(view: &WordView<'_>, rule: &WordRule, k: usize) -> bool {
    case_ok(rule.case, &view.words[k])
        && view.all[k] & rule.include != 0
        && view.any[k] & rule.lifted_after_given != 0
}

/// `Q.` in `John Q. Smith`.
fn is_initial(text: &[u8], word: &Word) -> bool {
    word.end - word.start == 1 && word.shape.initial_upper && text.get(word.end) == Some(&b'.')
}

/// Whether `word` is a middle initial, and if so how many bytes after it are its own: 1
/// for the dot of `John Q. Smith`, 0 for the bare `Katie E Miles`. A bare initial needs a
/// space after it and is never `I`, which is the pronoun far more often (`Maria I think`).
fn middle_initial_dot(text: &[u8], word: &Word) -> Option<usize> {
    if is_initial(text, word) {
        return Some(1);
    }
    let bare = word.end - word.start == 1
        && word.shape.initial_upper
        && text[word.start] != b'I'
        && text.get(word.end) == Some(&b' ');
    bare.then_some(0)
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

/// Word bytes: ASCII letters and digits, and every byte of a multi-byte character.
fn is_word_byte(byte: u8) -> bool {
    WORD_BYTES[usize::from(byte)]
}

/// [`is_word_byte`] as a table: one load in the context walk's loop over every position.
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = (byte as u8).is_ascii_alphanumeric() || byte >= 0x80;
        byte += 1;
    }
    table
};

/// Whether a word runs across `at`: word bytes on both sides of it.
fn splits_word(text: &[u8], at: usize) -> bool {
    at > 0 && is_word_byte(text[at - 1]) && text.get(at).is_some_and(|&b| is_word_byte(b))
}

/// Calls `found` with (start, word id, end) for each context word that starts in `starts`,
/// ends by `high` and has a word boundary on both sides. None start inside a word.
fn for_each_context_word(
    words: &ContextWords,
    text: &[u8],
    starts: std::ops::Range<usize>,
    high: usize,
    mut found: impl FnMut(usize, u32, usize),
) {
    let automaton = &words.automaton;
    let mut after_word = starts.start > 0 && is_word_byte(text[starts.start - 1]);
    for (at, &first) in starts.clone().zip(&text[starts]) {
        let inside_word = after_word && is_word_byte(first);
        after_word = is_word_byte(first);
        if inside_word || !words.first_bytes[usize::from(first)] {
            continue;
        }
        let mut state = words.start;
        for (end, &byte) in (at + 1..).zip(&text[at..high]) {
            state = automaton.next_state(Anchored::Yes, state, byte);
            if automaton.is_dead(state) {
                break;
            }
            if !automaton.is_match(state) {
                continue;
            }
            for index in 0..automaton.match_len(state) {
                let word = automaton.match_pattern(state, index);
                // An anchored state also lists the words that merely end here.
                if end - automaton.pattern_len(word) == at && !splits_word(text, end) {
                    found(at, word.as_u32(), end);
                }
            }
        }
    }
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
    fn context_words_match_whole_words_from_their_start_only() {
        let words = ContextWords::new(&["in", "c:", "reached at", "reach"]).unwrap();
        let text = b"Within reach: C: 555, Reached at home; reaches in";
        let found = |starts: std::ops::Range<usize>, high: usize| {
            let mut hits = Vec::new();
            for_each_context_word(&words, text, starts, high, |at, word, end| {
                hits.push((at, word, end))
            });
            hits
        };
        // Inside `Within` no word starts; at its start `in` is no whole word.
        assert_eq!(found(0..1, text.len()), []);
        assert_eq!(found(4..5, text.len()), []);
        // `reach` ends inside `Reached`; `reached at` is a whole phrase, any case.
        assert_eq!(
            found(0..text.len(), text.len()),
            [(7, 3, 12), (14, 1, 16), (22, 2, 32), (47, 0, 49)]
        );
        // Nothing past `high` counts.
        assert_eq!(found(22..23, 31), []);
        // A range that starts inside a word knows it.
        assert_eq!(found(9..text.len(), text.len())[0], (14, 1, 16));
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
    fn a_run_keeps_its_span_over_surer_parts_of_its_own_rule_only() {
        let mut candidates = vec![
            finding(0, 19, 0, 0.69),
            finding(0, 6, 0, 0.79),
            finding(7, 19, 0, 0.64),
            finding(25, 40, 3, 0.6),
            finding(30, 35, 4, 0.95),
        ];
        let mut out = Vec::new();
        resolve_overlaps(&mut candidates, &mut out);
        let kept: Vec<(usize, usize, usize, f32)> = out
            .iter()
            .map(|f| (f.start, f.end, f.rule, f.confidence))
            .collect();
        assert_eq!(kept, [(0, 19, 0, 0.79), (30, 35, 4, 0.95)]);
    }

    proptest::proptest! {
        /// Clusters change nothing: the result equals one greedy pass over all candidates,
        /// each lifted to the confidence of the surest one of its rule inside it, in rank
        /// order.
        #[test]
        fn overlaps_resolve_like_one_greedy_pass(
            spans in proptest::collection::vec((0usize..60, 1usize..12, 0usize..4, 0u8..4), 0..40)
        ) {
            let mut candidates: Vec<Finding> = spans
                .iter()
                .map(|&(start, len, rule, c)| finding(start, start + len, rule, f32::from(c) / 4.0))
                .collect();
            let mut ranked = candidates.clone();
            for outer in ranked.iter_mut() {
                for inner in &candidates {
                    let inside = outer.start <= inner.start && inner.end <= outer.end;
                    if inside && outer.rule == inner.rule {
                        outer.confidence = outer.confidence.max(inner.confidence);
                    }
                }
            }
            ranked.sort_by(rank);
            let mut expected: Vec<Finding> = Vec::new();
            for c in ranked {
                if expected.iter().all(|k| k.end <= c.start || c.end <= k.start) {
                    expected.push(c);
                }
            }
            expected.sort_by_key(|f| f.start);
            let mut out = Vec::new();
            resolve_overlaps(&mut candidates, &mut out);
            proptest::prop_assert_eq!(out, expected);
        }
    }

    /// An end finder whose cache is too small gives up, and the scan falls back to every
    /// pattern over every segment with the same findings.
    #[test]
    fn a_thrashing_end_finder_falls_back_to_each_pattern() {
        let rules = crate::RuleSetBuilder::new().bundled().build().unwrap();
        let fast = Matcher::new(rules.clone()).unwrap();
        let mut slow = Matcher::new(rules).unwrap();
        let patterns: Vec<&Hir> = slow
            .inner
            .rules
            .rules
            .iter()
            .flat_map(|r| r.hirs())
            .collect();
        let tiny = EndFinder {
            dfa: end_finder::build(&patterns, 0).unwrap(),
            patterns: (0..patterns.len()).collect(),
        };
        Arc::get_mut(&mut slow.inner).unwrap().end_finders = vec![tiny];
        // Varied text (a fixed pseudo-random mix of words, digits and punctuation) needs
        // new states all the time; one known note in the middle gives findings.
        let pieces = [
            "Dr.",
            "Smith",
            "MRN:",
            "536-90-4399",
            "Elm",
            "St",
            "call",
            "(312)",
            ",",
            "\n",
        ];
        let mut state = 0x2545_f491u32;
        let mut text = String::new();
        for i in 0..4000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            text.push_str(pieces[(state >> 16) as usize % pieces.len()]);
            text.push_str(&((state >> 8) % 1000).to_string());
            text.push(' ');
            if i == 2000 {
                text.push_str("\nSeen by Dr. Angie Żukowski on 03/14/2021, SSN 536-90-4399.\n");
            }
        }
        let mut scratch = slow.scratch();
        let inner = &*slow.inner;
        let gave_up = collect_windows(
            &inner.end_finders,
            &inner.patterns,
            text.as_bytes(),
            &mut scratch,
        );
        assert!(gave_up.is_err(), "the tiny cache must make the DFA give up");
        assert!(scratch.matched_patterns.is_empty());
        let expected = fast.scan(text.as_bytes());
        assert!(!expected.is_empty());
        assert_eq!(slow.scan(text.as_bytes()), expected);
    }

    /// The windows of the two patterns of a pack with the given patterns, on `text`.
    fn windows_of(first: &str, second: &str, text: &[u8]) -> [Vec<(usize, usize)>; 2] {
        let pack = format!(
            r#"[pack]
name = "windows"

[[rule]]
id = "first"
type = "MRN"
patterns = ['{first}']
examples = [{{ text = "unchecked here", match = "here" }}]

[[rule]]
id = "second"
type = "NAME"
patterns = ['{second}']
examples = [{{ text = "unchecked here", match = "here" }}]
"#
        );
        let rules = crate::RuleSetBuilder::new()
            .toml("windows", &pack)
            .build()
            .unwrap();
        let matcher = Matcher::new(rules).unwrap();
        let mut scratch = matcher.scratch();
        let inner = &*matcher.inner;
        collect_windows(&inner.end_finders, &inner.patterns, text, &mut scratch).unwrap();
        [scratch.windows[0].clone(), scratch.windows[1].clone()]
    }

    #[test]
    fn windows_reach_back_from_match_ends_merge_and_stop_at_segments() {
        //           0         1         2
        //           01234567890123456789012 3 45678
        let text = b"ab 1234 x 567  Name: 89\n\n12345";
        let [digits, label] = windows_of("[0-9]{3}", "[A-Z][a-z]+:", text);
        // `[0-9]{3}` ends at 6 and 7 (merged), 13, 28, 29 and 30; the blank line ends a
        // segment at 25, so the windows from 25 on never merge with earlier ones.
        assert_eq!(digits, [(3, 7), (10, 13), (25, 30)]);
        // Unbounded: from the segment start to the match end.
        assert_eq!(label, [(0, 20)]);
    }

    #[test]
    fn windows_reach_back_no_further_than_the_line_breaks_a_match_holds() {
        //           0         1            2           3
        //           0123456789012345 67 8901234567 890123456
        let text = b"Xa b: 1 Name: 12\nc\nNo: 3 k:\n45 Id: 6\n";
        let [one_break, no_break] = windows_of(r"[a-z]+:\n?[0-9]+", "[A-Z][a-z]+: [0-9]+", text);
        // `k:\n45` ends at 29 and 30: back to the start of the line before.
        assert_eq!(one_break, [(19, 30)]);
        // `Name: 12` ends at 15 and 16, `No: 3` at 24, `Id: 6` at 36: each back to the
        // start of its line.
        assert_eq!(no_break, [(0, 16), (19, 24), (28, 36)]);
    }

    #[test]
    fn pattern_line_breaks() {
        let breaks = |pattern: &str| max_line_breaks(&parse_pattern(pattern).unwrap());
        assert_eq!(breaks("[A-Z][a-z]+ [0-9]{2}"), Some(0));
        assert_eq!(breaks(r"Name:\s*\w+"), None);
        assert_eq!(breaks(r"Name:[ \t]*(?:\n[ \t]*)?[A-Z][a-z]+"), Some(1));
        assert_eq!(breaks(r"(?:a\n|b\n\n|c)(?-u:[^x]){0,3}"), Some(5));
        assert_eq!(breaks(r"(?s)a.{2}(?m:^)b"), Some(2));
        assert_eq!(breaks(r"(?:(?-u:\b)x\n)+"), None);
    }

    #[test]
    fn pattern_lengths() {
        assert_eq!(
            parse_pattern("[0-9]{3}-[0-9]{2,4}")
                .unwrap()
                .properties()
                .maximum_len(),
            Some(8)
        );
        assert_eq!(
            parse_pattern("[0-9]+").unwrap().properties().maximum_len(),
            None
        );
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
        assert!(parse_pattern("a*").is_err());
        assert!(parse_pattern("(").is_err());
        assert!(parse_pattern("a+").is_ok());
        assert!(parse_pattern(r"\bword\b").is_err());
        assert!(parse_pattern(r"(?-u:\b)[0-9]+(?-u:\b)").is_ok());
    }
}
