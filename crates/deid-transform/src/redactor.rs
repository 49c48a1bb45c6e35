//! The redactor: a policy bound to its keys, applying one action per identifier.
//!
//! A [`Redactor`] is built once per run and shared by every worker thread. For each value
//! it looks up the policy's action, runs it, and counts what it did in a lock-free
//! [`Tally`] (by entity type and action) for the run's report. Keyed actions get
//! independent subkeys of one [`Key`]; per-value randomness (which surrogate, which shift)
//! comes from an HMAC of the value or subject, so it is the same in every file and run.
//!
//! An action that cannot handle a value — a date without a year to generalise, an
//! identifier too short for format-preserving encryption, a date `shift` cannot parse —
//! falls back to `tag`, never to keeping the value, and the tally counts the fallback.

use std::path::Path;

use deid_core::{EntityType, Finding};
use hmac::Mac;
use zeroize::Zeroizing;

use crate::counters::Counters;
use crate::fpe::FormatPreserving;
use crate::key::{Key, Purpose};
use crate::policy::{Action, Policy};
use crate::pseudonym::Pseudonymizer;
use crate::token::{TokenError, TokenStore};
use crate::{Transform, dates, generalize, mask, surrogate};

/// Why a redactor cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum RedactorError {
    /// The policy uses a keyed action and no key was given.
    #[error(
        "the policy {policy:?} uses `{action}` ({at}), which needs a key: pass --key-file PATH \
         or set DEID_KEY_FILE (create a key with `deid keygen -o PATH`)"
    )]
    MissingKey {
        /// The policy's name.
        policy: String,
        /// The first keyed action found.
        action: Action,
        /// Where the policy sets it.
        at: String,
    },
    /// The policy uses `token` and no token store was given.
    #[error("the policy {policy:?} uses `token` ({at}), which needs a token store")]
    MissingTokenStore {
        /// The policy's name.
        policy: String,
        /// Where the policy sets it.
        at: String,
    },
    /// The token store cannot be opened.
    #[error(transparent)]
    Tokens(#[from] TokenError),
}

/// Applies a [`Policy`]. `Send + Sync`: share one across threads.
pub struct Redactor {
    policy: Policy,
    keyed: Option<Keyed>,
    tally: Tally,
    /// Safe Harbor (C): a year this old or older says the person would be over 89, so a
    /// date from it is not generalised to its year but tagged.
    newest_safe_harbor_year: i32,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("policy", &self.policy.name())
            .field("key", &self.key_fingerprint())
            .finish_non_exhaustive()
    }
}

/// The keyed half of a redactor.
struct Keyed {
    fingerprint: String,
    pseudonyms: Pseudonymizer,
    fpe: FormatPreserving,
    shift: Zeroizing<[u8; 32]>,
    surrogate: Zeroizing<[u8; 32]>,
    tokens: Option<TokenStore>,
}

impl Redactor {
    /// Binds `policy` to `key`. The token store is opened at `token_store` when the policy
    /// uses `token` (the caller picks the path, by default beside the key file).
    ///
    /// # Errors
    /// When the policy uses a keyed action and `key` is `None`, or the token store cannot
    /// be opened (written with another key, tampered with, in use by another run).
    pub fn new(
        policy: Policy,
        key: Option<&Key>,
        token_store: Option<&Path>,
    ) -> Result<Redactor, RedactorError> {
        let uses = policy.keyed_uses();
        let keyed = match key {
            None => {
                if let Some((action, at)) = uses.into_iter().next() {
                    return Err(RedactorError::MissingKey {
                        policy: policy.name().to_owned(),
                        action,
                        at,
                    });
                }
                None
            }
            Some(key) => {
                let token_use = uses.into_iter().find(|(a, _)| *a == Action::Token);
                let tokens = match (token_use, token_store) {
                    (None, _) => None,
                    (Some(_), Some(path)) => Some(TokenStore::open(path, key)?),
                    (Some((_, at)), None) => {
                        return Err(RedactorError::MissingTokenStore {
                            policy: policy.name().to_owned(),
                            at,
                        });
                    }
                };
                Some(Keyed {
                    fingerprint: key.fingerprint(),
                    pseudonyms: Pseudonymizer::new(key),
                    fpe: FormatPreserving::new(key),
                    shift: key.derive(Purpose::Shift),
                    surrogate: key.derive(Purpose::Surrogate),
                    tokens,
                })
            }
        };
        Ok(Redactor {
            policy,
            keyed,
            tally: Tally::default(),
            newest_safe_harbor_year: current_year() - 90,
        })
    }

