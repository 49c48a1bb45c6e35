//! The gate's operations, in process: what the service runs for each client, and what
//! embedders and tests call directly.
//!
//! Every transition is one SQLite transaction that checks the state it starts from,
//! writes the new state, appends the audit record and queues the notification. Files move
//! only in ways a crash cannot turn into a release without approval: uploads land in a
//! fresh directory that no request references until the commit that creates the request,
//! and nothing reaches the release destination before the commit that approved it.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditKey, Event, FileRef, Head};
use crate::config::{CONFIG_FILE, Config, ConfigError, Role, Verdict};
use crate::destination::Destination;
use crate::identity::Actor;
use crate::kind;
use crate::notify::{self, Notifier, NotifierConfig};
use crate::scan::{self, FileOutcome, FileReport, Scanner};
use crate::store::{self, Outcome, RequestId, RequestSummary, Review, State, StoredFile};

/// The audit key's file name inside the gate directory.
pub const KEY_FILE: &str = "audit.key";
/// The audit head's file name inside the gate directory.
pub const HEAD_FILE: &str = "audit.head";
/// The lock that keeps a second service off a gate.
const LOCK_FILE: &str = "gate.lock";

/// What went wrong in a gate operation. Messages never carry file contents.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The actor may not do this (roles, separation of duties).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The request is not in a state that allows this, or the input is refused.
    #[error("{0}")]
    Refused(String),
    /// No such request.
    #[error("request {0} does not exist")]
    NoSuchRequest(RequestId),
    /// The configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file operation.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The database.
    #[error("gate database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The audit log.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    /// The release destination.
    #[error(transparent)]
    Destination(#[from] crate::destination::DestinationError),
    /// Notifications.
    #[error(transparent)]
    Notify(#[from] notify::NotifyError),
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> GateError {
    let context = context.into();
    move |source| GateError::Io { context, source }
}

/// What creates a gate.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// The release destination.
    pub release_to: String,
    /// object_store options for an object-store destination (account, endpoint…).
    pub release_options: BTreeMap<String, String>,
    /// Approvals a request needs.
    pub approvals: u32,
    /// The first admin.
    pub admin: String,
}

/// A file being uploaded: its name as the client gave it, its size, and its bytes.
pub struct Upload<'a> {
    /// File name (no directories).
    pub name: String,
    /// Exact size in bytes.
    pub size: u64,
    /// The bytes; exactly `size` are read.
    pub reader: &'a mut dyn Read,
}

/// What an ingest stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IngestReceipt {
    /// SHA-256 of the verified copy.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The content was already in the import area (nothing new stored).
    pub already_present: bool,
}

/// A reviewer's decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Decision {
    /// Approve (else deny).
    pub approve: bool,
    /// Why; required.
    pub reason: String,
    /// Approving a flagged request needs this.
    pub r#override: bool,
    /// Approving a request with unscannable files needs this.
    pub acknowledge_unscannable: bool,
}

/// A request with its files and reviews.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: RequestSummary,
    /// Approvals needed.
    pub approvals_needed: u32,
    /// Files in order.
    pub file_list: Vec<StoredFile>,
    /// Reviews in order.
    pub reviews: Vec<Review>,
}

/// An open gate.
pub struct Gate {
    dir: PathBuf,
    config: RwLock<Config>,
    db: Mutex<Connection>,
    key: AuditKey,
    scanner: Arc<dyn Scanner>,
    destination: Destination,
    notifier: Option<Notifier>,
    releasing: Mutex<HashSet<RequestId>>,
    scanning: Mutex<HashSet<RequestId>>,
    role_changes: Mutex<()>,
    _lock: File,
}

/// Kills the process when the environment variable `DEID_GATE_FAILPOINT` names this point:
/// the crash tests' way to stop the gate between any two steps.
pub fn failpoint(name: &str) {
    static CHOSEN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| std::env::var("DEID_GATE_FAILPOINT").ok());
    if chosen.as_deref() == Some(name) {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn random_hex(bytes: usize) -> Result<String, GateError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|e| GateError::Refused(format!("the system's random source failed: {e}")))?;
    Ok(hex::encode(buffer))
}

/// Makes a directory (and parents) readable by the gate alone.
fn private_dir(path: &Path) -> Result<(), GateError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_error(format!("{}: cannot create", path.display())))
}

/// Flushes a directory's entries (a rename or create inside it) to disk.
fn sync_dir(path: &Path) -> Result<(), GateError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_error(format!("{}: cannot sync", path.display())))
}

/// Copies exactly `size` bytes from `reader` into a new file, hashing on the way, and
/// makes it durable and read-only.
fn receive(reader: &mut dyn Read, size: u64, path: &Path) -> Result<String, GateError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_private()
        .open(path)
        .map_err(io_error(format!("{}: cannot create", path.display())))?;
    let mut hasher = Sha256::new();
    let mut remaining = size;
    let mut buffer = vec![0u8; 1 << 20];
    while remaining > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let read = reader
            .read(&mut buffer[..want])
            .map_err(io_error("upload interrupted"))?;
        if read == 0 {
            return Err(GateError::Refused(format!(
                "upload ended {remaining} bytes early: nothing was stored"
            )));
        }
        hasher.update(&buffer[..read]);
        file.write_all(&buffer[..read])
            .map_err(io_error(format!("{}: cannot write", path.display())))?;
        remaining -= read as u64;
    }
    file.sync_all()
        .map_err(io_error(format!("{}: cannot sync", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o400)).map_err(io_error(format!(
        "{}: cannot make read-only",
        path.display()
    )))?;
    Ok(hex::encode(hasher.finalize()))
}

trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for fs::OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

