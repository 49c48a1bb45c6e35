//! deid finds and removes personal health information (PHI) and other personal identifiers
//! in research data.
//!
//! This crate is the facade: an [`Engine`] compiles rule packs once (the bundled
//! `safe-harbor` pack by default) and then scans and redacts any number of texts from any
//! number of threads. The engine itself lives in [`deid_core`]; readers and writers in
//! [`deid_formats`]; replacement text in [`deid_transform`].
//!
//! ```
//! let engine = deid::Engine::new()?;
//! let note = "Seen by Dr. Angie Żukowski on 2016-04-23; SSN 536-90-4399.";
//! let findings = engine.scan_text(note);
//! assert!(findings.iter().any(|f| f.entity == deid::EntityType::Ssn));
//! assert_eq!(engine.redact_text(note), "Seen by Dr. [NAME] on [DATE]; SSN [SSN].");
//! # Ok::<(), deid::Error>(())
//! ```
//!
//! Values never leak through `Debug`: a [`Finding`] holds offsets only, and [`Masked`]
//! wraps any value that must be carried.

use std::path::Path;
use std::sync::Mutex;

use deid_formats::jsonl::{self, FieldSelection};

pub use deid_core::{
    CheckReport, DEFAULT_MIN_CONFIDENCE, EntityType, Error, ErrorKind, Finding, Masked,
    MatchOptions, Matcher, Rule, RuleSet, RuleSetBuilder, RuleStats, Scratch, UnknownEntityType,
    check_rules,
};
pub use deid_transform::{
    Action, Key, Policy, PolicyError, Redactor, RedactorError, SubjectTransform, Tag, Transform,
};

mod stream;
pub mod tables;

pub use stream::TextStream;

/// Builds an [`Engine`]: which packs, which minimum confidence.
#[derive(Debug)]
pub struct EngineBuilder {
    bundled: bool,
    packs: Vec<PackSource>,
    min_confidence: f32,
}

#[derive(Debug)]
enum PackSource {
    File(std::path::PathBuf),
    Toml { origin: String, text: String },
}

impl Default for EngineBuilder {
    fn default() -> EngineBuilder {
        EngineBuilder {
            bundled: true,
            packs: Vec::new(),
            min_confidence: DEFAULT_MIN_CONFIDENCE,
        }
    }
}

impl EngineBuilder {
    /// Leaves the bundled `safe-harbor` pack out (only added packs are used).
    pub fn without_bundled(mut self) -> EngineBuilder {
        self.bundled = false;
        self
    }

    /// Layers a pack file over the packs so far (it may override or disable rules by id).
    pub fn pack_file(mut self, path: impl AsRef<Path>) -> EngineBuilder {
        self.packs.push(PackSource::File(path.as_ref().to_owned()));
        self
    }

    /// Layers a pack given as TOML text; `origin` names it in errors.
    pub fn pack_toml(mut self, origin: &str, text: &str) -> EngineBuilder {
        self.packs.push(PackSource::Toml {
            origin: origin.to_owned(),
            text: text.to_owned(),
        });
        self
    }

    /// Findings below this confidence are not reported (default
    /// [`DEFAULT_MIN_CONFIDENCE`]).
    pub fn min_confidence(mut self, min_confidence: f32) -> EngineBuilder {
        self.min_confidence = min_confidence;
        self
    }

    /// The layered, validated rule set, without compiling it.
    ///
    /// # Errors
    /// When a pack cannot be read, parsed or validated.
    pub fn rule_set(&self) -> Result<RuleSet, Error> {
        let mut builder = RuleSetBuilder::new();
        if self.bundled {
            builder = builder.bundled();
        }
        for pack in &self.packs {
            builder = match pack {
                PackSource::File(path) => builder.file(path),
                PackSource::Toml { origin, text } => builder.toml(origin, text),
            };
        }
        builder.build()
    }

    /// The matcher options this builder sets.
    pub fn match_options(&self) -> MatchOptions {
        MatchOptions {
            min_confidence: self.min_confidence,
        }
    }