    /// The policy being applied.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The key's public fingerprint, when there is a key.
    pub fn key_fingerprint(&self) -> Option<&str> {
        self.keyed.as_ref().map(|k| k.fingerprint.as_str())
    }

    /// What the run did so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// New tokens this run added to the token store.
    pub fn tokens_added(&self) -> usize {
        self.tokens().map_or(0, TokenStore::added)
    }

    /// Saves the tokens added since the last save (nothing to do without new ones). Call it
    /// before any output that holds tokens becomes visible — a committed file, bytes on
    /// stdout — so that no released output holds a token the store does not know.
    ///
    /// # Errors
    /// When the store cannot be written.
    pub fn save_tokens(&self) -> Result<(), TokenError> {
        match self.tokens() {
            Some(tokens) => tokens.save(),
            None => Ok(()),
        }
    }

    fn tokens(&self) -> Option<&TokenStore> {
        self.keyed.as_ref().and_then(|k| k.tokens.as_ref())
    }

    /// A [`Transform`] for the findings of one subject's text (`subject` names whose dates
    /// move together under `shift`: a subject id, a record id, a file name).
    pub fn for_subject<'a>(&'a self, subject: &'a [u8]) -> SubjectTransform<'a> {
        SubjectTransform {
            redactor: self,
            subject,
        }
    }

    /// Appends the replacement of `value` (a value of type `entity`) under `action`.
    /// `Drop` writes nothing, like `Redact`: dropping a column is the table writer's job.
    pub fn replace_into(
        &self,
        entity: EntityType,
        action: Action,
        value: &[u8],
        subject: &[u8],
        out: &mut Vec<u8>,
    ) {
        let done = match action {
            // These never read the value, so it is not checked for UTF-8 (most cells of a
            // labelled column are tagged).
            Action::Redact | Action::Drop | Action::Tag => {
                self.apply(entity, action, "", subject, out)
            }
            _ => match std::str::from_utf8(value) {
                Ok(text) => self.apply(entity, action, text, subject, out),
                Err(_) if action == Action::Keep => {
                    out.extend_from_slice(value);
                    true
                }
                // The other actions read text: bytes that are not UTF-8 can only be removed.
                Err(_) => false,
            },
        };
        if done {
            self.tally.count(entity, action);
        } else {
            self.tally.count_fallback(entity, action);
            tag(entity, out);
        }
    }

    /// Runs `action`; `false` when it cannot handle the value (nothing written then).
    fn apply(
        &self,
        entity: EntityType,
        action: Action,
        value: &str,
        subject: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let written: Option<String> = match action {
            Action::Redact | Action::Drop => return true,
            Action::Keep => Some(value.to_owned()),
            Action::Tag => {
                tag(entity, out);
                return true;
            }
            Action::Mask => Some(mask::mask(value, self.policy.keep_last())),
            Action::Generalize => match entity {
                EntityType::Date => dates::year(value)
                    .filter(|&year| year > self.newest_safe_harbor_year)
                    .map(|year| format!("{year:04}")),
                EntityType::Zip => generalize::zip3(value),
                EntityType::AgeOver89 => generalize::age(value),
                _ => None,
            },
            Action::Hash => self.keyed().map(|k| k.pseudonyms.token(entity, value)),
            Action::Encrypt => self.keyed().and_then(|k| k.fpe.encrypt(entity, value).ok()),
            Action::Token => self.tokens().map(|t| t.token(entity, value)),
            Action::Shift => self.keyed().and_then(|k| {
                let seed = keyed_seed(&k.shift, &[subject]);
                let shift = self.policy.shift();
                let days = dates::offset_days(&seed, shift.min_days, shift.max_days);
                dates::shift(value, days)
            }),
            Action::Surrogate => self.keyed().map(|k| {
                let seed = keyed_seed(
                    &k.surrogate,
                    &[entity.as_str().as_bytes(), &[0], value.trim().as_bytes()],
                );
                surrogate::surrogate(entity, value, &seed)
            }),
        };
        match written {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                true
            }
            None => false,
        }
    }

    fn keyed(&self) -> Option<&Keyed> {
        self.keyed.as_ref()
    }
}

