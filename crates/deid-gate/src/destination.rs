//! Release destinations: where approved exports land.
//!
//! A release must never leave a half-written file where a researcher or a downstream job could
//! pick it up, so every write is atomic: a folder gets a synced temp file renamed into place,
//! an object store gets a single put or a multipart upload that only becomes visible when it
//! completes. Keys come from request ids and file names inside the gate, but they are still
//! validated here, because a `..` slipping through would write outside the destination.
//!
//! The gate itself is synchronous (plain threads), while `object_store` is async, so an
//! object-store destination owns a one-worker tokio runtime and blocks on it. Call
//! [`Destination::put`] and [`Destination::sha256`] from outside any tokio runtime, and drop the
//! destination outside one too.
//!
//! Credentials only ever reach the `object_store` builders: they are never part of
//! [`Destination::describe`], the `Debug` output or an error message.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path as FsPath, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use sha2::{Digest, Sha256};

/// Files up to this size go up in one request; larger ones as a multipart upload.
const SINGLE_PUT_LIMIT: u64 = 8 * 1024 * 1024;
/// Size of one multipart part; at most [`PARTS_IN_FLIGHT`] + 1 of them are in memory at once.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploaded concurrently.
const PARTS_IN_FLIGHT: usize = 2;
/// Longest accepted key, in bytes (Azure's blob name limit, and well under S3's).
const MAX_KEY_LEN: usize = 1024;
/// Prefix of the temp files a folder destination writes before renaming them into place.
const TEMP_PREFIX: &str = ".deid-gate-";

/// Option keys the gate handles itself rather than passing to `object_store`: its retry
/// policy is not a string option there.
const OPT_MAX_RETRIES: &str = "max_retries";
const OPT_RETRY_TIMEOUT: &str = "retry_timeout";

/// Errors from parsing a destination or releasing to it. Each names the destination (without
/// credentials) and, where there is one, the object key.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// A folder destination must be absolute, so a release never depends on the gate's cwd.
    #[error(
        "release destination {spec:?} is a relative folder path; give an absolute path, \
         az://container/prefix or s3://bucket/prefix"
    )]
    RelativeFolder {
        /// The destination as configured.
        spec: String,
    },
    /// The destination string is malformed or uses an unsupported scheme.
    #[error("release destination {spec:?} is invalid: {reason}")]
    InvalidSpec {
        /// The destination as configured.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option key is not understood for this kind of destination.
    #[error("release destination {destination}: unknown option {key:?}")]
    UnknownOption {
        /// The destination, without credentials.
        destination: String,
        /// The option key (its value is not shown: it may be a secret).
        key: String,
    },
    /// An option the gate handles itself has a value it cannot parse.
    #[error("release destination {destination}: option {key:?} has an invalid value ({expected})")]
    InvalidOption {
        /// The destination, without credentials.
        destination: String,
        /// The option key.
        key: String,
        /// What the value should look like.
        expected: &'static str,
    },
    /// The object store client could not be configured (missing account, bad endpoint...).
    #[error("release destination {destination}: cannot configure the object store: {source}")]
    Config {
        /// The destination, without credentials.
        destination: String,
        /// The underlying error.
        source: Box<object_store::Error>,
    },
    /// A key is not a safe relative path.
    #[error("release destination {destination}: invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The destination, without credentials.
        destination: String,
        /// The rejected key.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The source file could not be opened or read.
    #[error(
        "release destination {destination}: cannot read source file {} for key {key:?}: {source}",
        path.display()
    )]
    Source {
        /// The destination, without credentials.
        destination: String,
        /// The key being written.
        key: String,
        /// The source file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The source file changed size while it was being uploaded.
    #[error(
        "release destination {destination}: source file {} for key {key:?} changed while it \
         was uploaded ({expected} bytes expected, {read} read); nothing was released",
        path.display()
    )]
    SourceChanged {
        /// The destination, without credentials.
        destination: String,
        /// The key being written.
        key: String,
        /// The source file.
        path: PathBuf,
        /// Its size when the upload started.
        expected: u64,
        /// The bytes actually read.
        read: u64,
    },
    /// The destination folder itself does not exist (it is never created: a typo in a mount
    /// point must not turn into a new folder on the local disk).
    #[error(
        "release destination {destination}: the folder does not exist or is not a directory \
         (it is not created automatically), while writing {key:?}"
    )]
    FolderMissing {
        /// The destination folder.
        destination: String,
        /// The key being written.
        key: String,
    },
    /// Writing into a folder destination failed.
    #[error("release destination {destination}: writing {key:?} failed: {source}")]
    FolderIo {
        /// The destination folder.
        destination: String,
        /// The key being written.
        key: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The container or bucket does not exist.
    #[error(
        "release destination {destination}: container or bucket {container:?} not found while \
         writing {key:?} (create it first): {source}"
    )]
    ContainerMissing {
        /// The destination, without credentials.
        destination: String,
        /// The container or bucket name.
        container: String,
        /// The key being written.
        key: String,
        /// The underlying error.
        source: Box<object_store::Error>,
    },
    /// An object store request failed.
    #[error("release destination {destination}: {operation} of {key:?} failed: {source}")]
    Store {
        /// The destination, without credentials.
        destination: String,
        /// The key involved.
        key: String,
        /// What was being done ("upload", "read").
        operation: &'static str,
        /// The underlying error.
        source: Box<object_store::Error>,
    },
    /// The destination's own tokio runtime could not be started.
    #[error("release destination {destination}: cannot start the I/O runtime: {source}")]
    Runtime {
        /// The destination, without credentials.
        destination: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Called from inside a tokio runtime, where blocking on another runtime would panic.
    #[error(
        "release destination {destination}: called from inside an async runtime for {key:?}; \
         call it from a plain thread"
    )]
    InsideRuntime {
        /// The destination, without credentials.
        destination: String,
        /// The key involved.
        key: String,
    },
}

