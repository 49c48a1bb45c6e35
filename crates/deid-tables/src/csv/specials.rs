//! The next byte of a small set (a delimiter, line breaks, quotes), found 64 bytes at a
//! time.
//!
//! Table fields are short: a few dozen bytes in a typical extract, under ten in the
//! `csv_reader` bench's short-field input. A `memchr3` call per field spent more time
//! starting its search than searching (40 % of a parse in `perf`). [`Specials`] instead
//! compares a whole 64-byte block against the set once, keeps the block's bit mask, and
//! answers each following query inside the block with a trailing-zero count.

/// A forward cursor over the positions of up to four needle bytes in an input.
pub(super) struct Specials<'a> {
    input: &'a [u8],
    needles: [u8; 4],
    /// Start of the block whose mask is kept (a multiple of 64), or `usize::MAX` for none.
    block: usize,
    /// Bit `i` is set when `input[block + i]` is a needle.
    mask: u64,
}

impl<'a> Specials<'a> {
    /// A cursor over `input` for `needles` (repeat a byte to look for fewer than four).
    pub(super) fn new(input: &'a [u8], needles: [u8; 4]) -> Specials<'a> {
        Specials {
            input,
            needles,
            block: usize::MAX,
            mask: 0,
        }
    }

    /// The offset of the first needle at or after `from`. Queries are cheapest in
    /// increasing order, but any order gives the right answer.
    #[inline]
    pub(super) fn find(&mut self, from: usize) -> Option<usize> {
        let mut block = from & !63;
        if block != self.block {
            self.load(block)?;
        }
        let mut mask = self.mask & (u64::MAX << (from & 63));
        while mask == 0 {
            block += 64;
            self.load(block)?;
            mask = self.mask;
        }
        Some(block + mask.trailing_zeros() as usize)
    }

    /// Computes the mask of the block starting at `block`; `None` past the input's end.
    fn load(&mut self, block: usize) -> Option<()> {
        let bytes = self.input.get(block..)?;
        if bytes.is_empty() {
            return None;
        }
        self.block = block;
        self.mask = match bytes.first_chunk::<64>() {
            Some(full) => block_mask(full, self.needles),
            None => {
                // The last, short block: padded with zeros, whose bits are then cleared.
                let mut padded = [0u8; 64];
                padded[..bytes.len()].copy_from_slice(bytes);
                block_mask(&padded, self.needles) & !(u64::MAX << bytes.len())
            }
        };
        Some(())
    }
}

/// Bit `i` of the result is set when `block[i]` is one of `needles`.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
fn block_mask(block: &[u8; 64], needles: [u8; 4]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut mask = 0;
    // SAFETY: the `cfg` above compiles this only where SSE2 is enabled (all of x86_64), so
    // the intrinsics are available; `_mm_loadu_si128` needs no alignment, and each load
    // reads exactly the 16 bytes of one lane of `block`.
    unsafe {
        let [a, b, c, d] = needles.map(|n| _mm_set1_epi8(n as i8));
        for (i, lane) in block.as_chunks::<16>().0.iter().enumerate() {
            let x = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let hits = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, a), _mm_cmpeq_epi8(x, b)),
                _mm_or_si128(_mm_cmpeq_epi8(x, c), _mm_cmpeq_epi8(x, d)),
            );
            mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * i);
        }
    }
    mask
}

/// Bit `i` of the result is set when `block[i]` is one of `needles`.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn block_mask(block: &[u8; 64], needles: [u8; 4]) -> u64 {
    block.iter().enumerate().fold(0, |mask, (i, byte)| {
        mask | (u64::from(needles.contains(byte)) << i)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn finds_what_a_byte_search_finds(
            input in proptest::collection::vec(
                prop_oneof![Just(b','), Just(b'\n'), Just(b'"'), any::<u8>()],
                0..300,
            ),
            starts in proptest::collection::vec(0usize..320, 1..20),
        ) {
            let needles = [b',', b'\n', b'\r', b'\r'];
            let mut specials = Specials::new(&input, needles);
            for from in starts {
                let expected = input
                    .get(from..)
                    .and_then(|rest| rest.iter().position(|b| needles.contains(b)))
                    .map(|i| from + i);
                prop_assert_eq!(specials.find(from), expected, "from {}", from);
            }
        }
    }

    #[test]
    fn the_short_last_block_ignores_its_padding() {
        // Zero is a needle here: the padding of the last block must not match.
        let input = [b'a'; 70];
        let mut specials = Specials::new(&input, [0, 0, 0, 0]);
        assert_eq!(specials.find(0), None);
        assert_eq!(specials.find(65), None);
        let mut input = input;
        input[69] = 0;
        assert_eq!(Specials::new(&input, [0, 0, 0, 0]).find(3), Some(69));
    }

    #[test]
    fn inputs_of_whole_blocks_end_cleanly() {
        for len in [64, 128] {
            let mut input = vec![b'a'; len];
            input[len - 1] = b',';
            let mut specials = Specials::new(&input, [b',', b',', b',', b',']);
            assert_eq!(specials.find(0), Some(len - 1));
            assert_eq!(specials.find(len), None, "from the end of {len} bytes");
            assert_eq!(specials.find(len + 5), None);
        }
    }
}