    /// Loads and compiles the packs, in parallel on the current rayon pool.
    ///
    /// # Errors
    /// When a pack cannot be read, parsed or validated, or the automaton cannot be built.
    pub fn build(self) -> Result<Engine, Error> {
        let matcher = Matcher::with_options(self.rule_set()?, &self.match_options())?;
        Ok(Engine::from_matcher(matcher))
    }
}

/// Compile once, scan many: the bundled or configured rules, ready to scan and redact.
///
/// `Engine` is `Send + Sync`; share it by reference across threads. Scratch space is pooled
/// inside, so the convenience methods allocate only their results; the `_into` methods
/// with a caller-held [`Scratch`] allocate nothing per call once warm.
#[derive(Debug)]
pub struct Engine {
    matcher: Matcher,
    /// Scratch of each rayon worker thread, by its index in its pool: a table redaction
    /// takes scratch once per cell, and two threads taking turns at one pool's lock spent
    /// ~6 % of a `-j2` run there. A slot is locked by its own thread only, unless threads
    /// of two pools share an index; then the one that finds it taken uses `pool`.
    slots: Box<[ScratchSlot]>,
    pool: Mutex<Vec<Scratch>>,
}

/// Rayon worker threads with a scratch slot of their own, at most.
const SCRATCH_SLOTS: usize = 64;

/// One thread's scratch, on cache lines of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct ScratchSlot(Mutex<Option<Scratch>>);

impl Engine {
    /// An engine with the bundled `safe-harbor` pack and default options.
    ///
    /// # Errors
    /// Only if the bundled pack is broken (a test guards against that).
    pub fn new() -> Result<Engine, Error> {
        EngineBuilder::default().build()
    }

    /// A builder, starting from the bundled pack.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// An engine over an already compiled matcher.
    pub fn from_matcher(matcher: Matcher) -> Engine {
        Engine {
            matcher,
            slots: (0..SCRATCH_SLOTS).map(|_| ScratchSlot::default()).collect(),
            pool: Mutex::new(Vec::new()),
        }
    }

    /// The compiled matcher.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Fresh scratch space, for callers that hold one per thread.
    pub fn scratch(&self) -> Scratch {
        self.matcher.scratch()
    }

    /// Runs `f` with pooled scratch space.
    pub fn with_scratch<T>(&self, f: impl FnOnce(&mut Scratch) -> T) -> T {
        let slot = rayon::current_thread_index().and_then(|index| self.slots.get(index));
        if let Some(mut held) = slot.and_then(|slot| slot.0.try_lock().ok()) {
            let scratch = held.get_or_insert_with(|| self.matcher.scratch());
            return f(scratch);
        }
        let taken = self.pool.lock().map(|mut pool| pool.pop()).unwrap_or(None);
        let mut scratch = taken.unwrap_or_else(|| self.matcher.scratch());
        let result = f(&mut scratch);
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(scratch);
        }
        result
    }

    /// Scans bytes (any bytes; offsets are byte offsets) into `out`.
    pub fn scan_bytes_into(&self, text: &[u8], scratch: &mut Scratch, out: &mut Vec<Finding>) {
        self.matcher.scan_into(text, scratch, out);
    }

    /// The findings in a text, sorted by start, never overlapping.
    pub fn scan_text(&self, text: &str) -> Vec<Finding> {
        self.scan_bytes(text.as_bytes())
    }

    /// The findings in a byte slice, sorted by start, never overlapping.
    pub fn scan_bytes(&self, text: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        self.with_scratch(|scratch| self.matcher.scan_into(text, scratch, &mut out));
        out
    }

    /// The text with every finding replaced by its type in brackets (`[NAME]`).
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = Vec::with_capacity(text.len());
        self.redact_bytes_into(text.as_bytes(), &Tag, &mut out);
        // Replacements are UTF-8 and findings split only at character boundaries of valid
        // UTF-8 input, so this holds; fall back to a lossy copy rather than panic.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// `text` with every finding replaced as `redactor`'s policy says. `subject` names whose
    /// text it is: dates of one subject move together under `shift`.
    pub fn redact_with(&self, text: &str, redactor: &Redactor, subject: &str) -> String {
        let mut out = Vec::with_capacity(text.len());
        let transform = redactor.for_subject(subject.as_bytes());
        self.redact_bytes_into(text.as_bytes(), &transform, &mut out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// A JSON record with its selected string fields redacted under `redactor`, every other
    /// field as it was. The subject is the policy's `shift.subject` field, else the record's
    /// id (see [`record_subject`]).
    pub fn redact_record(
        &self,
        record: &serde_json::Map<String, serde_json::Value>,
        redactor: &Redactor,
        selection: &FieldSelection,
    ) -> serde_json::Map<String, serde_json::Value> {
        // The record goes through its JSON text, so that files and records are read and
        // rewritten alike.
        let line = serde_json::to_vec(record).expect("a JSON map serialises");
        let parsed = jsonl::parse_record(&line, 1).expect("a JSON map is a record");
        let subject = record_subject(&parsed, redactor.policy(), selection).unwrap_or_default();
        let mut replacements = Vec::new();
        jsonl::for_each_text_field(&parsed, selection, &mut |path, text| {
            let redacted = self.redact_with(text, redactor, &subject);
            if redacted != text {
                replacements.push((path.to_owned(), redacted));
            }
        });
        if replacements.is_empty() {
            return record.clone();
        }
        let mut spliced = Vec::with_capacity(line.len());
        jsonl::splice_strings(&line, &replacements, &mut spliced);
        serde_json::from_slice(&spliced).expect("splicing strings keeps the JSON valid")
    }

    /// Appends `text` to `out` with every finding replaced by `transform`.
    pub fn redact_bytes_into(&self, text: &[u8], transform: &dyn Transform, out: &mut Vec<u8>) {
        let findings = self.scan_bytes(text);
        deid_transform::apply_into(text, &findings, transform, out);
    }

    /// A streaming scanner: feed byte slices of any size, get findings with offsets from
    /// the start of the stream.
    pub fn stream(&self) -> TextStream<'_> {
        TextStream::new(self)
    }
}