/// Where approved exports are released.
#[derive(Clone)]
pub enum Destination {
    /// An absolute local (or mounted) folder; it must exist, sub-folders named by keys are created.
    Folder(PathBuf),
    /// An Azure Blob container or S3 bucket, with an optional prefix.
    ObjectStore {
        /// `az://container/prefix` or `s3://bucket/prefix`, normalised, without credentials.
        url: String,
        /// The configured store.
        store: Arc<dyn ObjectStore>,
        /// Prefix under which keys are written (may be empty).
        prefix: StorePath,
        /// The runtime that drives the store's requests.
        runtime: Arc<tokio::runtime::Runtime>,
    },
}

impl fmt::Debug for Destination {
    // Hand-written: the stores' own Debug output includes their credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Destination")
            .field(&self.describe())
            .finish()
    }
}

/// The object-store schemes understood by [`Destination::parse`].
#[derive(Clone, Copy)]
enum Scheme {
    Azure,
    S3,
}

impl Destination {
    /// Parses a release destination: an absolute folder path, `az://container/prefix` or
    /// `s3://bucket/prefix`.
    ///
    /// `options` are `object_store` configuration keys (`azure_storage_account_name`,
    /// `azure_storage_account_key`, `azure_storage_endpoint`, `aws_endpoint`,
    /// `aws_access_key_id`, client keys such as `allow_http`, `timeout`, `connect_timeout`...)
    /// from the gate's config. The environment variables the builders read (`AZURE_*`,
    /// `AWS_*`) apply too; `options` win. Two keys are the gate's own: `max_retries` (a count)
    /// and `retry_timeout` (`500ms`, `30s`, `2m`), which bound how long a failing request is
    /// retried. Unknown keys are an error, so a typo does not silently fall back to defaults.
    /// Folder destinations take no options.
    ///
    /// Relative folder paths are an error. Nothing is contacted here: a missing folder or
    /// container shows up on the first [`put`](Self::put).
    pub fn parse(
        spec: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<Destination, DestinationError> {
        let invalid = |reason: &str| DestinationError::InvalidSpec {
            spec: redact_spec(spec),
            reason: reason.to_string(),
        };
        if spec.trim().is_empty() {
            return Err(invalid("it is empty"));
        }
        let (scheme, rest) = if let Some(rest) = spec.strip_prefix("az://") {
            (Scheme::Azure, rest)
        } else if let Some(rest) = spec.strip_prefix("s3://") {
            (Scheme::S3, rest)
        } else if spec.contains("://") {
            return Err(invalid(
                "unsupported scheme; use an absolute folder path, az:// or s3://",
            ));
        } else {
            return Self::parse_folder(spec, options);
        };

        let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        if container.is_empty() {
            return Err(invalid("the container or bucket name is missing"));
        }
        if !container
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(invalid(
                "the container or bucket name may only hold letters, digits, '-', '.' and '_'",
            ));
        }
        let prefix_parts = if prefix.is_empty() {
            Vec::new()
        } else {
            split_key(prefix).map_err(|reason| invalid(&format!("the prefix {reason}")))?
        };
        let scheme_str = match scheme {
            Scheme::Azure => "az",
            Scheme::S3 => "s3",
        };
        let url = if prefix.is_empty() {
            format!("{scheme_str}://{container}")
        } else {
            format!("{scheme_str}://{container}/{prefix}")
        };

        let mut retry = RetryConfig::default();
        let mut store_options = Vec::new();
        for (key, value) in options {
            match key.as_str() {
                OPT_MAX_RETRIES => {
                    retry.max_retries =
                        value
                            .trim()
                            .parse()
                            .map_err(|_| DestinationError::InvalidOption {
                                destination: url.clone(),
                                key: key.clone(),
                                expected: "a whole number",
                            })?;
                }
                OPT_RETRY_TIMEOUT => {
                    retry.retry_timeout =
                        parse_duration(value).ok_or_else(|| DestinationError::InvalidOption {
                            destination: url.clone(),
                            key: key.clone(),
                            expected: "a duration such as 500ms, 30s or 2m",
                        })?;
                }
                _ => store_options.push((key.as_str(), value.as_str())),
            }
        }
        let unknown = |key: &str| DestinationError::UnknownOption {
            destination: url.clone(),
            key: key.to_string(),
        };
        let config_error = |source| DestinationError::Config {
            destination: url.clone(),
            source: Box::new(source),
        };

        let store: Arc<dyn ObjectStore> = match scheme {
            Scheme::Azure => {
                let mut builder = MicrosoftAzureBuilder::from_env();
                for (key, value) in store_options {
                    let parsed = AzureConfigKey::from_str(key).map_err(|_| unknown(key))?;
                    builder = builder.with_config(parsed, value);
                }
                let store = builder
                    .with_container_name(container)
                    .with_retry(retry)
                    .build()
                    .map_err(config_error)?;
                Arc::new(store)
            }
            Scheme::S3 => {
                let mut builder = AmazonS3Builder::from_env();
                for (key, value) in store_options {
                    let parsed = AmazonS3ConfigKey::from_str(key).map_err(|_| unknown(key))?;
                    builder = builder.with_config(parsed, value);
                }
                let store = builder
                    .with_bucket_name(container)
                    .with_retry(retry)
                    .build()
                    .map_err(config_error)?;
                Arc::new(store)
            }
        };

        // One worker: uploads of parts overlap with reading the next part on the caller's thread.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("deid-gate-release")
            .enable_all()
            .build()
            .map_err(|source| DestinationError::Runtime {
                destination: url.clone(),
                source,
            })?;

        Ok(Destination::ObjectStore {
            prefix: StorePath::from_iter(prefix_parts),
            url,
            store,
            runtime: Arc::new(runtime),
        })
    }

