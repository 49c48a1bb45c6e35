//! The `token` action: random tokens, kept consistent by an encrypted store.
//!
//! A `hash` pseudonym is computed from the value, so anyone with the key can test a
//! guess. HIPAA §164.514(c) allows a re-identification code only if it is not derived
//! from information about the individual; a token is therefore drawn at random
//! (`<TYPE>-<10 Crockford base32 characters>`, as in [`crate::pseudonym`]), and kept the
//! same across files and runs by remembering it. The [`TokenStore`] maps each type and
//! value (in its canonical form, see [`crate::pseudonym`]) to its token, is kept encrypted
//! on disk, and lets the key holder — the honest broker — reverse a token
//! ([`TokenStore::original`]).
//!
//! In memory, lookups go through an HMAC-SHA-256 of the type and value under a subkey, so
//! values are only held once, for reversal, and are zeroed when the store is dropped.
//!
//! # File format
//!
//! `deid-tokens-v1\n`, a 12-byte random nonce (fresh on every save), then the
//! ChaCha20-Poly1305 encryption of a TOML document under the key's
//! [`Purpose::TokenStore`] subkey, with the header line as associated data. A store
//! written with another key, or altered in any byte, fails to open rather than being
//! replaced. The document lists one table per token, values in canonical form:
//!
//! ```toml
//! [[token]]
//! type = "SSN"
//! token = "SSN-4K9QW2ZP7C"
//! value = "123456789"
//! ```
//!
//! # One run at a time
//!
//! A run loads the store, adds tokens in memory and writes it back with
//! [`TokenStore::save`]. Two runs on one store must not overlap: the later save would drop
//! the tokens the other one added, and the same value could get two tokens. A store
//! therefore holds an exclusive advisory lock on `<path>.lock` for its lifetime, and a
//! second [`TokenStore::open`] fails with [`TokenError::InUse`]. The lock file stays on
//! disk: removing it would race with a run about to lock it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use deid_core::EntityType;
use hmac::Hmac;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::key::{self, Key, PrivateTemp, Purpose};
use crate::pseudonym::{canonical, digest, format_token};

/// The first line of a token store file, also its associated data.
const HEADER: &[u8] = b"deid-tokens-v1\n";

/// Bytes of the ChaCha20-Poly1305 nonce that follows the header.
const NONCE_LEN: usize = 12;

/// Why a token store cannot be opened or saved. Messages name the file, never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Another [`TokenStore`] holds the store's lock.
    #[error(
        "token store {} is in use by another deid run (its lock file {} is held); wait \
         for that run to finish",
        .path.display(),
        .lock.display()
    )]
    InUse {
        /// The token store.
        path: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The file does not start with the token store header.
    #[error("{} is not a deid token store", .path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
    },
    /// Authenticated decryption failed.
    #[error(
        "token store {} cannot be opened with key {fingerprint}: it was written with another \
         key, or has been damaged or altered (deid will not start a new store over it)",
        .path.display()
    )]
    Undecryptable {
        /// The token store.
        path: PathBuf,
        /// The fingerprint of the key that was tried.
        fingerprint: String,
    },
    /// The file decrypted but its contents are not a valid store.
    #[error("token store {} is damaged: {reason}", .path.display())]
    Corrupt {
        /// The token store.
        path: PathBuf,
        /// What is wrong; never a value from the store.
        reason: &'static str,
    },
    /// Reading, writing or locking failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. `"read token store"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Random tokens for values, consistent across files and runs, stored encrypted at one
/// path. `Send + Sync`: [`TokenStore::token`] may be called from any thread.
pub struct TokenStore {
    path: PathBuf,
    cipher: ChaCha20Poly1305,
    /// Keys the HMAC that indexes values in memory.
    index: Hmac<Sha256>,
    fingerprint: String,
    tokens: RwLock<Tokens>,
    /// Held for its exclusive advisory lock, released when the store is dropped.
    _lock: File,
}

/// The value behind a token.
struct Original {
    entity: EntityType,
    value: Zeroizing<String>,
}

/// The in-memory store.
#[derive(Default)]
struct Tokens {
    /// Token by HMAC of type and canonical value.
    by_digest: HashMap<[u8; 32], String>,
    by_token: HashMap<String, Original>,
    /// Tokens when the store was opened and when it was last written.
    loaded: usize,
    saved: usize,
}

impl Tokens {
    /// Adds a token; `false`, changing nothing, if its digest or token is already there.
    fn insert(&mut self, digest: [u8; 32], token: String, original: Original) -> bool {
        if self.by_digest.contains_key(&digest) || self.by_token.contains_key(&token) {
            return false;
        }
        self.by_digest.insert(digest, token.clone());
        self.by_token.insert(token, original);
        true
    }
}