/// This year by the system clock (UTC).
fn current_year() -> i32 {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_days(chrono::Days::new(days)))
        .map_or(1970, |today| chrono::Datelike::year(&today))
}

/// HMAC-SHA-256 of the concatenated `parts` under `key`.
fn keyed_seed(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = crate::key::hmac(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn tag(entity: EntityType, out: &mut Vec<u8>) {
    out.push(b'[');
    out.extend_from_slice(entity.as_str().as_bytes());
    out.push(b']');
}

/// The [`Transform`] of one subject: see [`Redactor::for_subject`].
#[derive(Clone, Copy)]
pub struct SubjectTransform<'a> {
    redactor: &'a Redactor,
    subject: &'a [u8],
}

impl Transform for SubjectTransform<'_> {
    fn replace_into(&self, finding: &Finding, value: &[u8], out: &mut Vec<u8>) {
        let action = self.redactor.policy.action(finding.entity);
        self.redactor
            .replace_into(finding.entity, action, value, self.subject, out);
    }
}

/// Counts of what a run did, by entity type and action; safe to update from any thread.
#[derive(Debug)]
pub struct Tally {
    /// Values replaced, then values that fell back, each by [`Tally::index`].
    counts: Counters,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            counts: Counters::new(2 * Tally::LINES),
        }
    }
}

/// One line of a [`Tally`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TallyEntry {
    /// The entity type.
    pub entity: EntityType,
    /// The action the policy asked for.
    pub action: Action,
    /// Values replaced by that action.
    pub applied: u64,
    /// Values the action could not handle, tagged instead.
    pub fell_back: u64,
}

impl Tally {
    const LINES: usize = EntityType::ALL.len() * Action::ALL.len();

    fn index(entity: EntityType, action: Action) -> usize {
        let e = EntityType::ALL
            .iter()
            .position(|x| *x == entity)
            .expect("every entity type is in ALL");
        let a = Action::ALL
            .iter()
            .position(|x| *x == action)
            .expect("every action is in ALL");
        e * Action::ALL.len() + a
    }

    /// Counts one value replaced by `action`.
    pub fn count(&self, entity: EntityType, action: Action) {
        self.counts.add(Tally::index(entity, action), 1);
    }

    fn count_fallback(&self, entity: EntityType, action: Action) {
        self.counts
            .add(Tally::LINES + Tally::index(entity, action), 1);
    }