/// Streams an object into a new private file of at most `limit` bytes, made durable and
/// read-only; returns its SHA-256 and size, or `None` when there is no such object.
fn fetch(
    source: &Destination,
    key: &str,
    path: &Path,
    limit: u64,
) -> Result<Option<(String, u64)>, GateError> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_private()
        .open(path)
        .map_err(io_error(format!("{}: cannot create", path.display())))?;
    let mut capped = Capped { file, left: limit };
    let Some(sha256) = source.read_into(key, &mut capped)? else {
        return Ok(None);
    };
    capped
        .file
        .sync_all()
        .map_err(io_error(format!("{}: cannot sync", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o400)).map_err(io_error(format!(
        "{}: cannot make read-only",
        path.display()
    )))?;
    Ok(Some((sha256, limit - capped.left)))
}

/// A file that refuses to grow past a limit.
struct Capped {
    file: File,
    left: u64,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "the object is over the gate's size limit per file",
            ));
        }
        let written = self.file.write(buf)?;
        self.left -= written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// SHA-256 of a file, hex.
pub fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

/// A name safe to store and show: the last path component, displayable, not `.`/`..`.
fn clean_name(raw: &str, index: usize) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let shown = kind::display_name(base.as_bytes());
    if shown.is_empty() || shown.chars().all(|c| c == '.') {
        format!("file-{}", index + 1)
    } else {
        shown
    }
}

fn valid_dataset_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.starts_with('.')
}