/// The plaintext of a store file.
#[derive(Serialize, Deserialize)]
struct StoreFile<'a> {
    #[serde(rename = "token", default)]
    tokens: Vec<StoredToken<'a>>,
}

#[derive(Serialize, Deserialize)]
struct StoredToken<'a> {
    #[serde(rename = "type")]
    entity: EntityType,
    token: Cow<'a, str>,
    value: Cow<'a, str>,
}

impl TokenStore {
    /// Opens the store at `path` under `key`, taking its lock: loads it if the file
    /// exists, else starts empty (the file is created by [`TokenStore::save`]).
    ///
    /// # Errors
    /// [`TokenError::InUse`] when another store holds the lock,
    /// [`TokenError::Undecryptable`] when the file was written with another key or
    /// altered, [`TokenError::NotAStore`] or [`TokenError::Corrupt`] when it is not a
    /// valid store, [`TokenError::Io`] when it or the lock cannot be read.
    pub fn open(path: &Path, key: &Key) -> Result<TokenStore, TokenError> {
        let lock = lock(path)?;
        let subkey = key.derive(Purpose::TokenStore);
        let store = TokenStore {
            path: path.to_owned(),
            cipher: ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&*subkey)),
            index: key::hmac(&*key.derive_part(Purpose::TokenStore, "index")),
            fingerprint: key.fingerprint(),
            tokens: RwLock::default(),
            _lock: lock,
        };
        match fs::read(path) {
            Ok(bytes) => store.load(&bytes)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(store.io_error("read token store", source)),
        }
        Ok(store)
    }

    /// The token for `value`, a value of type `entity`: the one the store has for its
    /// canonical form, else a new random one, remembered.
    ///
    /// # Panics
    /// When the operating system cannot supply random bytes.
    pub fn token(&self, entity: EntityType, value: &str) -> String {
        let canonical = canonical(entity, value);
        let digest = digest(&self.index, entity, &canonical);
        if let Some(token) = self.read().by_digest.get(&digest) {
            return token.clone();
        }
        let mut tokens = self.write();
        // Another thread may have added it between the two locks.
        if let Some(token) = tokens.by_digest.get(&digest) {
            return token.clone();
        }
        let token = loop {
            let mut bits = [0; 8];
            key::fill_random(&mut bits);
            let token = format_token(entity, bits);
            // Two values sharing a token would make it irreversible: draw again.
            if !tokens.by_token.contains_key(&token) {
                break token;
            }
        };
        let original = Original {
            entity,
            value: Zeroizing::new(canonical.into_owned()),
        };
        tokens.insert(digest, token.clone(), original);
        token
    }

    /// The type and canonical value behind `token`, if this store issued it.
    pub fn original(&self, token: &str) -> Option<(EntityType, String)> {
        let tokens = self.read();
        let original = tokens.by_token.get(token)?;
        Some((original.entity, original.value.as_str().to_owned()))
    }

    /// Writes the store, if tokens were added since it was opened or last saved.
    ///
    /// The file is replaced atomically (written beside it with mode 0600, flushed, then
    /// renamed), so a crash leaves the old store or the new one, never a mix.
    ///
    /// # Errors
    /// [`TokenError::Io`] when the file cannot be written.
    pub fn save(&self) -> Result<(), TokenError> {
        let mut tokens = self.write();
        if tokens.by_token.len() == tokens.saved {
            return Ok(());
        }
        let file = StoreFile {
            tokens: tokens
                .by_token
                .iter()
                .map(|(token, original)| StoredToken {
                    entity: original.entity,
                    token: Cow::Borrowed(token),
                    value: Cow::Borrowed(&original.value),
                })
                .collect(),
        };
        let plaintext =
            Zeroizing::new(toml::to_string(&file).expect("strings and type names serialise"));
        let mut nonce = [0; NONCE_LEN];
        key::fill_random(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: HEADER,
        };
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("a token store is far below ChaCha20-Poly1305's length limit");
        let bytes = [HEADER, &nonce, &ciphertext].concat();
        PrivateTemp::write(&self.path, &bytes)
            .and_then(|temp| temp.persist_replace(&self.path))
            .map_err(|source| self.io_error("write token store", source))?;
        tokens.saved = tokens.by_token.len();
        Ok(())
    }

    /// The number of tokens in the store.
    pub fn len(&self) -> usize {
        self.read().by_token.len()
    }

    /// Whether the store holds no tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of tokens added since the store was opened.
    pub fn added(&self) -> usize {
        let tokens = self.read();
        tokens.by_token.len() - tokens.loaded
    }

    /// Decrypts and loads the file contents `bytes` into the empty store.
    fn load(&self, bytes: &[u8]) -> Result<(), TokenError> {
        let body = bytes
            .strip_prefix(HEADER)
            .ok_or_else(|| TokenError::NotAStore {
                path: self.path.clone(),
            })?;
        let undecryptable = || TokenError::Undecryptable {
            path: self.path.clone(),
            fingerprint: self.fingerprint.clone(),
        };
        let (nonce, ciphertext) = body.split_at_checked(NONCE_LEN).ok_or_else(undecryptable)?;
        let payload = Payload {
            msg: ciphertext,
            aad: HEADER,
        };
        let plaintext = Zeroizing::new(
            self.cipher
                .decrypt(Nonce::from_slice(nonce), payload)
                .map_err(|_| undecryptable())?,
        );

        // The parser's messages quote the document, so they are not passed on.
        let corrupt = |reason| TokenError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let text = std::str::from_utf8(&plaintext).map_err(|_| corrupt("it is not UTF-8"))?;
        let file: StoreFile =
            toml::from_str(text).map_err(|_| corrupt("its contents do not parse"))?;
        let mut tokens = self.write();
        for stored in file.tokens {
            let digest = digest(&self.index, stored.entity, &stored.value);
            let original = Original {
                entity: stored.entity,
                value: Zeroizing::new(stored.value.into_owned()),
            };
            if !tokens.insert(digest, stored.token.into_owned(), original) {
                return Err(corrupt("a token or a value appears twice"));
            }
        }
        tokens.loaded = tokens.by_token.len();
        tokens.saved = tokens.loaded;
        Ok(())
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> TokenError {
        TokenError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }

    // A panic while holding the lock cannot leave the maps half-updated (`insert` checks
    // before it changes anything), so a poisoned lock is still sound to use.
    fn read(&self) -> RwLockReadGuard<'_, Tokens> {
        self.tokens.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tokens> {
        self.tokens.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field("path", &self.path)
            .field("key_fingerprint", &self.fingerprint)
            .field("tokens", &self.len())
            .finish_non_exhaustive()
    }
}

