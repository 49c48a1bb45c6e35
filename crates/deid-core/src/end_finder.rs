//! The passes over the text: a lazy DFA over a group of the pack's patterns (the matcher
//! builds a few) that reports, for each pattern, every offset where some match of it ends.
//!
//! regex-automata's own overlapping search (`try_search_overlapping_fwd`) takes one byte at
//! a time through its general transition function, records search progress on every byte
//! and returns to the caller once per match. [`for_each_match_end`] walks the same states
//! with a tight inner loop over transitions that are already built and untagged, and
//! leaves it only for a state that matches, is not built yet, or ends the search. It
//! reports exactly what the library's overlapping search reports on each of its two
//! ranges, in the same order (a test checks this on the bundled pack).
//!
//! PERF: on 16 MiB of notes with warm states the single walk took ~125 ms against ~140 ms
//! for the library's loop (medians of 3), most of it waiting on memory; two interleaved
//! walks wait together, and cut the whole scan of 64 MiB of notes by ~12 % (medians of 9).

use std::ops::Range;

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

/// Calls `found(pattern, end)` for every pattern of `dfa` and every offset of `text` where
/// a match of that pattern ends, in increasing order of `end` (patterns ending at the same
/// offset in the DFA's order) — but with `split` inside the text, for the matches inside
/// `..split` and then those inside `split..`, each range searched as a range (look-around
/// sees the bytes beyond it), so a match across `split` is not reported.
///
/// PERF: the walk is a chain of dependent table lookups, and the bundled pack's states do
/// not fit in the L1 cache, so one walk waits on memory for most of its time. Two walks,
/// one per range, taken a byte each in turn, wait for their loads together. `later` holds
/// the second range's reports until the first range is done.
///
/// # Errors
/// When the DFA gives up (its cache keeps filling); `found` may have been called for a
/// prefix of the text by then.
// PERF: one caller outside the tests; inlined there, the walk keeps `found` and its state
// in registers. Left to the inliner it was once outlined by an unrelated change, +2 % of a
// scan's instructions.
#[inline(always)]
pub(crate) fn for_each_match_end(
    dfa: &DFA,
    cache: &mut Cache,
    text: &[u8],
    split: usize,
    later: &mut Vec<(usize, usize)>,
    mut found: impl FnMut(usize, usize),
) -> Result<(), MatchError> {
    later.clear();
    let mut later_found = |pattern, end| later.push((pattern, end));
    let mut first = Walk::start(dfa, cache, text, 0..split)?;
    let clears = cache.clear_count();
    let mut second = Walk::start(dfa, cache, text, split..text.len())?;
    first.stale = cache.clear_count() != clears;
    cache.search_start(0);
    let mut replayed = 0;
    while !first.done && !second.done && !first.stale {
        while let (Some(&a), Some(&b)) = (first.next_byte(text), second.next_byte(text)) {
            let next_a = dfa.next_state_untagged(cache, first.state, a);
            let next_b = dfa.next_state_untagged(cache, second.state, b);
            if next_a.is_tagged() || next_b.is_tagged() {
                break;
            }
            first.state = next_a;
            first.at += 1;
            second.state = next_b;
            second.at += 1;
        }
        cache.search_update(replayed + first.walked() + second.walked());
        // A cache clear forgets every state but the one the clearing call returns, so the
        // other walk must start its range again; the walks then go one after the other.
        let clears = cache.clear_count();
        first.advance(dfa, cache, text, &mut found)?;
        if cache.clear_count() != clears {
            second.stale = true;
            break;
        }
        second.advance(dfa, cache, text, &mut later_found)?;
        if cache.clear_count() != clears {
            first.stale = true;
            break;
        }
    }
    let clears = cache.clear_count();
    replayed += first.restart_if_stale(dfa, cache, text)?;
    first.run(dfa, cache, text, &mut found)?;
    second.stale |= cache.clear_count() != clears;
    replayed += second.restart_if_stale(dfa, cache, text)?;
    second.run(dfa, cache, text, &mut later_found)?;
    cache.search_finish(replayed + first.walked() + second.walked());
    for &(pattern, end) in later.iter() {
        found(pattern, end);
    }
    Ok(())
}

/// One walk of the DFA over a range of the text.
struct Walk {
    range: Range<usize>,
    /// The next byte to take.
    at: usize,
    state: LazyStateID,
    /// Reports at ends before this were made before a restart.
    quiet_before: usize,
    /// A cache clear may have forgotten `state`.
    stale: bool,
    done: bool,
}

impl Walk {
    fn start(
        dfa: &DFA,
        cache: &mut Cache,
        text: &[u8],
        range: Range<usize>,
    ) -> Result<Walk, MatchError> {
        let state = if range.is_empty() {
            LazyStateID::default()
        } else {
            dfa.start_state_forward(cache, &Input::new(text).range(range.clone()))?
        };
        Ok(Walk {
            at: range.start,
            done: range.is_empty(),
            range,
            state,
            quiet_before: 0,
            stale: false,
        })
    }

    /// Sends an unfinished walk whose state a cache clear may have forgotten back to its
    /// start, quiet up to where it was; returns the bytes it had walked.
    fn restart_if_stale(
        &mut self,
        dfa: &DFA,
        cache: &mut Cache,
        text: &[u8],
    ) -> Result<usize, MatchError> {
        if !self.stale || self.done {
            return Ok(0);
        }
        let walked = self.walked();
        self.state = dfa.start_state_forward(cache, &Input::new(text).range(self.range.clone()))?;
        self.quiet_before = self.quiet_before.max(self.at);
        self.at = self.range.start;
        self.stale = false;
        Ok(walked)
    }