    fn parse_folder(
        spec: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<Destination, DestinationError> {
        let path = PathBuf::from(spec);
        if !path.is_absolute() {
            return Err(DestinationError::RelativeFolder {
                spec: spec.to_string(),
            });
        }
        if let Some(key) = options.keys().next() {
            return Err(DestinationError::UnknownOption {
                destination: spec.to_string(),
                key: key.clone(),
            });
        }
        Ok(Destination::Folder(path))
    }

    /// Copies `source` (a file the gate owns) to `key` under the destination, for example
    /// `request-12/results.csv`, replacing any earlier object at that key.
    ///
    /// Keys must be relative, `/`-separated, with no empty, `.` or `..` component, no
    /// backslash and no control character. The write is atomic: a folder destination writes a
    /// temp file next to the target, syncs it, renames it into place and syncs the folders; an
    /// object store gets one put for small files and a multipart upload streamed from the file
    /// (committed only when complete) for large ones. A folder destination must exist; the
    /// sub-folders a key names are created.
    ///
    /// Returns the location for the audit log: the full path, or `az://container/prefix/key`.
    /// Must be called outside a tokio runtime.
    pub fn put(&self, key: &str, source: &FsPath) -> Result<String, DestinationError> {
        let parts = self.check_key(key)?;
        let read_error = |error: io::Error| DestinationError::Source {
            destination: self.describe(),
            key: key.to_string(),
            path: source.to_path_buf(),
            source: error,
        };
        let mut file = File::open(source).map_err(read_error)?;
        let metadata = file.metadata().map_err(read_error)?;
        if !metadata.is_file() {
            return Err(read_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        match self {
            Destination::Folder(root) => put_folder(root, key, &parts, &mut file, read_error),
            Destination::ObjectStore {
                url,
                store,
                prefix,
                runtime,
            } => {
                let location = store_location(url, prefix, key, &parts)?;
                let upload = Upload {
                    url,
                    store: store.as_ref(),
                    location: &location,
                    key,
                    source,
                    size: metadata.len(),
                };
                runtime.block_on(upload.run(&mut file))?;
                Ok(format!("{url}/{key}"))
            }
        }
    }

    /// Reads the object or file at `key` back and returns the SHA-256 of its bytes as lower-case
    /// hex, or `None` if there is nothing at `key`. Streams: large objects are not held in
    /// memory. Must be called outside a tokio runtime.
    pub fn sha256(&self, key: &str) -> Result<Option<String>, DestinationError> {
        self.read_into(key, &mut io::sink())
    }

    /// Streams the object or file at `key` into `out` and returns the SHA-256 of its bytes,
    /// or `None` if there is nothing at `key` (the gate ingests from object stores this
    /// way). Must be called outside a tokio runtime.
    pub fn read_into(
        &self,
        key: &str,
        out: &mut dyn Write,
    ) -> Result<Option<String>, DestinationError> {
        let parts = self.check_key(key)?;
        match self {
            Destination::Folder(root) => {
                let io_error = |source| DestinationError::FolderIo {
                    destination: root.display().to_string(),
                    key: key.to_string(),
                    source,
                };
                let path = join_parts(root, &parts);
                let mut file = match File::open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io_error(e)),
                };
                let mut hasher = Sha256::new();
                let mut buffer = vec![0u8; 1 << 20];
                loop {
                    let read = file.read(&mut buffer).map_err(io_error)?;
                    if read == 0 {
                        return Ok(Some(hex::encode(hasher.finalize())));
                    }
                    hasher.update(&buffer[..read]);
                    out.write_all(&buffer[..read]).map_err(io_error)?;
                }
            }
            Destination::ObjectStore {
                url,
                store,
                prefix,
                runtime,
            } => {
                let location = store_location(url, prefix, key, &parts)?;
                let store_error = |source| DestinationError::Store {
                    destination: url.clone(),
                    key: key.to_string(),
                    operation: "read",
                    source: Box::new(source),
                };
                let write_error = |source| DestinationError::FolderIo {
                    destination: url.clone(),
                    key: key.to_string(),
                    source,
                };
                runtime.block_on(async {
                    let result = match store.get(&location).await {
                        Ok(result) => result,
                        Err(object_store::Error::NotFound { .. }) => return Ok(None),
                        Err(e) => return Err(store_error(e)),
                    };
                    let mut stream = result.into_stream();
                    let mut hasher = Sha256::new();
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(store_error)?;
                        hasher.update(&chunk);
                        out.write_all(&chunk).map_err(write_error)?;
                    }
                    Ok(Some(hex::encode(hasher.finalize())))
                })
            }
        }
    }