impl Gate {
    /// Creates a gate in `dir`: its configuration, database, audit key and storage areas.
    ///
    /// # Errors
    /// When `dir` already holds a gate, the destination does not parse, or files cannot be
    /// written.
    pub fn init(dir: &Path, options: &InitOptions) -> Result<(), GateError> {
        let mut config = Config::new(&options.release_to, options.approvals, &options.admin);
        config.storage.release_options = options.release_options.clone();
        config
            .validate()
            .map_err(|message| GateError::Refused(format!("invalid options: {message}")))?;
        check_release_folder(&Destination::parse(
            &config.storage.release,
            &config.storage.release_options,
        )?)?;
        if dir.join(CONFIG_FILE).exists() {
            return Err(GateError::Refused(format!(
                "{}: already holds a gate",
                dir.display()
            )));
        }
        private_dir(dir)?;
        // Others may reach the socket inside, but list nothing.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o711)).map_err(io_error(format!(
            "{}: cannot set permissions",
            dir.display()
        )))?;
        let key = AuditKey::create(&dir.join(KEY_FILE))?;
        let mut conn = store::open(&dir.join(store::DB_FILE))?;
        let tx = store::write(&mut conn)?;
        let record = audit::append(
            &tx,
            &key,
            Event {
                actor: options.admin.clone(),
                action: "init".to_owned(),
                decision: Some(format!("approvals={}", options.approvals)),
                ..Event::default()
            },
        )?;
        tx.commit()?;
        Head::of(&record, &key).store(&key, &dir.join(HEAD_FILE))?;
        write_config(dir, &config)?;
        Ok(())
    }

    /// Opens the gate in `dir`, takes its lock (one service per gate), and recovers from
    /// any crash: partial uploads and unreferenced copies are removed, denied files moved
    /// to quarantine, the audit head brought up to date. Requests left `submitted` or with
    /// a release under way are resumed by [`Gate::resume`].
    ///
    /// # Errors
    /// When another process holds the gate, or its files cannot be read.
    pub fn open(dir: &Path, scanner: Arc<dyn Scanner>) -> Result<Gate, GateError> {
        let lock = File::create(dir.join(LOCK_FILE))
            .map_err(io_error(format!("{}: cannot open the lock", dir.display())))?;
        lock.try_lock().map_err(|_| {
            GateError::Refused(format!(
                "{}: another gate service is running on this directory",
                dir.display()
            ))
        })?;
        let config = Config::load(&dir.join(CONFIG_FILE))?;
        let key = AuditKey::load(&dir.join(KEY_FILE))?;
        let db_path = dir.join(store::DB_FILE);
        let conn = store::open(&db_path)?;
        let destination =
            Destination::parse(&config.storage.release, &config.storage.release_options)?;
        check_release_folder(&destination)?;
        let notifier = match &config.webhook {
            Some(hook) => Some(Notifier::start(
                &db_path,
                NotifierConfig {
                    url: hook.url.clone(),
                    ..NotifierConfig::default()
                },
            )?),
            None => None,
        };
        let gate = Gate {
            dir: dir.to_owned(),
            config: RwLock::new(config),
            db: Mutex::new(conn),
            key,
            scanner,
            destination,
            notifier,
            releasing: Mutex::new(HashSet::new()),
            scanning: Mutex::new(HashSet::new()),
            role_changes: Mutex::new(()),
            _lock: lock,
        };
        for area in [gate.queue(), gate.import(), gate.quarantine(), gate.work()] {
            private_dir(&area)?;
        }
        gate.check_one_filesystem()?;
        gate.recover()?;
        Ok(gate)
    }

    fn area(&self, pick: impl Fn(&Config) -> &PathBuf) -> PathBuf {
        let config = self.config.read().unwrap_or_else(|e| e.into_inner());
        self.dir.join(pick(&config))
    }
    fn queue(&self) -> PathBuf {
        self.area(|c| &c.storage.queue)
    }
    fn import(&self) -> PathBuf {
        self.area(|c| &c.storage.import)
    }
    fn quarantine(&self) -> PathBuf {
        self.area(|c| &c.storage.quarantine)
    }
    fn work(&self) -> PathBuf {
        self.area(|c| &c.storage.work)
    }

    /// A copy of the configuration in force.
    pub fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The release destination, described without credentials.
    pub fn destination(&self) -> String {
        self.destination.describe()
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `change` in one write transaction; appends the audit record it returns and
    /// queues its notification, then brings the audit head up to date.
    fn transition<T>(
        &self,
        change: impl FnOnce(
            &rusqlite::Transaction<'_>,
        ) -> Result<(T, Event, Option<serde_json::Value>), GateError>,
    ) -> Result<T, GateError> {
        let mut conn = self.db();
        let tx = store::write(&mut conn)?;
        let (value, event, message) = change(&tx)?;
        let record = audit::append(&tx, &self.key, event)?;
        if let Some(mut message) = message
            && self.notifier.is_some()
        {
            message["audit_seq"] = record.seq.into();
            notify::enqueue(&tx, &message)?;
        }
        tx.commit()?;
        failpoint("audit.before-head");
        Head::of(&record, &self.key).store(&self.key, &self.dir.join(HEAD_FILE))?;
        drop(conn);
        if let Some(notifier) = &self.notifier {
            notifier.wake();
        }
        Ok(value)
    }

    /// Denied requests move from the queue to quarantine by `rename`, which is atomic only
    /// within one filesystem.
    fn check_one_filesystem(&self) -> Result<(), GateError> {
        use std::os::unix::fs::MetadataExt;
        let device = |path: &Path| {
            fs::metadata(path)
                .map(|m| m.dev())
                .map_err(io_error(format!("{}: cannot read", path.display())))
        };
        let (queue, quarantine) = (self.queue(), self.quarantine());
        if device(&queue)? != device(&quarantine)? {
            return Err(GateError::Refused(format!(
                "{} and {} are on different filesystems: keep them on one",
                queue.display(),
                quarantine.display()
            )));
        }
        Ok(())
    }

    fn recover(&self) -> Result<(), GateError> {
        let queue = self.queue();
        let quarantine = self.quarantine();
        let (directories, datasets) = {
            let conn = self.db();
            (store::directories(&conn)?, store::datasets(&conn)?)
        };
        let known: BTreeMap<String, State> = directories.into_iter().collect();
        // Uploads that never became a request.
        for entry in read_dir(&queue)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            match known.get(&name) {
                None => remove_tree(&entry.path())?,
                Some(State::Denied) => {
                    fs::rename(entry.path(), quarantine.join(&name))
                        .map_err(io_error(format!("{name}: cannot quarantine")))?;
                }
                Some(_) => {}
            }
        }
        // Copies whose ingest never committed: the client still holds the original.
        let ingested: HashSet<String> = datasets.into_iter().map(|d| d.sha256).collect();
        for entry in read_dir(&self.import())? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !ingested.contains(&name) {
                remove_tree(&entry.path())?;
            }
        }
        for entry in read_dir(&self.work())? {
            remove_tree(&entry.path())?;
        }
        // A crash between a commit and its head write leaves the head one behind.
        if let Some(last) = audit::last(&self.db())? {
            let head = Head::load(&self.dir.join(HEAD_FILE))?;
            if head.as_ref().is_none_or(|h| h.seq < last.seq) {
                Head::of(&last, &self.key).store(&self.key, &self.dir.join(HEAD_FILE))?;
            }
        }
        Ok(())
    }

    /// Finishes work a crash interrupted: scans requests left `submitted` and releases
    /// approved requests whose release had started (or that release on approval).
    ///
    /// # Errors
    /// The first failure; the rest still ran.
    pub fn resume(&self) -> Result<(), GateError> {
        let release_on_approval = self.config().gate.release_on_approval;
        let (to_scan, to_release) = {
            let conn = self.db();
            (
                store::ids_in(&conn, State::Submitted, false)?,
                store::ids_in(&conn, State::Approved, !release_on_approval)?,
            )
        };
        let mut first_error = None;
        for id in to_scan {
            if let Err(e) = self.scan(id) {
                first_error.get_or_insert(e);
            }
        }
        for id in to_release {
            if let Err(e) = self.deliver(id, &Actor::gate()) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Copies a data owner's file into the import area under its content hash, verifies the
    /// copy, makes it read-only and records it in the manifest. The caller may delete the
    /// original only after this returns `Ok`.
    ///
    /// # Errors
    /// A bad dataset name, a file over the size limit, an interrupted upload, a copy that
    /// does not verify.
    pub fn ingest(
        &self,
        actor: &Actor,
        dataset: &str,
        upload: Upload<'_>,
    ) -> Result<IngestReceipt, GateError> {
        let name = self.check_ingest(dataset, &upload.name, upload.size)?;
        let partial = self.import().join(format!(".partial-{}", random_hex(8)?));
        let sha256 = receive(upload.reader, upload.size, &partial).inspect_err(|_| {
            let _ = fs::remove_file(&partial);
        })?;
        self.keep_ingested(actor, dataset, &name, &partial, sha256, upload.size)
    }

    /// Ingests an object from an allowed object-store prefix (`ingest_sources`): the gate
    /// reads it with its own credentials, keeps a verified read-only copy as [`Gate::ingest`]
    /// does, and only then deletes the object.
    ///
    /// # Errors
    /// A URL outside the allowed prefixes, no such object, a copy that does not verify, a
    /// store that fails (the object then stays where it was).
    pub fn ingest_object(
        &self,
        actor: &Actor,
        dataset: &str,
        url: &str,
    ) -> Result<IngestReceipt, GateError> {
        let storage = self.config().storage;
        if !storage
            .ingest_sources
            .iter()
            .any(|prefix| url.starts_with(prefix.as_str()))
        {
            return Err(GateError::Forbidden(
                "that object is not under an ingest source of this gate (storage.ingest_sources)"
                    .to_owned(),
            ));
        }
        // az://container/key…: the container is the store, the rest the key.
        let mut parts = url.splitn(4, '/');
        let (scheme, container, key) =
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(scheme), Some(""), Some(container), Some(key)) => (scheme, container, key),
                _ => {
                    return Err(GateError::Refused(
                        "not an object URL (az://container/key)".to_owned(),
                    ));
                }
            };
        let source =
            Destination::parse(&format!("{scheme}//{container}"), &storage.ingest_options)?;
        let name = self.check_ingest(dataset, key, 0)?;
        let limit = self.config().files.max_file_bytes;
        let partial = self.import().join(format!(".partial-{}", random_hex(8)?));
        let fetched = fetch(&source, key, &partial, limit).inspect_err(|_| {
            let _ = fs::remove_file(&partial);
        })?;
        let Some((sha256, size)) = fetched else {
            let _ = fs::remove_file(&partial);
            return Err(GateError::Refused("no object at that URL".to_owned()));
        };
        let receipt = self.keep_ingested(actor, dataset, &name, &partial, sha256, size)?;
        failpoint("ingest.before-source-delete");
        source.delete(key)?;
        Ok(receipt)
    }

    /// The checks every ingest makes first; returns the file's display name.
    fn check_ingest(&self, dataset: &str, file: &str, size: u64) -> Result<String, GateError> {
        if !valid_dataset_name(dataset) {
            return Err(GateError::Refused(format!(
                "dataset name `{}`: use 1 to 64 letters, digits, `.`, `_` or `-`",
                kind::display_name(dataset.as_bytes())
            )));
        }
        let name = clean_name(file, 0);
        let limit = self.config().files.max_file_bytes;
        if size > limit {
            return Err(GateError::Refused(format!(
                "{name}: {size} bytes is over the limit of {limit} bytes per file"
            )));
        }
        Ok(name)
    }

    /// Verifies a received copy, stores it under its hash (once) and commits the manifest.
    fn keep_ingested(
        &self,
        actor: &Actor,
        dataset: &str,
        name: &str,
        partial: &Path,
        sha256: String,
        size: u64,
    ) -> Result<IngestReceipt, GateError> {
        failpoint("ingest.after-copy");
        // Verify what is on disk, not what went through the hasher.
        let verified = hash_file(partial).map_err(io_error("cannot verify the copy"))?;
        if verified != sha256 {
            let _ = fs::remove_file(partial);
            return Err(GateError::Refused(
                "the stored copy does not match the upload: nothing was kept".to_owned(),
            ));
        }
        let import = self.import();
        let target = import.join(&sha256);
        let already_present = target.exists();
        if already_present {
            let _ = fs::remove_file(partial);
            // The original may be deleted on this answer: the copy it relies on must verify.
            let existing = hash_file(&target).map_err(io_error("cannot verify the stored copy"))?;
            if existing != sha256 {
                return Err(GateError::Refused(format!(
                    "the stored copy {sha256} no longer matches its hash; keep the original and tell the gate's admins"
                )));
            }
        } else {
            fs::rename(partial, &target).map_err(io_error("cannot store the copy"))?;
            sync_dir(&import)?;
        }
        failpoint("ingest.before-commit");
        self.transition(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO datasets (name, file, sha256, size, owner, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![dataset, name, sha256, size, actor.name, now()],
            )?;
            let event = Event {
                actor: actor.name.clone(),
                action: "ingest".to_owned(),
                dataset: Some(dataset.to_owned()),
                files: vec![FileRef {
                    sha256: sha256.clone(),
                    size,
                }],
                ..Event::default()
            };
            Ok(((), event, None))
        })?;
        failpoint("ingest.after-commit");
        Ok(IngestReceipt {
            sha256,
            size,
            already_present,
        })
    }

    /// Stores the uploads as a new export request (the submitter cannot change them
    /// afterwards) and returns its id. Nothing is recorded unless every byte arrived.
    /// The request is then `submitted`; [`Gate::scan`] scans it.
    ///
    /// # Errors
    /// Refused files (size, type, count), an interrupted upload.
    pub fn submit(
        &self,
        actor: &Actor,
        reason: &str,
        uploads: Vec<Upload<'_>>,
    ) -> Result<RequestId, GateError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(GateError::Refused("a reason is required".to_owned()));
        }
        let names = self.check_uploads(&uploads)?;
        let token = random_hex(12)?;
        let dir = self.queue().join(&token);
        // Not recursive: a token that exists already is an error, never shared.
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io_error("cannot create the request's directory"))?;
        let mut stored = Vec::new();
        for (index, upload) in uploads.into_iter().enumerate() {
            let file = match kind::extension(&names[index]) {
                Some(extension) => format!("{index}.{extension}"),
                None => index.to_string(),
            };
            match receive(upload.reader, upload.size, &dir.join(&file)) {
                Ok(sha256) => stored.push((names[index].clone(), file, sha256, upload.size)),
                Err(e) => {
                    let _ = remove_tree(&dir);
                    return Err(e);
                }
            }
        }
        sync_dir(&dir)?;
        sync_dir(&self.queue())?;
        failpoint("submit.before-commit");
        let committed = self.transition(|tx| {
            let at = now();
            tx.execute(
                "INSERT INTO requests (dir, submitter, submitter_uid, reason, state, created, updated)
                 VALUES (?1, ?2, ?3, ?4, 'submitted', ?5, ?5)",
                params![token, actor.name, actor.uid, reason, at],
            )?;
            let id = tx.last_insert_rowid();
            for (index, (name, file, sha256, size)) in stored.iter().enumerate() {
                tx.execute(
                    "INSERT INTO files (request, idx, name, stored, sha256, size)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, index, name, file, sha256, size],
                )?;
            }
            let event = Event {
                actor: actor.name.clone(),
                action: "submit".to_owned(),
                request: Some(id),
                files: file_refs(stored.iter().map(|(_, _, sha, size)| (sha, *size))),
                reason: Some(reason.to_owned()),
                ..Event::default()
            };
            let names: Vec<&str> = stored.iter().map(|s| s.0.as_str()).collect();
            let message =
                self.message("request.submitted", id, State::Submitted, None, &names, tx)?;
            Ok((id, event, Some(message)))
        });
        let id = committed.inspect_err(|_| {
            let _ = remove_tree(&dir);
        })?;
        failpoint("submit.after-commit");
        Ok(id)
    }

    fn check_uploads(&self, uploads: &[Upload<'_>]) -> Result<Vec<String>, GateError> {
        let policy = self.config().files;
        if uploads.is_empty() {
            return Err(GateError::Refused(
                "a request needs at least one file".to_owned(),
            ));
        }
        if uploads.len() > policy.max_files as usize {
            return Err(GateError::Refused(format!(
                "{} files: a request holds at most {}",
                uploads.len(),
                policy.max_files
            )));
        }
        let mut names = Vec::new();
        let mut total = 0u64;
        for (index, upload) in uploads.iter().enumerate() {
            let name = clean_name(&upload.name, index);
            if upload.size > policy.max_file_bytes {
                return Err(GateError::Refused(format!(
                    "{name}: {} bytes is over the limit of {} bytes per file",
                    upload.size, policy.max_file_bytes
                )));
            }
            // `tool.exe.` and `tool.exe ` are `tool.exe` on some systems.
            if let Some(extension) = kind::extension(name.trim_end_matches(['.', ' ']))
                && policy.denied_extensions.contains(&extension)
            {
                return Err(GateError::Refused(format!(
                    "{name}: `.{extension}` files may not be exported"
                )));
            }
            if names.contains(&name) {
                return Err(GateError::Refused(format!(
                    "{name}: named twice in one request"
                )));
            }
            total = total.saturating_add(upload.size);
            names.push(name);
        }
        if total > policy.max_request_bytes {
            return Err(GateError::Refused(format!(
                "{total} bytes is over the limit of {} bytes per request",
                policy.max_request_bytes
            )));
        }
        Ok(names)
    }

    /// Scans a `submitted` request and records the outcome: `clean`, `flagged`,
    /// `unscannable`, or `blocked` (denied at once by the scan policy).
    ///
    /// # Errors
    /// No such request; database or file errors. A request in another state is left alone.
    pub fn scan(&self, id: RequestId) -> Result<RequestSummary, GateError> {
        let (state, token) = self.state_of(id)?;
        if state != State::Submitted {
            return self.summary(id);
        }
        let Ok(_guard) = Busy::take(&self.scanning, id, "scanned") else {
            // Another thread is scanning it; its result will be recorded.
            return self.summary(id);
        };
        let files = store::files(&self.db(), id)?;
        let config = self.config();
        let limits = config.archives.limits();
        let dir = self.queue().join(&token);
        let mut reports = Vec::new();
        for file in &files {
            let work = self
                .work()
                .join(format!("{token}-{}-{}", file.index, random_hex(4)?));
            private_dir(&work)?;
            let report = scan::inspect(
                self.scanner.as_ref(),
                &dir.join(&file.stored),
                &file.name,
                &limits,
                &work,
            );
            remove_tree(&work)?;
            reports.push(report);
            failpoint("scan.after-file");
        }
        let (outcome, counts) = judge(&reports, &config);
        failpoint("scan.before-commit");
        let new_state = if outcome == Outcome::Blocked {
            State::Denied
        } else {
            State::Scanned
        };
        self.transition(|tx| {
            let (state, _) = store::state(tx, id)?.ok_or(GateError::NoSuchRequest(id))?;
            if state != State::Submitted {
                return Err(GateError::Refused(format!(
                    "request {id} was scanned already"
                )));
            }
            for (file, report) in files.iter().zip(&reports) {
                tx.execute(
                    "UPDATE files SET report = ?1 WHERE request = ?2 AND idx = ?3",
                    params![json(report), id, file.index],
                )?;
            }
            tx.execute(
                "UPDATE requests SET state = ?1, outcome = ?2, counts = ?3, updated = ?4
                 WHERE id = ?5",
                params![new_state, outcome, json(&counts), now(), id],
            )?;
            let event = Event {
                actor: Actor::gate().name,
                action: "scan".to_owned(),
                request: Some(id),
                files: file_refs(files.iter().map(|f| (&f.sha256, f.size))),
                counts: counts.clone(),
                decision: Some(outcome.as_str().to_owned()),
                reason: (outcome == Outcome::Blocked)
                    .then(|| "findings of a type the scan policy blocks".to_owned()),
                ..Event::default()
            };
            let message = self.message("request.scanned", id, new_state, Some(outcome), &[], tx)?;
            Ok(((), event, Some(message)))
        })?;
        failpoint("scan.after-commit");
        if new_state == State::Denied {
            self.quarantine_files(&token)?;
        }
        self.summary(id)
    }

    fn state_of(&self, id: RequestId) -> Result<(State, String), GateError> {
        store::state(&self.db(), id)?.ok_or(GateError::NoSuchRequest(id))
    }

    fn quarantine_files(&self, token: &str) -> Result<(), GateError> {
        let from = self.queue().join(token);
        if from.exists() {
            fs::rename(&from, self.quarantine().join(token)).map_err(io_error(format!(
                "request files {token}: cannot quarantine"
            )))?;
            sync_dir(&self.quarantine())?;
        }
        Ok(())
    }

    /// A request's summary.
    ///
    /// # Errors
    /// No such request.
    pub fn summary(&self, id: RequestId) -> Result<RequestSummary, GateError> {
        store::summary(&self.db(), id)?.ok_or(GateError::NoSuchRequest(id))
    }

    fn sees_all(&self, actor: &Actor) -> bool {
        let config = self.config();
        config.roles.has(&actor.name, Role::Reviewer) || config.roles.has(&actor.name, Role::Admin)
    }

    /// Requests the actor may see: all for reviewers and admins, their own for others.
    ///
    /// # Errors
    /// Database errors.
    pub fn list(&self, actor: &Actor) -> Result<Vec<RequestSummary>, GateError> {
        let only = (!self.sees_all(actor)).then_some(actor.name.as_str());
        Ok(store::summaries(&self.db(), only)?)
    }

    /// A request with its files, findings (masked) and reviews.
    ///
    /// # Errors
    /// No such request, or one the actor may not see.
    pub fn show(&self, actor: &Actor, id: RequestId) -> Result<RequestDetail, GateError> {
        let summary = self.summary(id)?;
        if summary.submitter != actor.name && !self.sees_all(actor) {
            return Err(GateError::Forbidden(format!(
                "request {id} is another user's; only its submitter, reviewers and admins see it"
            )));
        }
        let conn = self.db();
        Ok(RequestDetail {
            summary,
            approvals_needed: self.config().gate.approvals,
            file_list: store::files(&conn, id)?,
            reviews: store::reviews(&conn, id)?,
        })
    }

    /// Records a reviewer's decision. The submitter cannot review their own request; each
    /// reviewer counts once; a flagged request is approved only with an override, one with
    /// unscannable files only with an acknowledgement. Enough approvals make it `approved`
    /// (and released, when the gate releases on approval); one denial denies it.
    ///
    /// # Errors
    /// Forbidden or refused transitions, each with the rule it breaks.
    pub fn review(
        &self,
        actor: &Actor,
        id: RequestId,
        decision: &Decision,
    ) -> Result<RequestSummary, GateError> {
        let config = self.config();
        if !config.roles.has(&actor.name, Role::Reviewer) {
            let admin = if config.roles.has(&actor.name, Role::Admin) {
                " (being an admin does not make one a reviewer)"
            } else {
                ""
            };
            return Err(GateError::Forbidden(format!(
                "{} is not a reviewer of this gate{admin}",
                actor.name
            )));
        }
        let reason = decision.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(GateError::Refused("a reason is required".to_owned()));
        }
        let needed = config.gate.approvals;
        let (new_state, token) = self.transition(|tx| {
            let summary = store::summary(tx, id)?.ok_or(GateError::NoSuchRequest(id))?;
            check_review(&summary, actor, decision, tx)?;
            let verdict = if decision.approve { "approve" } else { "deny" };
            tx.execute(
                "INSERT INTO reviews (request, reviewer, reviewer_uid, decision, reason, override, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    actor.name,
                    actor.uid,
                    verdict,
                    reason,
                    decision.r#override || decision.acknowledge_unscannable,
                    now()
                ],
            )?;
            let approvals = summary.approvals + u32::from(decision.approve);
            let new_state = if !decision.approve {
                State::Denied
            } else if approvals >= needed {
                State::Approved
            } else {
                State::Scanned
            };
            tx.execute(
                "UPDATE requests SET state = ?1, updated = ?2, release_requested = ?3 WHERE id = ?4",
                params![
                    new_state,
                    now(),
                    new_state == State::Approved && config.gate.release_on_approval,
                    id
                ],
            )?;
            let event = Event {
                actor: actor.name.clone(),
                action: "review".to_owned(),
                request: Some(id),
                counts: summary.counts.clone(),
                decision: Some(format!("{verdict} ({approvals}/{needed} approvals)")),
                reason: Some(reason.clone()),
                ..Event::default()
            };
            let message =
                self.message("request.reviewed", id, new_state, summary.outcome, &[], tx)?;
            let (_, token) = store::state(tx, id)?.ok_or(GateError::NoSuchRequest(id))?;
            Ok(((new_state, token), event, Some(message)))
        })?;
        match new_state {
            State::Denied => {
                failpoint("review.before-quarantine");
                self.quarantine_files(&token)?;
            }
            State::Approved if config.gate.release_on_approval => {
                failpoint("review.before-release");
                // The approval stands; a failed release is retried by `resume`.
                if let Err(e) = self.deliver(id, &Actor::gate()) {
                    eprintln!(
                        "deid gate: request {id}: approved, release failed (retried later): {e}"
                    );
                }
            }
            _ => {}
        }
        self.summary(id)
    }

    /// Releases an approved request: every file, checked against the hash it was scanned
    /// with, is copied to the release destination; then the request is `released`.
    ///
    /// # Errors
    /// Not approved (only approved requests are ever released), a copy that changed, a
    /// destination that fails (the request stays approved and can be released again).
    pub fn release(&self, actor: &Actor, id: RequestId) -> Result<Vec<String>, GateError> {
        let summary = self.summary(id)?;
        if summary.submitter != actor.name && !self.sees_all(actor) {
            return Err(GateError::Forbidden(format!(
                "request {id}: only its submitter, reviewers and admins may release it"
            )));
        }
        {
            let mut conn = self.db();
            let tx = store::write(&mut conn)?;
            let (state, _) = store::state(&tx, id)?.ok_or(GateError::NoSuchRequest(id))?;
            refuse_unless_approved(id, state)?;
            tx.execute(
                "UPDATE requests SET release_requested = 1 WHERE id = ?1",
                [id],
            )?;
            tx.commit()?;
        }
        self.deliver(id, actor)
    }

    fn deliver(&self, id: RequestId, actor: &Actor) -> Result<Vec<String>, GateError> {
        let _guard = Busy::take(&self.releasing, id, "released")?;
        let (state, token) = self.state_of(id)?;
        refuse_unless_approved(id, state)?;
        let files = store::files(&self.db(), id)?;
        let dir = self.queue().join(&token);
        let mut locations = Vec::new();
        for file in &files {
            let path = dir.join(&file.stored);
            let sha = hash_file(&path).map_err(io_error(format!("{}: cannot read", file.name)))?;
            if sha != file.sha256 {
                return Err(GateError::Refused(format!(
                    "request {id}: the stored copy of {} changed since it was scanned; not released",
                    file.name
                )));
            }
            let location = self
                .destination
                .put(&format!("request-{id}/{}", file.name), &path)?;
            locations.push(location);
            failpoint("release.after-put");
        }
        failpoint("release.before-commit");
        self.transition(|tx| {
            let (state, _) = store::state(tx, id)?.ok_or(GateError::NoSuchRequest(id))?;
            refuse_unless_approved(id, state)?;
            for (file, location) in files.iter().zip(&locations) {
                tx.execute(
                    "UPDATE files SET released_to = ?1 WHERE request = ?2 AND idx = ?3",
                    params![location, id, file.index],
                )?;
            }
            tx.execute(
                "UPDATE requests SET state = 'released', updated = ?1 WHERE id = ?2",
                params![now(), id],
            )?;
            let event = Event {
                actor: actor.name.clone(),
                action: "release".to_owned(),
                request: Some(id),
                files: file_refs(files.iter().map(|f| (&f.sha256, f.size))),
                decision: Some(self.destination.describe()),
                ..Event::default()
            };
            let message = self.message("request.released", id, State::Released, None, &[], tx)?;
            Ok(((), event, Some(message)))
        })?;
        failpoint("release.after-commit");
        Ok(locations)
    }

    /// Grants or takes away a role. Admins only; the last admin cannot be removed.
    ///
    /// # Errors
    /// Not an admin; a user name that is not one; the last admin.
    pub fn set_role(
        &self,
        actor: &Actor,
        user: &str,
        role: Role,
        grant: bool,
    ) -> Result<bool, GateError> {
        // Role changes run one at a time; the configuration's lock is never held while the
        // database is (transitions read the configuration under the database lock).
        let _serial = self.role_changes.lock().unwrap_or_else(|e| e.into_inner());
        let config = self.config();
        if !config.roles.has(&actor.name, Role::Admin) {
            return Err(GateError::Forbidden(format!(
                "{} is not an admin of this gate",
                actor.name
            )));
        }
        if user.is_empty()
            || user.len() > 64
            || user.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(GateError::Refused("not a user name".to_owned()));
        }
        if grant && role == Role::Reviewer && user == actor.name {
            return Err(GateError::Forbidden(
                "an admin cannot make themselves a reviewer; another admin must".to_owned(),
            ));
        }
        let mut changed = config.clone();
        let did = if grant {
            changed.roles.add(user, role)
        } else {
            changed.roles.remove(user, role)
        };
        if !did {
            return Ok(false);
        }
        if changed.roles.admins.is_empty() {
            return Err(GateError::Refused(
                "the last admin cannot be removed".to_owned(),
            ));
        }
        let action = if grant { "role.add" } else { "role.remove" };
        let role_name = match role {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        };
        // The new file is staged, the change audited, then the file put in place: a crash
        // in between leaves an audited change that did not take effect (never the reverse),
        // and the command's error says so.
        let staged = stage_config(&self.dir, &changed)?;
        let audited = self.transition(|_| {
            let event = Event {
                actor: actor.name.clone(),
                action: action.to_owned(),
                decision: Some(format!("{user} {role_name}")),
                ..Event::default()
            };
            Ok(((), event, None))
        });
        if let Err(e) = audited {
            let _ = fs::remove_file(&staged);
            return Err(e);
        }
        failpoint("role.before-install");
        install_config(&self.dir, &staged).map_err(|e| {
            GateError::Refused(format!(
                "the role change was audited but not applied ({e}); run the command again"
            ))
        })?;
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = changed;
        Ok(true)
    }

    /// Checks the audit log (admins and reviewers).
    ///
    /// # Errors
    /// Forbidden; database errors.
    pub fn audit_verify(&self, actor: &Actor) -> Result<audit::VerifyReport, GateError> {
        self.may_audit(actor)?;
        let head = Head::load(&self.dir.join(HEAD_FILE))?;
        Ok(audit::verify(&self.db(), &self.key, head.as_ref())?)
    }

    /// Writes the audit log as JSONL (admins and reviewers).
    ///
    /// # Errors
    /// Forbidden; database or write errors.
    pub fn audit_export(&self, actor: &Actor, out: &mut dyn Write) -> Result<u64, GateError> {
        self.may_audit(actor)?;
        Ok(audit::export(&self.db(), out)?)
    }

    fn may_audit(&self, actor: &Actor) -> Result<(), GateError> {
        if self.sees_all(actor) {
            Ok(())
        } else {
            Err(GateError::Forbidden(
                "the audit log is for admins and reviewers".to_owned(),
            ))
        }
    }

    /// The ingest manifest (admins and reviewers: names, sizes, hashes, owners — no
    /// contents; the gate has no read path to ingested data).
    ///
    /// # Errors
    /// Forbidden; database errors.
    pub fn datasets(&self, actor: &Actor) -> Result<Vec<store::DatasetFile>, GateError> {
        self.may_audit(actor)?;
        Ok(store::datasets(&self.db())?)
    }

    /// A notification message: ids, states and counts; names only when configured.
    fn message(
        &self,
        event: &str,
        id: RequestId,
        state: State,
        outcome: Option<Outcome>,
        names: &[&str],
        tx: &rusqlite::Transaction<'_>,
    ) -> Result<serde_json::Value, GateError> {
        let summary = store::summary(tx, id)?;
        let mut message = serde_json::json!({
            "event": event,
            "request": id,
            "state": state,
            "outcome": outcome,
            "counts": summary.as_ref().map(|s| s.counts.clone()).unwrap_or_default(),
            "files": summary.as_ref().map_or(0, |s| s.files),
            "bytes": summary.as_ref().map_or(0, |s| s.bytes),
            "approvals": summary.as_ref().map_or(0, |s| s.approvals),
            "approvals_needed": self.config().gate.approvals,
            "time": now(),
        });
        if self.config().webhook.is_some_and(|h| h.include_names) && !names.is_empty() {
            message["names"] = names.into();
        }
        Ok(message)
    }

    /// Stops background work (the notifier) after its current attempt.
    pub fn close(self) {
        if let Some(notifier) = self.notifier {
            notifier.stop();
        }
    }
}

