//! Counts that many threads add to at once.
//!
//! A table redaction counts every cell it changes, by column and by entity type and
//! action, from every worker thread. With one `AtomicU64` per count, the threads of a `-j2`
//! run took turns owning the same cache lines: perf put ~22 % of the samples of a 1 GiB
//! CSV redaction on the two contended increments. Each of the first threads to count now
//! owns a shard that no other thread writes, so it adds with a plain load and store (an
//! atomic add costs ~20 cycles even uncontended: 6 % of a one-thread redaction); later
//! threads share one more shard and add atomically. Reading a count sums the shards.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Threads that own a shard, at most.
const MAX_SHARDS: usize = 16;

/// Counts between the end of one shard and the start of the next: two 64-byte cache
/// lines, since CPUs prefetch lines in adjacent pairs.
const GAP: usize = 16;

/// Bytes of counts past which a set takes fewer shards: a table of a million columns
/// needs no sixteen copies of its counts.
const BUDGET_BYTES: usize = 1 << 20;

/// A fixed number of counts, each readable as the sum of what every thread added.
#[derive(Debug)]
pub struct Counters {
    /// `shards` owned shards, then the shared one, `stride` counts apart.
    counts: Box<[AtomicU64]>,
    len: usize,
    stride: usize,
    /// Owned shards: the threads of [`thread_index`] below this own one each.
    shards: usize,
}

impl Counters {
    /// `len` counts, all zero.
    pub fn new(len: usize) -> Counters {
        let stride = len + GAP;
        let fit = BUDGET_BYTES / (stride * size_of::<AtomicU64>());
        let shards = fit.saturating_sub(1).min(MAX_SHARDS);
        Counters {
            counts: (0..stride * (shards + 1))
                .map(|_| AtomicU64::new(0))
                .collect(),
            len,
            stride,
            shards,
        }
    }

    /// Adds `n` to count `index`.
    ///
    /// # Panics
    /// If `index` is not below the `len` the set was made with.
    pub fn add(&self, index: usize, n: u64) {
        assert!(index < self.len, "count {index} of {}", self.len);
        let thread = thread_index();
        if thread < self.shards {
            // No other thread ever writes this shard, so the add need not be atomic.
            let count = &self.counts[thread * self.stride + index];
            count.store(count.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        } else {
            self.counts[self.shards * self.stride + index].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Count `index`: what every thread added to it (0 past the end).
    pub fn get(&self, index: usize) -> u64 {
        if index >= self.len {
            return 0;
        }
        (0..=self.shards)
            .map(|shard| self.counts[shard * self.stride + index].load(Ordering::Relaxed))
            .sum()
    }
}

/// The calling thread's number, unique for the life of the process, handed out in the
/// order threads first count: the first [`MAX_SHARDS`] threads own a shard of every set.
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|index| *index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = Counters::new(3);
        std::thread::scope(|scope| {
            for thread in 0..(MAX_SHARDS + 3) as u64 {
                let counters = &counters;
                scope.spawn(move || {
                    for _ in 0..1000 {
                        counters.add(0, 1);
                        counters.add(2, thread);
                    }
                });
            }
        });
        let threads = (MAX_SHARDS + 3) as u64;
        assert_eq!(counters.get(0), threads * 1000);
        assert_eq!(counters.get(1), 0);
        assert_eq!(counters.get(2), 1000 * threads * (threads - 1) / 2);
        assert_eq!(counters.get(3), 0, "past the end");
    }

    #[test]
    fn large_sets_take_fewer_shards() {
        assert_eq!(Counters::new(10).shards, MAX_SHARDS);
        let wide = Counters::new(1_000_000);
        assert_eq!(wide.shards, 0, "every thread adds to the shared shard");
        assert_eq!(wide.counts.len(), 1_000_000 + GAP);
        wide.add(999_999, 5);
        assert_eq!(wide.get(999_999), 5);
        assert_eq!(Counters::new(0).get(0), 0);
    }

    #[test]
    #[should_panic(expected = "count 3 of 3")]
    fn adding_past_the_end_panics() {
        Counters::new(3).add(3, 1);
    }
}