    /// Deletes the object or file at `key` (nothing there is not an error). Must be called
    /// outside a tokio runtime.
    pub fn delete(&self, key: &str) -> Result<(), DestinationError> {
        let parts = self.check_key(key)?;
        match self {
            Destination::Folder(root) => match fs::remove_file(join_parts(root, &parts)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DestinationError::FolderIo {
                    destination: root.display().to_string(),
                    key: key.to_string(),
                    source: e,
                }),
                _ => Ok(()),
            },
            Destination::ObjectStore {
                url,
                store,
                prefix,
                runtime,
            } => {
                let location = store_location(url, prefix, key, &parts)?;
                match runtime.block_on(store.delete(&location)) {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(DestinationError::Store {
                        destination: url.clone(),
                        key: key.to_string(),
                        operation: "delete",
                        source: Box::new(e),
                    }),
                }
            }
        }
    }

    /// A description for logs and the `show` output: the folder path or
    /// `az://container/prefix`, never credentials, endpoints or options.
    pub fn describe(&self) -> String {
        match self {
            Destination::Folder(root) => root.display().to_string(),
            Destination::ObjectStore { url, .. } => url.clone(),
        }
    }

    /// Validates `key`, naming this destination in the error.
    fn check_key<'k>(&self, key: &'k str) -> Result<Vec<&'k str>, DestinationError> {
        split_key(key).map_err(|reason| DestinationError::InvalidKey {
            destination: self.describe(),
            key: key.to_string(),
            reason,
        })
    }
}