/// A release folder must exist and be writable by its owner alone: anyone else who can
/// write there could plant a link that redirects a release into the gate's own files.
fn check_release_folder(destination: &Destination) -> Result<(), GateError> {
    let Destination::Folder(folder) = destination else {
        return Ok(());
    };
    let metadata = fs::metadata(folder).map_err(|_| {
        GateError::Refused(format!(
            "release folder {} does not exist: create it first (the gate never creates it, \
             so that a mistyped mount point cannot become a local folder)",
            folder.display()
        ))
    })?;
    if !metadata.is_dir() {
        return Err(GateError::Refused(format!(
            "release folder {} is not a directory",
            folder.display()
        )));
    }
    if metadata.permissions().mode() & 0o022 != 0 {
        return Err(GateError::Refused(format!(
            "release folder {} is writable by group or others: make it writable by the gate's account alone (chmod go-w)",
            folder.display()
        )));
    }
    Ok(())
}

fn refuse_unless_approved(id: RequestId, state: State) -> Result<(), GateError> {
    match state {
        State::Approved => Ok(()),
        State::Released => Err(GateError::Refused(format!(
            "request {id} is released already"
        ))),
        state => Err(GateError::Refused(format!(
            "request {id} is {state}: only approved requests are released"
        ))),
    }
}

