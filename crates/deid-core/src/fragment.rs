//! Pattern fragments: named pieces of regex that a pack's patterns insert as `{{ID}}`.
//!
//! Name patterns repeat the same building blocks (a title-case name word with its
//! apostrophes, hyphens and non-ASCII letters, the byte that may follow a name) many times
//! over, and TOML has no macros. A pack defines each block once as a `[[fragment]]`. A
//! fragment may use the fragments defined before it, so there are no cycles to detect; a
//! rule may use every fragment of its own pack and of the packs layered before it.
//! Expansion is eager: a later pack that redefines `U` changes what its own rules get for
//! `{{U}}`, not the fragments already built from it.
//!
//! A reference is replaced by the fragment's expanded text in a non-capturing group, so an
//! alternation inside it stays inside. It takes the flags in force where it stands, like
//! any other part of the pattern: under `(?i)` a title-case word fragment matches any case,
//! and under `(?x)` a literal space or `#` in a fragment is read as layout or a comment, so
//! fragments write them as `\x20` and `\#`. References are expanded everywhere in a
//! pattern, inside `(?x)` comments too.

/// The longest text a fragment or pattern may expand to. Each level of nesting may double
/// the text (`B = {{A}}{{A}}`), so a few lines could otherwise ask for gigabytes; the
/// longest bundled pattern expands to about 8 KiB.
const MAX_EXPANDED: usize = 1 << 20;

/// The fragments known at some point of the layering: id and expanded text, in the order
/// they were defined.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fragments {
    defined: Vec<(String, String)>,
}

impl Fragments {
    /// Defines (or, from a later pack, redefines) `id` as `pattern`, expanded with the
    /// fragments known so far.
    pub(crate) fn define(&mut self, id: &str, pattern: &str) -> Result<(), String> {
        if !is_fragment_id(id) {
            return Err(format!(
                "fragment id `{id}`: use ASCII letters, digits and `_`, not starting with a digit"
            ));
        }
        let expanded = self
            .expand(pattern)
            .map_err(|message| format!("fragment `{id}`: {message}"))?;
        match self.defined.iter_mut().find(|(known, _)| known == id) {
            Some(existing) => existing.1 = expanded,
            None => self.defined.push((id.to_owned(), expanded)),
        }
        Ok(())
    }

    /// `pattern` with every `{{ID}}` replaced by `(?:` + the fragment's text + `)`.
    ///
    /// # Errors
    /// A reference to a fragment that is not defined (yet), or an expansion longer than
    /// [`MAX_EXPANDED`].
    pub(crate) fn expand(&self, pattern: &str) -> Result<String, String> {
        let mut out = String::with_capacity(pattern.len());
        let mut rest = pattern;
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let Some(id) = after.find("}}").map(|close| &after[..close]) else {
                break;
            };
            if !is_fragment_id(id) {
                // Not a reference (`\{{2}}` repeats a literal brace): keep the first brace,
                // as the second may open one (`\{{{TW}}`).
                out.push_str(&rest[..open + 1]);
                rest = &rest[open + 1..];
                continue;
            }
            let Some((_, text)) = self.defined.iter().find(|(known, _)| known == id) else {
                let known: Vec<&str> = self.defined.iter().map(|(k, _)| k.as_str()).collect();
                return Err(format!(
                    "`{{{{{id}}}}}` names no fragment of this pack or an earlier one, or none \
                     defined before this fragment (known: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
            };
            if out.len() + open + text.len() + "(?:)".len() > MAX_EXPANDED {
                return Err(format!(
                    "expands to more than {} KiB of regex",
                    MAX_EXPANDED >> 10
                ));
            }
            out.push_str(&rest[..open]);
            out.push_str("(?:");
            out.push_str(text);
            out.push(')');
            rest = &after[id.len() + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn is_fragment_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragments(defs: &[(&str, &str)]) -> Result<Fragments, String> {
        let mut fragments = Fragments::default();
        for (id, pattern) in defs {
            fragments.define(id, pattern)?;
        }
        Ok(fragments)
    }

    #[test]
    fn references_expand_in_groups_and_may_nest() {
        let f = fragments(&[("UP", "[A-Z]"), ("WORD", "{{UP}}[a-z]+|{{UP}}+")]).unwrap();
        assert_eq!(
            f.expand(r"Dr\.\x20{{WORD}}$").unwrap(),
            r"Dr\.\x20(?:(?:[A-Z])[a-z]+|(?:[A-Z])+)$"
        );
        assert_eq!(f.expand("no references").unwrap(), "no references");
    }

    #[test]
    fn braces_that_are_not_references_stay() {
        let f = fragments(&[("A", "a")]).unwrap();
        assert_eq!(f.expand(r"\{{2}}{{A}}").unwrap(), r"\{{2}}(?:a)");
        assert_eq!(f.expand(r"\{{{A}}\}").unwrap(), r"\{(?:a)\}");
        assert_eq!(f.expand("x{{A").unwrap(), "x{{A");
        assert_eq!(f.expand("{{ A }}").unwrap(), "{{ A }}");
    }

    #[test]
    fn unknown_and_later_fragments_are_errors() {
        let error = fragments(&[("A", "{{B}}"), ("B", "b")]).unwrap_err();
        assert!(
            error.contains("fragment `A`") && error.contains("`{{B}}`"),
            "{error}"
        );
        let f = fragments(&[("A", "a")]).unwrap();
        let error = f.expand("{{TW}}").unwrap_err();
        assert!(
            error.contains("`{{TW}}`") && error.contains("known: A"),
            "{error}"
        );
    }

    #[test]
    fn doubling_expansions_stop_at_the_limit() {
        let mut defs = vec![("F0".to_owned(), "x".repeat(1000))];
        for level in 1..20 {
            defs.push((
                format!("F{level}"),
                format!("{{{{F{0}}}}}{{{{F{0}}}}}", level - 1),
            ));
        }
        let mut fragments = Fragments::default();
        let error = defs
            .iter()
            .try_for_each(|(id, pattern)| fragments.define(id, pattern))
            .unwrap_err();
        assert!(error.contains("more than 1024 KiB"), "{error}");
    }

    #[test]
    fn ids_are_identifiers() {
        assert!(fragments(&[("TW_2", "x"), ("_x", "y")]).is_ok());
        for bad in ["", "2X", "T-W", "T W"] {
            assert!(fragments(&[(bad, "x")]).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_later_definition_replaces_an_earlier_one() {
        let f = fragments(&[("A", "a"), ("A", "b")]).unwrap();
        assert_eq!(f.expand("{{A}}").unwrap(), "(?:b)");
    }
}
