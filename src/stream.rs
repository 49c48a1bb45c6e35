//! Streaming: scan a text that arrives in pieces, with memory bounded by the unit size.

use crate::{Engine, Finding, Scratch};

/// Scans a stream of bytes piece by piece. Complete units (up to a blank line, see
/// `deid_core::segments`) are scanned as soon as about 1 MiB has arrived; the rest waits for
/// more input or [`TextStream::finish`]. Offsets count from the start of the stream.
///
/// ```
/// let engine = deid::Engine::new()?;
/// let mut stream = engine.stream();
/// let mut found = Vec::new();
/// stream.push(b"SSN 536-90", &mut |f| found.push(f));
/// stream.push(b"-4399 on file\n", &mut |f| found.push(f));
/// stream.finish(&mut |f| found.push(f));
/// assert_eq!((found[0].start, found[0].end), (4, 15));
/// # Ok::<(), deid::Error>(())
/// ```
pub struct TextStream<'e> {
    engine: &'e Engine,
    scratch: Scratch,
    buffer: Vec<u8>,
    /// Stream offset of `buffer[0]`.
    offset: usize,
    findings: Vec<Finding>,
}

impl<'e> TextStream<'e> {
    pub(crate) fn new(engine: &'e Engine) -> TextStream<'e> {
        TextStream {
            engine,
            scratch: engine.scratch(),
            buffer: Vec::new(),
            offset: 0,
            findings: Vec::new(),
        }
    }

    /// Adds bytes; calls `emit` for the findings of every unit completed so far.
    pub fn push(&mut self, bytes: &[u8], emit: &mut dyn FnMut(Finding)) {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() < deid_formats::text::UNIT_TARGET {
            return;
        }
        // Everything before the last segment is complete: its last blank line has arrived.
        let last_start = deid_core::segments(&self.buffer)
            .last()
            .map_or(0, |r| r.start);
        if last_start > 0 {
            self.scan_prefix(last_start, emit);
        }
    }

    /// Scans whatever is left; the stream is done.
    pub fn finish(mut self, emit: &mut dyn FnMut(Finding)) {
        let len = self.buffer.len();
        self.scan_prefix(len, emit);
    }

    fn scan_prefix(&mut self, len: usize, emit: &mut dyn FnMut(Finding)) {
        self.engine
            .scan_bytes_into(&self.buffer[..len], &mut self.scratch, &mut self.findings);
        for mut finding in self.findings.drain(..) {
            finding.start += self.offset;
            finding.end += self.offset;
            emit(finding);
        }
        self.buffer.drain(..len);
        self.offset += len;
    }
}