fn check_review(
    summary: &RequestSummary,
    actor: &Actor,
    decision: &Decision,
    tx: &rusqlite::Transaction<'_>,
) -> Result<(), GateError> {
    let id = summary.id;
    let submitter_uid: u32 = tx.query_row(
        "SELECT submitter_uid FROM requests WHERE id = ?1",
        [id],
        |row| row.get(0),
    )?;
    // By name and by uid: a name that fails to resolve for a moment must not turn the
    // submitter into someone else.
    if summary.submitter == actor.name || submitter_uid == actor.uid {
        return Err(GateError::Forbidden(format!(
            "request {id} is yours: a submitter cannot review their own request"
        )));
    }
    match summary.state {
        State::Scanned => {}
        State::Submitted => {
            return Err(GateError::Refused(format!(
                "request {id} is not scanned yet"
            )));
        }
        state => {
            return Err(GateError::Refused(format!(
                "request {id} is {state}: it was decided already"
            )));
        }
    }
    let earlier: Option<String> = rusqlite::OptionalExtension::optional(tx.query_row(
        "SELECT decision FROM reviews WHERE request = ?1 AND (reviewer = ?2 OR reviewer_uid = ?3)",
        params![id, actor.name, actor.uid],
        |row| row.get(0),
    ))?;
    if let Some(earlier) = earlier {
        return Err(GateError::Refused(format!(
            "request {id}: you reviewed it already ({earlier}); another approval must come from another reviewer"
        )));
    }
    if !decision.approve {
        return Ok(());
    }
    if summary.outcome == Some(Outcome::Flagged) && !decision.r#override {
        return Err(GateError::Refused(format!(
            "request {id} is flagged: approving it needs --override and a reason"
        )));
    }
    // Whatever the outcome: a flag elsewhere in the request must not hide an unscanned file.
    let unscanned = store::files(tx, id)?.iter().any(|file| {
        matches!(
            file.report.as_ref().map(|r| &r.outcome),
            Some(FileOutcome::Unscannable { .. } | FileOutcome::Refused { .. }) | None
        )
    });
    if unscanned && !decision.acknowledge_unscannable {
        return Err(GateError::Refused(format!(
            "request {id} holds content deid could not scan: approving it needs --acknowledge-unscannable"
        )));
    }
    Ok(())
}

