//! The secret behind every keyed transform.
//!
//! One [`Key`] — 32 random bytes in a file only its owner can read — drives `hash`,
//! `encrypt`, `shift`, `surrogate` and `token`. Each transform uses its own subkey
//! ([`Key::derive`], HKDF-SHA-256), so knowing or breaking one output never helps with
//! another, and reusing the key across runs and files is what keeps pseudonyms joinable.
//!
//! The key never appears in output: `Debug` prints only its [`Key::fingerprint`], a short
//! non-secret id that run reports use to say which key produced a dataset.
//!
//! The key file is one line, `deid-key-v1:<64 lowercase hex digits>`. It is created with
//! mode 0600 and never overwritten; [`Key::load`] refuses a file others can read.
//!
//! ```
//! use deid_transform::key::{Key, Purpose};
//!
//! let key = Key::generate();
//! assert_eq!(key.fingerprint().len(), 16);
//! assert_ne!(*key.derive(Purpose::Hash), *key.derive(Purpose::Encrypt));
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The key file's first (and only) line starts with this.
const PREFIX: &str = "deid-key-v1:";

/// A key file is 77 bytes; more than this cannot be one, whatever trails it.
const MAX_FILE_LEN: usize = 4096;

/// Why a key cannot be written or loaded. Messages name the file, never a key byte.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The target of [`Key::write_new`] exists; keys are never overwritten.
    #[error("key file {} already exists; refusing to overwrite it", .path.display())]
    Exists {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is accessible to group or others.
    #[error(
        "key file {} is accessible to group or others (mode {mode:04o}); run `chmod 600 {}`",
        .path.display(),
        .path.display()
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not a key file.
    #[error(
        "{} is not a deid key file: expected one line `deid-key-v1:` followed by 64 \
         lowercase hex digits",
        .path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. `"read key file"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Which transform a subkey is for; each gets an independent one from [`Key::derive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// `hash`: keyed pseudonyms ([`crate::pseudonym`]).
    Hash,
    /// `encrypt`: format-preserving encryption ([`crate::fpe`]).
    Encrypt,
    /// `shift`: per-subject date offsets.
    Shift,
    /// `surrogate`: the choice of replacement value.
    Surrogate,
    /// `token`: the encrypted token store ([`crate::token`]).
    TokenStore,
}

impl Purpose {
    /// The name in the HKDF info string `deid/v1/<name>`. Changing one changes every
    /// output of that transform: these are part of the key format.
    const fn name(self) -> &'static str {
        match self {
            Purpose::Hash => "hash",
            Purpose::Encrypt => "encrypt",
            Purpose::Shift => "shift",
            Purpose::Surrogate => "surrogate",
            Purpose::TokenStore => "token-store",
        }
    }
}

/// 32 secret random bytes, zeroed when dropped. `Debug` prints only the fingerprint.
pub struct Key {
    bytes: Zeroizing<[u8; 32]>,
}

impl Key {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Panics
    /// When the operating system cannot supply random bytes.
    pub fn generate() -> Key {
        let mut bytes = Zeroizing::new([0; 32]);
        fill_random(&mut *bytes);
        Key { bytes }
    }

    /// Writes the key to a new file at `path`, readable only by its owner.
    ///
    /// The file appears complete or not at all: the key goes to a temporary file in the
    /// same directory, is flushed to disk, then linked into place, which fails rather
    /// than replace an existing file.
    ///
    /// # Errors
    /// [`KeyError::Exists`] when `path` exists; [`KeyError::Io`] when writing fails.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let exists = || KeyError::Exists {
            path: path.to_owned(),
        };
        let io_error = |action, source| KeyError::Io {
            action,
            path: path.to_owned(),
            source,
        };
        // Checked first only to fail before writing anything; the link below decides.
        if path.exists() {
            return Err(exists());
        }
        let mut line = Zeroizing::new(String::with_capacity(PREFIX.len() + 65));
        line.push_str(PREFIX);
        push_hex(&mut line, &*self.bytes);
        line.push('\n');
        PrivateTemp::write(path, line.as_bytes())
            .map_err(|source| io_error("write key file", source))?
            .persist_new(path)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => exists(),
                _ => io_error("create key file", source),
            })
    }

    /// Reads the key file at `path`.
    ///
    /// Trailing whitespace is ignored; anything else but the one key line is an error.
    ///
    /// # Errors
    /// [`KeyError::Permissions`] when the file grants group or other users any access
    /// (on Unix), [`KeyError::Malformed`] when it is not a key file, [`KeyError::Io`] when
    /// it cannot be read.
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        let io_error = |source| KeyError::Io {
            action: "read key file",
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().map_err(io_error)?.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let mut contents = Zeroizing::new(Vec::new());
        // One byte over the limit is enough for `parse` to reject the file.
        file.take(MAX_FILE_LEN as u64 + 1)
            .read_to_end(&mut contents)
            .map_err(io_error)?;
        parse(&contents).ok_or_else(|| KeyError::Malformed {
            path: path.to_owned(),
        })
    }

    /// A short public id of the key: the first 8 bytes of
    /// HMAC-SHA-256(key, `"deid fingerprint"`) in hex. It reveals nothing about the key
    /// and is safe to print in reports.
    pub fn fingerprint(&self) -> String {
        let digest = hmac(&*self.bytes)
            .chain_update(b"deid fingerprint")
            .finalize()
            .into_bytes();
        let mut out = String::with_capacity(16);
        push_hex(&mut out, &digest[..8]);
        out
    }

    /// The subkey for `purpose`: HKDF-SHA-256 with info `deid/v1/<purpose>`.
    pub fn derive(&self, purpose: Purpose) -> Zeroizing<[u8; 32]> {
        self.expand(&[b"deid/v1/", purpose.name().as_bytes()])
    }

    /// A second, independent subkey within `purpose` (info `deid/v1/<purpose>/<part>`), for
    /// a transform that needs two keys for two primitives.
    pub(crate) fn derive_part(&self, purpose: Purpose, part: &str) -> Zeroizing<[u8; 32]> {
        self.expand(&[
            b"deid/v1/",
            purpose.name().as_bytes(),
            b"/",
            part.as_bytes(),
        ])
    }

    fn expand(&self, info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0; 32]);
        Hkdf::<Sha256>::new(None, &*self.bytes)
            .expand_multi_info(info, &mut *out)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        out
    }
}