    /// The non-zero lines, by entity type then action.
    pub fn entries(&self) -> Vec<TallyEntry> {
        let mut entries = Vec::new();
        for entity in EntityType::ALL {
            for action in Action::ALL {
                let i = Tally::index(*entity, action);
                let applied = self.counts.get(i);
                let fell_back = self.counts.get(Tally::LINES + i);
                if applied + fell_back > 0 {
                    entries.push(TallyEntry {
                        entity: *entity,
                        action,
                        applied,
                        fell_back,
                    });
                }
            }
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(policy: &str, key: Option<&Key>) -> Redactor {
        let policy = Policy::parse("test", policy).expect("policy");
        Redactor::new(policy, key, None).expect("redactor")
    }

    fn replace(redactor: &Redactor, entity: EntityType, action: Action, value: &str) -> String {
        let mut out = Vec::new();
        redactor.replace_into(entity, action, value.as_bytes(), b"s1", &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn generalised_dates_keep_their_year_unless_it_implies_an_age_over_89() {
        let redactor = redactor("name = 'g'", None);
        let g = |v: &str| replace(&redactor, EntityType::Date, Action::Generalize, v);
        assert_eq!(g("March 14, 2021"), "2021");
        let old = redactor.newest_safe_harbor_year;
        assert_eq!(g(&format!("01/02/{}", old + 1)), (old + 1).to_string());
        // Safe Harbor (C): the year of such a date is an element to remove.
        assert_eq!(g(&format!("01/02/{old}")), "[DATE]");
        assert_eq!(g("3/14/1925"), "[DATE]");
        // No year at all: nothing to generalise to.
        assert_eq!(g("March 14"), "[DATE]");
        let entries = redactor.tally().entries();
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].applied, entries[0].fell_back), (2, 3));
    }

    #[test]
    fn actions_that_cannot_apply_tag_and_never_keep() {
        let key = Key::generate();
        let redactor = redactor("name = 'k'", Some(&key));
        // Too short for FF1, not UTF-8, a date that is no date: all tagged.
        assert_eq!(
            replace(&redactor, EntityType::Mrn, Action::Encrypt, "12"),
            "[MRN]"
        );
        assert_eq!(
            replace(&redactor, EntityType::Date, Action::Shift, "soon"),
            "[DATE]"
        );
        let mut out = Vec::new();
        redactor.replace_into(
            EntityType::Name,
            Action::Surrogate,
            b"\xff\xfe",
            b"",
            &mut out,
        );
        assert_eq!(out, b"[NAME]");
        out.clear();
        redactor.replace_into(EntityType::Name, Action::Keep, b"\xff\xfe", b"", &mut out);
        assert_eq!(out, b"\xff\xfe", "keep keeps bytes as they are");
        out.clear();
        redactor.replace_into(EntityType::Name, Action::Tag, b"\xff\xfe", b"", &mut out);
        assert_eq!(out, b"[NAME]", "a tag reads no text");
        assert_eq!(
            replace(&redactor, EntityType::Ssn, Action::Redact, "123-45-6789"),
            ""
        );
        assert_eq!(
            replace(&redactor, EntityType::Ssn, Action::Mask, "123-45-6789"),
            "***-**-6789"
        );
    }

    #[test]
    fn one_subjects_dates_move_together() {
        let key = Key::generate();
        let redactor = redactor(
            "name = 's'\n[shift]\nmin_days = -50\nmax_days = 50",
            Some(&key),
        );
        let shift = |subject: &[u8], value: &str| {
            let mut out = Vec::new();
            redactor.replace_into(
                EntityType::Date,
                Action::Shift,
                value.as_bytes(),
                subject,
                &mut out,
            );
            String::from_utf8(out).expect("UTF-8")
        };
        let day = |v: &str| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").expect(v);
        let a = day(&shift(b"p1", "2021-03-14"));
        let b = day(&shift(b"p1", "2021-04-01"));
        assert_eq!((b - a).num_days(), 18);
        let offset = (a - day("2021-03-14")).num_days();
        assert!(offset != 0 && (-50..=50).contains(&offset), "{offset}");
    }

    #[test]
    fn keyed_policies_need_a_key_and_tokens_a_store() {
        let policy = Policy::parse("test", "name = 't'\n[entities]\nMRN = 'token'").unwrap();
        let error = Redactor::new(policy.clone(), None, None).unwrap_err();
        assert!(matches!(
            error,
            RedactorError::MissingKey {
                action: Action::Token,
                ..
            }
        ));
        let error = Redactor::new(policy, Some(&Key::generate()), None).unwrap_err();
        assert!(error.to_string().contains("token store"), "{error}");
    }
}
