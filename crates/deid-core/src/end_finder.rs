//! The passes over the text: a lazy DFA over a group of the pack's patterns (the matcher
//! builds a few) that reports, for each pattern, every offset where some match of it ends.
//!
//! regex-automata's own overlapping search (`try_search_overlapping_fwd`) takes one byte at
//! a time through its general transition function, records search progress on every byte
//! and returns to the caller once per match. [`for_each_match_end`] walks the same states
//! with a tight inner loop over transitions that are already built and untagged, and
//! leaves it only for a state that matches, is not built yet, or ends the search. It
//! reports exactly what the library's overlapping search reports for each DFA, in the
//! same order (a test checks this on the bundled pack).
//!
//! PERF: on 16 MiB of notes with warm states the single walk took ~125 ms against ~140 ms
//! for the library's loop (medians of 3), most of it waiting on memory, so two DFAs are
//! walked together and wait for their loads together.

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::{Input, MatchError, MatchKind};
use regex_syntax::hir::Hir;

/// The cache of each end-finder DFA. PERF: one DFA over the bundled pack built ~14 MiB of
/// states on generated notes and outgrew even 64 MiB on the varied dev notes; with the
/// default 2 MiB a cache thrashes. A cache grows only as states are built.
pub(crate) const CACHE_BYTES: usize = 64 << 20;

/// A forward DFA over `patterns` that reports where matches end. It gives up (and the
/// scan falls back to every pattern over every segment) when its cache is cleared more
/// than 3 times while building a state per fewer than 10 bytes searched: the heuristic
/// regex-automata's meta engine uses before it leaves its lazy DFA.
pub(crate) fn build(patterns: &[&Hir], cache_bytes: usize) -> Result<DFA, String> {
    build_with(
        patterns,
        DFA::config()
            .cache_capacity(cache_bytes)
            .minimum_cache_clear_count(Some(3))
            .minimum_bytes_per_state(Some(10)),
    )
}

fn build_with(
    patterns: &[&Hir],
    config: regex_automata::hybrid::dfa::Config,
) -> Result<DFA, String> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .which_captures(WhichCaptures::None),
        )
        .build_many_from_hir(patterns)
        .map_err(|e| e.to_string())?;
    DFA::builder()
        .configure(
            config
                .match_kind(MatchKind::All)
                .skip_cache_capacity_check(true),
        )
        .build_from_nfa(nfa)
        .map_err(|e| e.to_string())
}

/// Calls `found(side, pattern, end)` for every pattern of each DFA and every offset of
/// `text` where a match of that pattern ends; `side` is 0 for `first`'s patterns and 1 for
/// `second`'s. Each DFA's reports come in increasing order of `end` (patterns ending at the
/// same offset in the DFA's order); the two DFAs' reports interleave.
///
/// PERF: a walk is a chain of dependent table lookups, and the bundled pack's states do
/// not fit in the L1 cache, so one walk waits on memory for most of its time. The two
/// DFAs' walks, taken a byte each in turn, wait for their loads together. Each has a
/// cache of its own, so a cache clear in one never sends the other back. An earlier
/// design walked two halves of the text with one DFA, which left texts without a blank
/// line near their middle (every table cell) to a single walk.
///
/// # Errors
/// When a DFA gives up (its cache keeps filling); `found` may have been called for a
/// prefix of the text by then.
// PERF: one caller outside the tests; inlined there, the walk keeps `found` and its state
// in registers. Left to the inliner it was once outlined by an unrelated change, +2 % of a
// scan's instructions.
#[inline(always)]
pub(crate) fn for_each_match_end(
    first: (&DFA, &mut Cache),
    second: Option<(&DFA, &mut Cache)>,
    text: &[u8],
    mut found: impl FnMut(usize, usize, usize),
) -> Result<(), MatchError> {
    let (dfa_a, cache_a) = first;
    let mut a = Walk::start(dfa_a, 0, cache_a, text)?;
    let Some((dfa_b, cache_b)) = second else {
        return a.run(cache_a, text, &mut found);
    };
    let mut b = Walk::start(dfa_b, 1, cache_b, text)?;
    while !a.done && !b.done {
        while let (Some(&x), Some(&y)) = (a.next_byte(text), b.next_byte(text)) {
            let next_a = dfa_a.next_state_untagged(cache_a, a.state, x);
            let next_b = dfa_b.next_state_untagged(cache_b, b.state, y);
            if next_a.is_tagged() || next_b.is_tagged() {
                break;
            }
            a.state = next_a;
            a.at += 1;
            b.state = next_b;
            b.at += 1;
        }
        cache_a.search_update(a.at);
        cache_b.search_update(b.at);
        a.advance(cache_a, text, &mut found)?;
        b.advance(cache_b, text, &mut found)?;
    }
    a.run(cache_a, text, &mut found)?;
    b.run(cache_b, text, &mut found)
}