/// The request's outcome and counts under the scan policy.
fn judge(reports: &[FileReport], config: &Config) -> (Outcome, BTreeMap<String, u64>) {
    let mut counts = BTreeMap::new();
    let mut flagged = false;
    let mut unscannable = false;
    for report in reports {
        for (entity, count) in &report.findings.counts {
            *counts.entry(entity.clone()).or_default() += count;
        }
        match report.outcome {
            FileOutcome::Scanned => {}
            FileOutcome::Unscannable { .. } => unscannable = true,
            FileOutcome::Executable { .. } | FileOutcome::Refused { .. } => flagged = true,
        }
    }
    let verdicts: Vec<Verdict> = counts
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(entity, _)| config.scan.verdict(entity))
        .collect();
    let outcome = if verdicts.contains(&Verdict::Block) {
        Outcome::Blocked
    } else if flagged || verdicts.contains(&Verdict::Review) {
        Outcome::Flagged
    } else if unscannable {
        Outcome::Unscannable
    } else {
        Outcome::Clean
    };
    (outcome, counts)
}

fn file_refs<'a>(files: impl Iterator<Item = (&'a String, u64)>) -> Vec<FileRef> {
    files
        .map(|(sha256, size)| FileRef {
            sha256: sha256.clone(),
            size,
        })
        .collect()
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn read_dir(path: &Path) -> Result<Vec<fs::DirEntry>, GateError> {
    fs::read_dir(path)
        .and_then(|entries| entries.collect())
        .map_err(io_error(format!("{}: cannot list", path.display())))
}

fn remove_tree(path: &Path) -> Result<(), GateError> {
    let result = if path.is_dir() {
        // Stored files are read-only; the directory is the gate's, so removal works.
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(io_error(format!("{}: cannot remove", path.display()))(e))
        }
        _ => Ok(()),
    }
}

