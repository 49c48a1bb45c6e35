//! Plain text cut into units for parallel scanning.
//!
//! A unit ends at a blank line once it holds at least [`UNIT_TARGET`] bytes, so no
//! finding is split between units (findings never cross a blank line, see
//! `deid_core::segments`). A text with no blank line for a long stretch is cut at the
//! segment limit the matcher itself uses, so units and segments agree.

use std::ops::Range;

/// The size a unit grows to before it is cut at the next blank line.
pub const UNIT_TARGET: usize = 1 << 20;

/// Cuts `text` into consecutive units covering it.
pub fn units(text: &[u8]) -> Vec<Range<usize>> {
    let mut units = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for segment in deid_core::segments(text) {
        end = segment.end;
        if end - start >= UNIT_TARGET {
            units.push(start..end);
            start = end;
        }
    }
    if end > start || units.is_empty() && !text.is_empty() {
        units.push(start..end);
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_cover_the_text_in_order() {
        let mut text = Vec::new();
        for i in 0..200_000 {
            text.extend_from_slice(format!("line {i}\n\n").as_bytes());
        }
        let cut = units(&text);
        assert!(cut.len() > 1);
        assert_eq!(cut[0].start, 0);
        assert_eq!(cut.last().unwrap().end, text.len());
        assert!(cut.windows(2).all(|w| w[0].end == w[1].start));
        assert!(units(b"").is_empty());
    }
}