/// Splits a key into its components, refusing anything that is not a plain relative path.
fn split_key(key: &str) -> Result<Vec<&str>, &'static str> {
    if key.is_empty() {
        return Err("is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Err("is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return Err("must be relative, not start with '/'");
    }
    if key.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if key.contains('\\') {
        return Err("contains a backslash; separate components with '/'");
    }
    let parts: Vec<&str> = key.split('/').collect();
    for part in &parts {
        match *part {
            "" => return Err("has an empty component ('//' or a trailing '/')"),
            "." | ".." => return Err("has a '.' or '..' component"),
            _ => {}
        }
    }
    Ok(parts)
}

/// A rejected spec for an error message: a pasted https URL may carry a SAS token in its
/// query or a user and password before the host, so both are cut.
fn redact_spec(spec: &str) -> String {
    let (base, query) = match spec.find(['?', '#']) {
        Some(at) => (&spec[..at], "?<redacted>"),
        None => (spec, ""),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    format!("{base}{query}")
}

/// Parses `500ms`, `30s`, `2m` or a bare number of seconds.
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(number)),
        "" | "s" => Some(Duration::from_secs(number)),
        "m" | "min" => number.checked_mul(60).map(Duration::from_secs),
        _ => None,
    }
}

fn join_parts(root: &FsPath, parts: &[&str]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

/// Where `key` lives in an object store. Refused inside a tokio runtime: every store call
/// blocks on the destination's own runtime, which would panic there.
fn store_location(
    url: &str,
    prefix: &StorePath,
    key: &str,
    parts: &[&str],
) -> Result<StorePath, DestinationError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(DestinationError::InsideRuntime {
            destination: url.to_string(),
            key: key.to_string(),
        });
    }
    Ok(parts
        .iter()
        .fold(prefix.clone(), |path, part| path.join(*part)))
}