/// Writes the configuration to a temporary file beside `gate.toml`, synced, not yet in
/// place.
fn stage_config(dir: &Path, config: &Config) -> Result<PathBuf, GateError> {
    let temp = dir.join(format!(".{CONFIG_FILE}.{}", random_hex(4)?));
    let write = || -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_private()
            .open(&temp)?;
        file.write_all(config.to_toml().as_bytes())?;
        file.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&temp);
        io_error(format!("{}: cannot write", temp.display()))(e)
    })?;
    Ok(temp)
}

/// Puts a staged configuration in place (rename, then sync the directory).
fn install_config(dir: &Path, staged: &Path) -> Result<(), GateError> {
    let target = dir.join(CONFIG_FILE);
    fs::rename(staged, &target).map_err(|e| {
        let _ = fs::remove_file(staged);
        io_error(format!("{}: cannot write", target.display()))(e)
    })?;
    sync_dir(dir)
}

/// Writes the configuration atomically (temp file, sync, rename).
fn write_config(dir: &Path, config: &Config) -> Result<(), GateError> {
    let staged = stage_config(dir, config)?;
    install_config(dir, &staged)
}

/// Marks a request as being scanned or released by one thread of this process; a second
/// attempt at the same work is refused rather than run twice.
struct Busy<'a> {
    set: &'a Mutex<HashSet<RequestId>>,
    id: RequestId,
}

impl<'a> Busy<'a> {
    fn take(
        set: &'a Mutex<HashSet<RequestId>>,
        id: RequestId,
        what: &str,
    ) -> Result<Busy<'a>, GateError> {
        if set.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
            Ok(Busy { set, id })
        } else {
            Err(GateError::Refused(format!(
                "request {id} is being {what} by another client"
            )))
        }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}