/// Whose dates a JSON record's text holds: the policy's `shift.subject` field when the
/// record has it, else the record's id; `None` when it has neither.
pub fn record_subject(
    record: &jsonl::Record<'_>,
    policy: &Policy,
    selection: &FieldSelection,
) -> Option<String> {
    policy
        .shift()
        .subject
        .as_deref()
        .and_then(|field| jsonl::scalar_field(record, field))
        .or_else(|| jsonl::document_id(record, selection))
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    use super::*;

    #[test]
    fn records_keep_their_fields_and_redact_their_text_under_the_policy() {
        let engine = Engine::new().unwrap();
        let redactor = Redactor::new(Policy::safe_harbor().keyless(), None, None).unwrap();
        let record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"id": 7, "text": "SSN 536-90-4399, seen 2016-04-23.", "score": 1.5}"#,
        )
        .unwrap();
        let redacted = engine.redact_record(&record, &redactor, &FieldSelection::default());
        assert_eq!(redacted["text"], "SSN [SSN], seen 2016.");
        assert_eq!(redacted["id"], 7);
        assert_eq!(redacted["score"], record["score"]);
        let line = serde_json::to_vec(&record).unwrap();
        let parsed = jsonl::parse_record(&line, 1).unwrap();
        assert_eq!(
            record_subject(&parsed, redactor.policy(), &FieldSelection::default()).as_deref(),
            Some("7")
        );
    }

    #[test]
    fn scratch_is_lent_inside_a_pool_and_within_itself() {
        let engine = Engine::new().unwrap();
        let text = "Seen by Dr. Maria Lopez; call 312-555-0142.";
        let expected = engine.scan_text(text);
        assert!(!expected.is_empty());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let nested: Vec<_> = pool.install(|| {
            (0..8)
                .into_par_iter()
                .map(|_| {
                    // The worker's slot is held here, so the inner scan takes the pool's.
                    engine.with_scratch(|outer| {
                        let inner = engine.scan_text(text);
                        let mut found = Vec::new();
                        engine.scan_bytes_into(text.as_bytes(), outer, &mut found);
                        (inner, found)
                    })
                })
                .collect()
        });
        for (inner, outer) in nested {
            assert_eq!(inner, expected);
            assert_eq!(outer, expected);
        }
    }
}