/// One walk of a DFA over the text; its reports name it by `side`.
struct Walk<'d> {
    dfa: &'d DFA,
    side: usize,
    /// The next byte to take.
    at: usize,
    state: LazyStateID,
    done: bool,
}

impl<'d> Walk<'d> {
    fn start(
        dfa: &'d DFA,
        side: usize,
        cache: &mut Cache,
        text: &[u8],
    ) -> Result<Walk<'d>, MatchError> {
        let state = if text.is_empty() {
            LazyStateID::default()
        } else {
            dfa.start_state_forward(cache, &Input::new(text))?
        };
        cache.search_start(0);
        Ok(Walk {
            dfa,
            side,
            at: 0,
            state,
            done: text.is_empty(),
        })
    }

    /// The next byte of the text, if the walk may take it through the table.
    fn next_byte<'t>(&self, text: &'t [u8]) -> Option<&'t u8> {
        if self.state.is_tagged() {
            return None;
        }
        text.get(self.at)
    }

    /// Walks to the end of the text.
    fn run(
        &mut self,
        cache: &mut Cache,
        text: &[u8],
        found: &mut impl FnMut(usize, usize, usize),
    ) -> Result<(), MatchError> {
        while !self.done {
            // The hot loop: built, untagged transitions, one table lookup per byte.
            while let Some(&byte) = self.next_byte(text) {
                let next = self.dfa.next_state_untagged(cache, self.state, byte);
                if next.is_tagged() {
                    break;
                }
                self.state = next;
                self.at += 1;
            }
            self.advance(cache, text, found)?;
        }
        cache.search_finish(self.at);
        Ok(())
    }

    /// Takes one byte, or the end of the text, through the full transition function: it
    /// builds missing states and reports matches.
    fn advance(
        &mut self,
        cache: &mut Cache,
        text: &[u8],
        found: &mut impl FnMut(usize, usize, usize),
    ) -> Result<(), MatchError> {
        if self.done {
            return Ok(());
        }
        let at = self.at;
        let gave_up = |_| MatchError::gave_up(at);
        let Some(&byte) = text.get(at) else {
            self.state = self
                .dfa
                .next_eoi_state(cache, self.state)
                .map_err(gave_up)?;
            self.report(cache, found);
            self.done = true;
            return Ok(());
        };
        self.state = self
            .dfa
            .next_state(cache, self.state, byte)
            .map_err(gave_up)?;
        if self.state.is_tagged() {
            if self.state.is_dead() {
                self.done = true;
                return Ok(());
            }
            if self.state.is_quit() {
                return Err(MatchError::quit(byte, at));
            }
            // Matches are delayed by one byte: they end where this byte starts.
            self.report(cache, found);
        }
        self.at += 1;
        Ok(())
    }

    fn report(&self, cache: &Cache, found: &mut impl FnMut(usize, usize, usize)) {
        if !self.state.is_match() {
            return;
        }
        for index in 0..self.dfa.match_len(cache, self.state) {
            let pattern = self.dfa.match_pattern(cache, self.state, index);
            found(self.side, pattern.as_usize(), self.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use regex_automata::hybrid::dfa::OverlappingState;

    use super::*;

    /// What the library's overlapping search reports in `text`, as (pattern, end) pairs.
    fn library_ends(dfa: &DFA, cache: &mut Cache, text: &[u8]) -> Vec<(usize, usize)> {
        let input = Input::new(text);
        let mut state = OverlappingState::start();
        let mut ends = Vec::new();
        loop {
            dfa.try_search_overlapping_fwd(cache, &input, &mut state)
                .unwrap();
            let Some(found) = state.get_match() else {
                return ends;
            };
            ends.push((found.pattern().as_usize(), found.offset()));
        }
    }

    fn bundled_patterns() -> crate::RuleSet {
        crate::RuleSetBuilder::new().bundled().build().unwrap()
    }

    /// The pack's examples, edge cases, and all of them in one text.
    fn texts(rules: &crate::RuleSet) -> Vec<Vec<u8>> {
        let mut texts: Vec<Vec<u8>> = rules
            .rules()
            .iter()
            .flat_map(|r| {
                r.examples()
                    .iter()
                    .map(|(text, _)| text.as_bytes().to_vec())
            })
            .collect();
        // Edges: empty text, a match at the very end, bytes that are not UTF-8.
        texts.extend([
            Vec::new(),
            b"SSN 536-90-4399".to_vec(),
            b"\xff\xfe Dr. Smith \xc3".to_vec(),
        ]);
        texts.push(texts.join(&b"\n\n"[..]));
        texts
    }

    /// Checks `for_each_match_end` on every text, with `first` alone and with both DFAs,
    /// against the library's search with the reference DFAs; returns the ends reported.
    fn check(first: &DFA, second: &DFA, references: [&DFA; 2], texts: &[Vec<u8>]) -> usize {
        let mut caches = [first.create_cache(), second.create_cache()];
        let mut reference_caches = references.map(DFA::create_cache);
        let mut reported = 0;
        for text in texts {
            let expected: Vec<Vec<(usize, usize)>> = references
                .iter()
                .zip(&mut reference_caches)
                .map(|(dfa, cache)| library_ends(dfa, cache, text))
                .collect();
            let [cache_a, cache_b] = &mut caches;
            let mut alone = Vec::new();
            for_each_match_end((first, cache_a), None, text, |side, pattern, end| {
                alone.push((side, pattern, end))
            })
            .unwrap();
            let expected_alone: Vec<_> = expected[0].iter().map(|&(p, e)| (0, p, e)).collect();
            assert_eq!(alone, expected_alone, "{:?}", String::from_utf8_lossy(text));
            let mut ends = [Vec::new(), Vec::new()];
            for_each_match_end(
                (first, cache_a),
                Some((second, cache_b)),
                text,
                |side, pattern, end| ends[side].push((pattern, end)),
            )
            .unwrap();
            assert_eq!(
                ends.to_vec(),
                expected,
                "{:?}",
                String::from_utf8_lossy(text)
            );
            reported += ends[0].len() + ends[1].len();
        }
        reported
    }

    /// The bundled pack's patterns in two halves, as two DFAs with the given cache size.
    fn halves(cache_bytes: Option<usize>) -> [DFA; 2] {
        let rules = bundled_patterns();
        let patterns: Vec<&Hir> = rules.rules().iter().flat_map(|r| r.hirs()).collect();
        let (a, b) = patterns.split_at(patterns.len() / 2);
        [a, b].map(|half| match cache_bytes {
            None => build(half, CACHE_BYTES).unwrap(),
            Some(bytes) => build_with(
                half,
                DFA::config()
                    .cache_capacity(bytes)
                    .minimum_cache_clear_count(None),
            )
            .unwrap(),
        })
    }

    #[test]
    fn reports_what_the_library_overlapping_search_reports_per_dfa() {
        let [first, second] = halves(None);
        let reported = check(
            &first,
            &second,
            [&first, &second],
            &texts(&bundled_patterns()),
        );
        assert!(reported > 2000, "only {reported} match ends");
    }

    /// A cache small enough to be cleared many times within one text must neither lose a
    /// report nor repeat one, nor disturb the other DFA's walk.
    #[test]
    fn cache_clears_during_the_walks_change_nothing() {
        let [first, second] = halves(Some(2 << 20));
        let references = halves(None);
        let texts = texts(&bundled_patterns());
        let all = texts.last().unwrap().clone();
        let mut cache = first.create_cache();
        for_each_match_end((&first, &mut cache), None, &all, |_, _, _| {}).unwrap();
        assert!(cache.clear_count() > 0, "the cache was never cleared");
        check(&first, &second, [&references[0], &references[1]], &[all]);
    }
}