#[cfg(test)]
impl Key {
    /// A key with the given bytes, for tests that need fixed outputs.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Key {
        Key {
            bytes: Zeroizing::new(bytes),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(fingerprint {})", self.fingerprint())
    }
}

/// The key in a key file's bytes, if they are one.
fn parse(contents: &[u8]) -> Option<Key> {
    if contents.len() > MAX_FILE_LEN {
        return None;
    }
    let hex = contents.trim_ascii_end().strip_prefix(PREFIX.as_bytes())?;
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = Zeroizing::new([0; 32]);
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(Key { bytes })
}

/// The value of a lowercase hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// Appends `bytes` to `out` as lowercase hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// Fills `bytes` from the operating system's random number generator.
///
/// # Panics
/// When the operating system cannot supply random bytes: nothing keyed can proceed then.
pub(crate) fn fill_random(bytes: &mut [u8]) {
    getrandom::fill(bytes).expect("the operating system's random number generator failed");
}

/// HMAC-SHA-256 keyed with `key`, ready for input.
pub(crate) fn hmac(key: &[u8]) -> Hmac<Sha256> {
    Hmac::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// A fully written file beside its destination, readable only by its owner, that is
/// removed when dropped unless persisted. Secrets reach their final path only complete.
pub(crate) struct PrivateTemp {
    path: PathBuf,
    persisted: bool,
}

impl PrivateTemp {
    /// Writes `contents` to a new temporary file in the directory of `destination` and
    /// flushes it to disk.
    pub(crate) fn write(destination: &Path, contents: &[u8]) -> io::Result<PrivateTemp> {
        let mut suffix = [0; 8];
        fill_random(&mut suffix);
        let mut name = destination.file_name().unwrap_or_default().to_owned();
        let mut tag = String::from(".");
        push_hex(&mut tag, &suffix);
        name.push(tag + ".tmp");
        let path = destination.with_file_name(name);
        let mut file = private_options().create_new(true).open(&path)?;
        // Only now is the file ours to remove on failure.
        let temp = PrivateTemp {
            path,
            persisted: false,
        };
        file.write_all(contents)?;
        file.sync_all()?;
        Ok(temp)
    }

    /// Moves the file to `destination`, failing with `AlreadyExists` if that exists.
    pub(crate) fn persist_new(self, destination: &Path) -> io::Result<()> {
        // A hard link never replaces its target; dropping `self` then removes the temp name.
        fs::hard_link(&self.path, destination)?;
        sync_dir(destination)
    }

    /// Moves the file to `destination`, atomically replacing any file there.
    pub(crate) fn persist_replace(mut self, destination: &Path) -> io::Result<()> {
        fs::rename(&self.path, destination)?;
        self.persisted = true;
        sync_dir(destination)
    }
}

impl Drop for PrivateTemp {
    fn drop(&mut self) {
        if !self.persisted {
            // Best effort: the file holds nothing an error report could act on.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Options for writing a file only its owner can read or write (mode 0600 on Unix).
pub(crate) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Flushes the directory holding `path`, so a new name in it survives a crash.
#[cfg(unix)]
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for flushing here; the rename is as durable as it gets.
#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deid.key");
        let key = Key::generate();
        key.write_new(&path).unwrap();

        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), PREFIX.len() + 64 + 1);
        assert!(text.starts_with("deid-key-v1:") && text.ends_with('\n'));
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);

        let loaded = Key::load(&path).unwrap();
        assert_eq!(*loaded.bytes, *key.bytes);
        assert_eq!(loaded.fingerprint(), key.fingerprint());
        // Only the key file is left: the temporary file is gone.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deid.key");
        fs::write(&path, "precious").unwrap();
        let err = Key::generate().write_new(&path).unwrap_err();
        assert!(matches!(err, KeyError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("deid.key"));
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn persist_new_refuses_a_file_that_appeared_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target");
        let temp = PrivateTemp::write(&path, b"new").unwrap();
        fs::write(&path, "old").unwrap();
        let err = temp.persist_new(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn load_tolerates_trailing_whitespace_only() {
        let hex = "ab".repeat(32);
        let line = format!("deid-key-v1:{hex}");
        for good in [
            line.clone(),
            format!("{line}\n"),
            format!("{line} \r\n\n\t"),
        ] {
            let key = parse(good.as_bytes()).unwrap_or_else(|| panic!("rejected {good:?}"));
            assert_eq!(*key.bytes, [0xab; 32]);
        }
        for bad in [
            format!(" {line}"),
            format!("{line}\nextra"),
            format!("deid-key-v1:{}", hex.to_uppercase()),
            format!("deid-key-v2:{hex}"),
            format!("deid-key-v1:{}", &hex[1..]),
            format!("{line}0"),
            format!("deid-key-v1:{}g", &hex[1..]),
            format!("{line}{}", " ".repeat(MAX_FILE_LEN)),
            String::new(),
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "accepted {bad:?}");
        }
    }

    #[test]
    fn malformed_file_error_names_the_file_and_not_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notakey");
        private_options()
            .create_new(true)
            .open(&path)
            .unwrap()
            .write_all(b"deid-key-v1:00112233\n")
            .unwrap();
        let err = Key::load(&path).unwrap_err();
        assert!(matches!(err, KeyError::Malformed { .. }));
        let message = err.to_string();
        assert!(
            message.contains("notakey") && !message.contains("00112233"),
            "{message}"
        );
    }

    #[test]
    fn load_of_a_missing_file_names_it() {
        let err = Key::load(Path::new("/nonexistent/deid.key")).unwrap_err();
        assert!(matches!(err, KeyError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/deid.key"));
    }

    #[cfg(unix)]
    #[test]
    fn load_refuses_a_key_others_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deid.key");
        Key::generate().write_new(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = Key::load(&path).unwrap_err();
        assert!(matches!(err, KeyError::Permissions { mode: 0o640, .. }));
        assert!(
            err.to_string()
                .contains(&format!("chmod 600 {}", path.display()))
        );
    }

    #[test]
    fn subkeys_are_independent_and_stable() {
        let key = Key::generate();
        let purposes = [
            Purpose::Hash,
            Purpose::Encrypt,
            Purpose::Shift,
            Purpose::Surrogate,
            Purpose::TokenStore,
        ];
        let subkeys: Vec<_> = purposes.iter().map(|&p| *key.derive(p)).collect();
        for (i, a) in subkeys.iter().enumerate() {
            assert_ne!(a, &*key.bytes);
            for b in &subkeys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(*key.derive(Purpose::Hash), subkeys[0]);
        assert_ne!(*key.derive_part(Purpose::Hash, "x"), subkeys[0]);
        assert_ne!(*Key::generate().derive(Purpose::Hash), subkeys[0]);
    }

    #[test]
    fn derivation_matches_rfc_5869_with_the_documented_info() {
        // Pins the derivation so that keys stay compatible across releases.
        let key = Key::from_bytes([7; 32]);
        let mut expected = [0; 32];
        Hkdf::<Sha256>::new(None, &[7; 32])
            .expand(b"deid/v1/token-store", &mut expected)
            .unwrap();
        assert_eq!(*key.derive(Purpose::TokenStore), expected);
    }

    #[test]
    fn fingerprint_is_pinned() {
        // Computed independently (Python hmac/hashlib) from the documented construction.
        assert_eq!(Key::from_bytes([7; 32]).fingerprint(), "058308f380c64279");
    }

    #[test]
    fn debug_prints_the_fingerprint_only() {
        let key = Key::generate();
        let fingerprint = key.fingerprint();
        assert_eq!(fingerprint.len(), 16);
        assert!(fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            format!("{key:?}"),
            format!("Key(fingerprint {fingerprint})")
        );
        let mut hex = String::new();
        push_hex(&mut hex, &*key.bytes);
        assert!(!fingerprint.contains(&hex[..16]));
    }
}
