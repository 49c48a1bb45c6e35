//! Context: words near a candidate that raise, lower, require or forbid it.
//!
//! Presidio's context enhancement only raises a score when a hot word is near. Here a rule
//! may also lower its confidence (`lower`), fire only with a word nearby (`require`), or
//! never fire with one nearby (`forbid`), each with its own byte window and side. Context
//! words are matched as whole words by an anchored Aho-Corasick DFA per rule, walked from
//! each word start in the windows around candidates; case-insensitively unless an entry asks
//! for its words exactly as written (state codes such as `IN`, `OR`, `ME` are also English
//! words in lower case).

/// What a context entry does when one of its words is within the window.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ContextEffect {
    /// Add this much to the confidence.
    Raise(f32),
    /// Subtract this much from the confidence.
    Lower(f32),
    /// The candidate is dropped unless a word is present.
    Require,
    /// The candidate is dropped if a word is present.
    Forbid,
}

/// Which side of the candidate a context entry looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Side {
    /// Only the bytes before the candidate.
    Before,
    /// Only the bytes after the candidate.
    After,
    /// Both sides.
    Both,
}

/// One context entry of a rule.
#[derive(Clone, Debug)]
pub struct Context {
    pub(crate) words: Box<[String]>,
    pub(crate) effect: ContextEffect,
    pub(crate) window: usize,
    pub(crate) side: Side,
    pub(crate) exact_case: bool,
}

impl Context {
    /// The words: lower-cased, or as written when the entry matches case exactly.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// What a nearby word does.
    pub fn effect(&self) -> ContextEffect {
        self.effect
    }

    /// How many bytes on each side are looked at.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Which side is looked at.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Whether the words count only in the case they are written in.
    pub fn exact_case(&self) -> bool {
        self.exact_case
    }
}