/// Takes the exclusive lock of the store at `path`, on `<path>.lock`.
fn lock(path: &Path) -> Result<File, TokenError> {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    let io_error = |action, source| TokenError::Io {
        action,
        path: lock.clone(),
        source,
    };
    let file = key::private_options()
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|source| io_error("open lock file", source))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(TokenError::InUse {
            path: path.to_owned(),
            lock,
        }),
        Err(TryLockError::Error(source)) => Err(io_error("lock", source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_path() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deid.key.tokens");
        (dir, path)
    }

    #[test]
    fn tokens_are_consistent_within_a_store_and_after_reopening() {
        let (_dir, path) = store_path();
        let key = Key::generate();
        let store = TokenStore::open(&path, &key).unwrap();
        assert!(store.is_empty());
        let ssn = store.token(EntityType::Ssn, "123-45-6789");
        let (kind, code) = ssn.split_once('-').unwrap();
        assert_eq!((kind, code.len()), ("SSN", 10));
        assert_eq!(store.token(EntityType::Ssn, " 123 45 6789"), ssn);
        let mrn = store.token(EntityType::Mrn, "MR00123456");
        assert_ne!(store.token(EntityType::Ssn, "123-45-6780"), ssn);
        assert_eq!((store.len(), store.added()), (3, 3));
        store.save().unwrap();
        drop(store);

        let store = TokenStore::open(&path, &key).unwrap();
        assert_eq!((store.len(), store.added()), (3, 0));
        assert_eq!(store.token(EntityType::Ssn, "123456789"), ssn);
        assert_eq!(store.token(EntityType::Mrn, "MR00123456"), mrn);
        assert_eq!(store.added(), 0);
        store.token(EntityType::Mrn, "MR00999999");
        assert_eq!((store.len(), store.added()), (4, 1));
    }

    #[test]
    fn tokens_are_not_a_function_of_the_value() {
        let key = Key::generate();
        let (_a, first) = store_path();
        let (_b, second) = store_path();
        let a = TokenStore::open(&first, &key).unwrap();
        let b = TokenStore::open(&second, &key).unwrap();
        assert_ne!(
            a.token(EntityType::Ssn, "123-45-6789"),
            b.token(EntityType::Ssn, "123-45-6789")
        );
    }

    #[test]
    fn original_reverses_a_token_to_the_canonical_value() {
        let (_dir, path) = store_path();
        let key = Key::generate();
        let store = TokenStore::open(&path, &key).unwrap();
        let token = store.token(EntityType::Ssn, "123-45-6789");
        let name = store.token(EntityType::Name, " Ann Lee ");
        store.save().unwrap();
        drop(store);
        let store = TokenStore::open(&path, &key).unwrap();
        assert_eq!(
            store.original(&token),
            Some((EntityType::Ssn, "123456789".to_owned()))
        );
        assert_eq!(
            store.original(&name),
            Some((EntityType::Name, "Ann Lee".to_owned()))
        );
        assert_eq!(store.original("SSN-0000000000"), None);
    }

    #[test]
    fn save_writes_only_new_tokens_and_keeps_values_secret() {
        let (_dir, path) = store_path();
        let key = Key::generate();
        let store = TokenStore::open(&path, &key).unwrap();
        store.save().unwrap();
        assert!(!path.exists(), "an empty store is not written");

        store.token(EntityType::Email, "jane.doe@example.org");
        store.save().unwrap();
        let written = fs::read(&path).unwrap();
        assert!(written.starts_with(HEADER));
        assert!(!written.windows(8).any(|w| w == b"jane.doe"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // Nothing new: the file (and its nonce) stay as they are.
        store.save().unwrap();
        assert_eq!(fs::read(&path).unwrap(), written);
        drop(store);
        let store = TokenStore::open(&path, &key).unwrap();
        store.token(EntityType::Email, "Jane.Doe@example.org");
        store.save().unwrap();
        assert_eq!(fs::read(&path).unwrap(), written);
    }

    #[test]
    fn another_key_cannot_open_the_store_or_replace_it() {
        let (_dir, path) = store_path();
        let store = TokenStore::open(&path, &Key::generate()).unwrap();
        store.token(EntityType::Ssn, "123-45-6789");
        store.save().unwrap();
        drop(store);
        let written = fs::read(&path).unwrap();

        let other = Key::generate();
        let err = TokenStore::open(&path, &other).unwrap_err();
        assert!(matches!(err, TokenError::Undecryptable { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("another key") && message.contains(&other.fingerprint()));
        assert!(message.contains(&path.display().to_string()));
        assert_eq!(fs::read(&path).unwrap(), written);
    }

    #[test]
    fn any_altered_byte_is_detected() {
        let (_dir, path) = store_path();
        let key = Key::generate();
        let store = TokenStore::open(&path, &key).unwrap();
        store.token(EntityType::Ssn, "123-45-6789");
        store.save().unwrap();
        drop(store);
        let written = fs::read(&path).unwrap();

        for at in [0, HEADER.len(), HEADER.len() + NONCE_LEN, written.len() - 1] {
            let mut altered = written.clone();
            altered[at] ^= 1;
            fs::write(&path, &altered).unwrap();
            let err = TokenStore::open(&path, &key).unwrap_err();
            if at < HEADER.len() {
                assert!(matches!(err, TokenError::NotAStore { .. }), "{err}");
            } else {
                assert!(matches!(err, TokenError::Undecryptable { .. }), "{err}");
            }
        }
        fs::write(&path, &written[..HEADER.len() + 4]).unwrap();
        let err = TokenStore::open(&path, &key).unwrap_err();
        assert!(matches!(err, TokenError::Undecryptable { .. }), "{err}");
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_is_alive() {
        let (_dir, path) = store_path();
        let key = Key::generate();
        let first = TokenStore::open(&path, &key).unwrap();
        let err = TokenStore::open(&path, &key).unwrap_err();
        assert!(matches!(err, TokenError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("in use by another deid run"));
        drop(first);
        TokenStore::open(&path, &key).unwrap();
    }

    #[test]
    fn concurrent_callers_agree_on_tokens() {
        let (_dir, path) = store_path();
        let store = TokenStore::open(&path, &Key::generate()).unwrap();
        let values: Vec<String> = (0..200).map(|i| format!("MR{i:08}")).collect();
        let runs: Vec<Vec<String>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let values = values.iter();
                        values.map(|v| store.token(EntityType::Mrn, v)).collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(runs.iter().all(|run| *run == runs[0]));
        assert_eq!(store.len(), values.len());
    }

    #[test]
    fn debug_shows_no_values_or_key() {
        let (_dir, path) = store_path();
        let key = Key::generate();
        let store = TokenStore::open(&path, &key).unwrap();
        store.token(EntityType::Name, "Ann Lee");
        let debug = format!("{store:?}");
        assert!(debug.contains(&key.fingerprint()) && debug.contains("tokens: 1"));
        assert!(!debug.contains("Ann"));
    }
}