    fn walked(&self) -> usize {
        self.at - self.range.start
    }

    /// The next byte of the range, if the walk may take it through the table.
    fn next_byte<'t>(&self, text: &'t [u8]) -> Option<&'t u8> {
        if self.state.is_tagged() || self.at == self.range.end {
            return None;
        }
        text.get(self.at)
    }

    /// Walks to the end of the range.
    fn run(
        &mut self,
        dfa: &DFA,
        cache: &mut Cache,
        text: &[u8],
        found: &mut impl FnMut(usize, usize),
    ) -> Result<(), MatchError> {
        while !self.done {
            // The hot loop: built, untagged transitions, one table lookup per byte.
            while let Some(&byte) = self.next_byte(text) {
                let next = dfa.next_state_untagged(cache, self.state, byte);
                if next.is_tagged() {
                    break;
                }
                self.state = next;
                self.at += 1;
            }
            self.advance(dfa, cache, text, found)?;
        }
        Ok(())
    }

    /// Takes one byte, or the end of the range, through the full transition function: it
    /// builds missing states and reports matches.
    fn advance(
        &mut self,
        dfa: &DFA,
        cache: &mut Cache,
        text: &[u8],
        found: &mut impl FnMut(usize, usize),
    ) -> Result<(), MatchError> {
        if self.done {
            return Ok(());
        }
        let at = self.at;
        let gave_up = |_| MatchError::gave_up(at);
        if at == self.range.end {
            // Past the range, look-ahead sees the next byte of the text, if any.
            self.state = match text.get(at) {
                Some(&byte) => dfa.next_state(cache, self.state, byte),
                None => dfa.next_eoi_state(cache, self.state),
            }
            .map_err(gave_up)?;
            self.report(dfa, cache, found);
            self.done = true;
            return Ok(());
        }
        self.state = dfa
            .next_state(cache, self.state, text[at])
            .map_err(gave_up)?;
        if self.state.is_tagged() {
            if self.state.is_dead() {
                self.done = true;
                return Ok(());
            }
            if self.state.is_quit() {
                return Err(MatchError::quit(text[at], at));
            }
            // Matches are delayed by one byte: they end where this byte starts.
            self.report(dfa, cache, found);
        }
        self.at += 1;
        Ok(())
    }

    fn report(&self, dfa: &DFA, cache: &Cache, found: &mut impl FnMut(usize, usize)) {
        if !self.state.is_match() || self.at < self.quiet_before {
            return;
        }
        for index in 0..dfa.match_len(cache, self.state) {
            found(
                dfa.match_pattern(cache, self.state, index).as_usize(),
                self.at,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use regex_automata::hybrid::dfa::OverlappingState;

    use super::*;

    /// What the library's overlapping search reports in `range`, as (pattern, end) pairs.
    fn library_ends(
        dfa: &DFA,
        cache: &mut Cache,
        text: &[u8],
        range: Range<usize>,
    ) -> Vec<(usize, usize)> {
        let input = Input::new(text).range(range);
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

    /// Checks `for_each_match_end` at several splits of every text against the library's
    /// search of each range; returns the ends reported.
    fn check_splits(dfa: &DFA, reference: &DFA, texts: &[Vec<u8>]) -> usize {
        let mut cache = dfa.create_cache();
        let mut reference_cache = reference.create_cache();
        let mut later = Vec::new();
        let mut reported = 0;
        for text in texts {
            let len = text.len();
            for split in [len, 0, len / 3, len / 2, len.saturating_sub(1)] {
                let mut expected = library_ends(reference, &mut reference_cache, text, 0..split);
                expected.extend(library_ends(
                    reference,
                    &mut reference_cache,
                    text,
                    split..len,
                ));
                let mut ends = Vec::new();
                for_each_match_end(dfa, &mut cache, text, split, &mut later, |pattern, end| {
                    ends.push((pattern, end))
                })
                .unwrap();
                assert_eq!(
                    ends,
                    expected,
                    "split {split} of {:?}",
                    String::from_utf8_lossy(text)
                );
                reported += ends.len();
            }
        }
        reported
    }

    #[test]
    fn reports_what_the_library_overlapping_search_reports_per_range() {
        let rules = bundled_patterns();
        let patterns: Vec<&Hir> = rules.rules().iter().flat_map(|r| r.hirs()).collect();
        let dfa = build(&patterns, CACHE_BYTES).unwrap();
        let reported = check_splits(&dfa, &dfa, &texts(&rules));
        assert!(reported > 5000, "only {reported} match ends");
    }

    /// A cache small enough to be cleared many times within one text sends the other walk
    /// back to its start; it must neither miss nor repeat a report.
    #[test]
    fn cache_clears_during_two_walks_change_nothing() {
        let rules = bundled_patterns();
        let patterns: Vec<&Hir> = rules.rules().iter().flat_map(|r| r.hirs()).collect();
        let reference = build(&patterns, CACHE_BYTES).unwrap();
        let small = build_with(
            &patterns,
            DFA::config()
                .cache_capacity(4 << 20)
                .minimum_cache_clear_count(None),
        )
        .unwrap();
        let texts = texts(&rules);
        let all = texts.last().unwrap().clone();
        let mut cache = small.create_cache();
        for_each_match_end(
            &small,
            &mut cache,
            &all,
            all.len() / 2,
            &mut Vec::new(),
            |_, _| {},
        )
        .unwrap();
        assert!(cache.clear_count() > 0, "the cache was never cleared");
        check_splits(&small, &reference, &[all]);
    }
}