/// Writes `file` to `root/parts...` atomically and durably.
fn put_folder(
    root: &FsPath,
    key: &str,
    parts: &[&str],
    file: &mut File,
    read_error: impl Fn(io::Error) -> DestinationError,
) -> Result<String, DestinationError> {
    let destination = root.display().to_string();
    let io_error = |source| DestinationError::FolderIo {
        destination: destination.clone(),
        key: key.to_string(),
        source,
    };
    if !root.is_dir() {
        return Err(DestinationError::FolderMissing {
            destination: destination.clone(),
            key: key.to_string(),
        });
    }
    let target = join_parts(root, parts);
    let parent = target.parent().unwrap_or(root);
    fs::create_dir_all(parent).map_err(io_error)?;

    // The temp file sits in the target's folder so the rename stays on one filesystem; it is
    // removed on drop if anything below fails.
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".part")
        .tempfile_in(parent)
        .map_err(io_error)?;
    copy_distinguishing_errors(file, temp.as_file_mut()).map_err(|e| match e {
        CopyError::Read(e) => read_error(e),
        CopyError::Write(e) => io_error(e),
    })?;
    temp.as_file().sync_all().map_err(io_error)?;
    temp.persist(&target).map_err(|e| io_error(e.error))?;

    // Sync the folder holding the new entry, and every folder up to the root in case some
    // were just created.
    let mut dir = Some(parent);
    while let Some(d) = dir {
        File::open(d).and_then(|f| f.sync_all()).map_err(io_error)?;
        if d == root {
            break;
        }
        dir = d.parent();
    }
    Ok(target.display().to_string())
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Like `io::copy`, but says whether the source or the target failed.
fn copy_distinguishing_errors(from: &mut File, to: &mut File) -> Result<(), CopyError> {
    use std::io::Write;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
}

/// Reads up to `buf.len()` bytes, stopping early only at end of file.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// One object-store upload.
struct Upload<'a> {
    url: &'a str,
    store: &'a dyn ObjectStore,
    location: &'a StorePath,
    key: &'a str,
    source: &'a FsPath,
    size: u64,
}

impl Upload<'_> {
    async fn run(&self, file: &mut File) -> Result<(), DestinationError> {
        if self.size <= SINGLE_PUT_LIMIT {
            let mut data = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
            file.read_to_end(&mut data)
                .map_err(|e| self.source_error(e))?;
            self.check_size(data.len() as u64)?;
            self.store
                .put(self.location, PutPayload::from(data))
                .await
                .map_err(|e| self.store_error(e))?;
            return Ok(());
        }

        let upload = self
            .store
            .put_multipart(self.location)
            .await
            .map_err(|e| self.store_error(e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut read = 0u64;
        let outcome = loop {
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                break Err(self.store_error(e));
            }
            let mut part = vec![0u8; PART_SIZE];
            let n = match read_full(file, &mut part) {
                Ok(n) => n,
                Err(e) => break Err(self.source_error(e)),
            };
            if n == 0 {
                break self.check_size(read);
            }
            read += n as u64;
            part.truncate(n);
            writer.put(Bytes::from(part));
        };
        match outcome {
            Ok(()) => {
                writer.finish().await.map_err(|e| self.store_error(e))?;
                Ok(())
            }
            Err(e) => {
                // Best effort: the upload never becomes visible either way, abort only frees
                // the parts already stored.
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    fn check_size(&self, read: u64) -> Result<(), DestinationError> {
        if read == self.size {
            Ok(())
        } else {
            Err(DestinationError::SourceChanged {
                destination: self.url.to_string(),
                key: self.key.to_string(),
                path: self.source.to_path_buf(),
                expected: self.size,
                read,
            })
        }
    }

    fn source_error(&self, source: io::Error) -> DestinationError {
        DestinationError::Source {
            destination: self.url.to_string(),
            key: self.key.to_string(),
            path: self.source.to_path_buf(),
            source,
        }
    }

    fn store_error(&self, source: object_store::Error) -> DestinationError {
        match source {
            object_store::Error::NotFound { .. } => DestinationError::ContainerMissing {
                destination: self.url.to_string(),
                container: container_of(self.url).to_string(),
                key: self.key.to_string(),
                source: Box::new(source),
            },
            source => DestinationError::Store {
                destination: self.url.to_string(),
                key: self.key.to_string(),
                operation: "upload",
                source: Box::new(source),
            },
        }
    }
}

/// The container or bucket of a normalised `scheme://container/prefix` url.
fn container_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}
