//! The gate's append-only, tamper-evident audit log.
//!
//! Why it looks like this: the log lives in a table of the gate's own SQLite database so
//! that a state change and the record describing it commit in one transaction — there is
//! never a release without its record, nor a record for something that did not happen.
//! The database file is not a trust boundary, though: an administrator (or an attacker)
//! who can edit it must still be unable to rewrite history unnoticed. So every record
//!
//! * carries an HMAC-SHA256 made with the gate's secret key (forged or edited records
//!   fail it),
//! * names the SHA-256 of the previous record (dropped or reordered records break the
//!   chain), and
//! * carries its sequence number inside the MACed text (renumbered rows are noticed).
//!
//! The newest records could still be cut off without breaking anything, so the gate
//! keeps a MACed [`Head`] (sequence number and hash of the newest record) in a small
//! file beside the database. [`verify`] checks all of it and reports every problem with
//! the record number where it was found.
//!
//! Limitation, by design: an attacker who also keeps an *old* head file can roll the log
//! and the head back together to that earlier point; shipping records to a SIEM with
//! [`export`] (or the head to write-once storage) is what closes that gap.
//!
//! Records hold counts, hashes and names of actions — never the values that were found.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// SQL that creates the audit table; the gate's store runs it when it opens the database.
pub const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, record TEXT NOT NULL);";

/// The `prev` value of the first record: there is no record before it.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation: a head's MAC input can never equal a record line (which starts `{`).
const HEAD_MAC_PREFIX: &str = "deid-gate audit head v1\n";

/// Key files are tiny; refuse to read more than this from one.
const KEY_FILE_MAX: u64 = 1024;

/// Head files are tiny; refuse to read more than this from one.
const HEAD_FILE_MAX: u64 = 4096;

/// Everything that can go wrong while keeping or checking the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The operating system could not supply random bytes for a new key.
    #[error("could not get random bytes for a new audit key: {0}")]
    Random(getrandom::Error),
    /// The key file exists already; creating it again would orphan the old log.
    #[error("audit key file {path} already exists; refusing to overwrite it")]
    KeyExists {
        /// The key file.
        path: PathBuf,
    },
    /// Reading or writing the key file failed.
    #[error("audit key file {path}: {source}")]
    KeyIo {
        /// The key file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The key file does not hold hex text.
    #[error("audit key file {path} does not hold a hex-encoded key")]
    KeyFormat {
        /// The key file.
        path: PathBuf,
    },
    /// The key file holds a key of the wrong size.
    #[error("audit key file {path} holds a {len}-byte key; expected 32 bytes (64 hex digits)")]
    KeyLength {
        /// The key file.
        path: PathBuf,
        /// Bytes found after hex decoding.
        len: usize,
    },
    /// Other users may read or write the key file.
    #[error("audit key file {path} is accessible to other users (mode {mode:o}); chmod 600 it")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing the head file failed.
    #[error("audit head file {path}: {source}")]
    HeadIo {
        /// The head file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The head file is not a valid head.
    #[error("audit head file {path} is not a valid head ({detail})")]
    HeadMalformed {
        /// The head file.
        path: PathBuf,
        /// Where parsing failed (never the file's content).
        detail: String,
    },
    /// A stored record could not be parsed (the log was damaged or edited).
    #[error("audit record {seq} is not a valid record ({detail}); run the audit verification")]
    Malformed {
        /// The row's sequence number.
        seq: i64,
        /// Where parsing failed (never the record's content).
        detail: String,
    },
    /// The audit table holds a sequence number that is out of range.
    #[error("audit table holds an out-of-range sequence number {0}")]
    SeqRange(i64),
    /// The database refused a query.
    #[error("audit table: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Writing the export failed.
    #[error("writing the audit export: {0}")]
    Export(io::Error),
}

/// The gate's 32-byte secret MAC key. It is wiped when dropped and never printed.
pub struct AuditKey([u8; 32]);

impl AuditKey {
    /// Makes a new random key.
    pub fn generate() -> Result<AuditKey, AuditError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(AuditError::Random)?;
        Ok(AuditKey(bytes))
    }

    /// Makes a new random key and writes it (hex) to `path` with mode 0600.
    /// Refuses to overwrite an existing file.
    pub fn create(path: &Path) -> Result<AuditKey, AuditError> {
        let key = AuditKey::generate()?;
        let io_err = |source| AuditError::KeyIo {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => AuditError::KeyExists {
                    path: path.to_path_buf(),
                },
                _ => io_err(source),
            })?;
        let mut text = hex::encode(key.0);
        text.push('\n');
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        wipe_string(&mut text);
        written.map_err(io_err)?;
        sync_parent(path).map_err(io_err)?;
        Ok(key)
    }

    /// Reads a key written by [`AuditKey::create`]. Refuses files other users can access
    /// and keys that are not exactly 32 bytes.
    pub fn load(path: &Path) -> Result<AuditKey, AuditError> {
        let io_err = |source| AuditError::KeyIo {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let mode = file.metadata().map_err(io_err)?.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            return Err(AuditError::KeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut text = String::new();
        let read = file.take(KEY_FILE_MAX).read_to_string(&mut text);
        let decoded = read.map(|_| hex::decode(text.trim()));
        wipe_string(&mut text);
        let mut bytes = match decoded.map_err(io_err)? {
            Ok(bytes) => bytes,
            Err(_) => {
                return Err(AuditError::KeyFormat {
                    path: path.to_path_buf(),
                });
            }
        };
        let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| AuditError::KeyLength {
            path: path.to_path_buf(),
            len: bytes.len(),
        });
        bytes.fill(0);
        key.map(AuditKey)
    }

    /// Hex HMAC-SHA256 of `data` under this key.
    fn mac_hex(&self, data: &[u8]) -> String {
        hex::encode(self.mac_of(data).finalize().into_bytes())
    }

    /// Whether `mac_hex` is the MAC of `data` (compared in constant time).
    fn mac_matches(&self, data: &[u8], mac_hex: &str) -> bool {
        match hex::decode(mac_hex) {
            Ok(tag) => self.mac_of(data).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }

    fn mac_of(&self, data: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(data);
        mac
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<secret>)")
    }
}

impl Drop for AuditKey {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the compiler from treating the wipe as a dead store.
        std::hint::black_box(&self.0);
    }
}

/// Overwrites a string that held key material before it is freed.
fn wipe_string(text: &mut String) {
    let mut bytes = std::mem::take(text).into_bytes();
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// One file an event is about: its content hash and size, never its name or content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// Hex SHA-256 of the file's content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// What happened; the caller fills it and [`append`] records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// OS user name of who acted, or `"gate"` for the service itself.
    pub actor: String,
    /// What was done, e.g. `"init"`, `"ingest"`, `"submit"`, `"scan"`, `"review"`,
    /// `"release"`, `"role.add"`.
    pub action: String,
    /// The export request the event is about.
    pub request: Option<i64>,
    /// The dataset name, for ingest.
    pub dataset: Option<String>,
    /// The files the event is about.
    pub files: Vec<FileRef>,
    /// Findings counted by entity type — counts only, never values.
    pub counts: BTreeMap<String, u64>,
    /// The outcome, e.g. `"approve"`, `"deny"`, `"clean"`, `"flagged"`.
    pub decision: Option<String>,
    /// Why, in the actor's words.
    pub reason: Option<String>,
}

impl Event {
    /// An event with only an actor and an action; fill the other fields as needed.
    pub fn new(actor: impl Into<String>, action: impl Into<String>) -> Event {
        Event {
            actor: actor.into(),
            action: action.into(),
            ..Event::default()
        }
    }
}

/// A stored record: the event plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the log, from 1 without gaps.
    pub seq: u64,
    /// When it was written: RFC 3339, UTC, milliseconds.
    pub time: String,
    /// What happened.
    pub event: Event,
    /// Hex SHA-256 of the previous record's canonical line ([`GENESIS_PREV`] for the first).
    pub prev: String,
    /// Hex HMAC-SHA256 with the gate key over the canonical line without `mac`.
    pub mac: String,
}

/// The canonical line, borrowed; field order here is the line's field order.
#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    time: &'a str,
    actor: &'a str,
    action: &'a str,
    request: Option<i64>,
    dataset: Option<&'a str>,
    files: &'a [FileRef],
    counts: &'a BTreeMap<String, u64>,
    decision: Option<&'a str>,
    reason: Option<&'a str>,
    prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<&'a str>,
}

/// A stored line as parsed; unknown fields make it invalid.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineIn {
    seq: u64,
    time: String,
    actor: String,
    action: String,
    request: Option<i64>,
    dataset: Option<String>,
    files: Vec<FileRef>,
    counts: BTreeMap<String, u64>,
    decision: Option<String>,
    reason: Option<String>,
    prev: String,
    mac: String,
}

impl Record {
    /// Hex SHA-256 of the canonical line (including the MAC); the next record's `prev`.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.to_line().as_bytes()))
    }

    /// The canonical JSON line: fixed field order, no whitespace, counts sorted.
    pub fn to_line(&self) -> String {
        self.line(true)
    }

    /// Parses a stored line. Errors say where parsing failed, never what the text held.
    pub fn parse(line: &str) -> Result<Record, String> {
        let parsed: LineIn = serde_json::from_str(line).map_err(json_detail)?;
        Ok(Record {
            seq: parsed.seq,
            time: parsed.time,
            event: Event {
                actor: parsed.actor,
                action: parsed.action,
                request: parsed.request,
                dataset: parsed.dataset,
                files: parsed.files,
                counts: parsed.counts,
                decision: parsed.decision,
                reason: parsed.reason,
            },
            prev: parsed.prev,
            mac: parsed.mac,
        })
    }

    /// The text the MAC covers: the canonical line without `mac`.
    fn mac_input(&self) -> String {
        self.line(false)
    }

    fn line(&self, with_mac: bool) -> String {
        let event = &self.event;
        let out = LineOut {
            seq: self.seq,
            time: &self.time,
            actor: &event.actor,
            action: &event.action,
            request: event.request,
            dataset: event.dataset.as_deref(),
            files: &event.files,
            counts: &event.counts,
            decision: event.decision.as_deref(),
            reason: event.reason.as_deref(),
            prev: &self.prev,
            mac: with_mac.then_some(self.mac.as_str()),
        };
        // Strings, integers and a string-keyed map always serialize.
        serde_json::to_string(&out).expect("audit line serializes")
    }
}

/// Describes a JSON error by category and position only (the text may hold free text).
fn json_detail(err: serde_json::Error) -> String {
    let what = match err.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "wrong fields or types",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{what} at line {} column {}", err.line(), err.column())
}

/// Appends one record for `event` inside the caller's transaction and returns it.
///
/// Use an immediate (write) transaction: two writers racing for the same sequence number
/// make the second insert fail rather than fork the chain.
pub fn append(tx: &Transaction<'_>, key: &AuditKey, event: Event) -> Result<Record, AuditError> {
    let (seq, prev) = match last(tx)? {
        Some(record) => (record.seq + 1, record.hash()),
        None => (1, GENESIS_PREV.to_string()),
    };
    let mut record = Record {
        seq,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        event,
        prev,
        mac: String::new(),
    };
    record.mac = key.mac_hex(record.mac_input().as_bytes());
    let row_seq = i64::try_from(seq).map_err(|_| AuditError::SeqRange(i64::MAX))?;
    tx.execute(
        "INSERT INTO audit (seq, record) VALUES (?1, ?2)",
        params![row_seq, record.to_line()],
    )?;
    Ok(record)
}

/// The newest record, if any (for head maintenance).
pub fn last(conn: &Connection) -> Result<Option<Record>, AuditError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, record FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    row.map(|(seq, text)| parse_row(seq, &text)).transpose()
}

/// Parses a row, using the row's sequence number in the error.
fn parse_row(seq: i64, text: &str) -> Result<Record, AuditError> {
    Record::parse(text).map_err(|detail| AuditError::Malformed { seq, detail })
}

/// Writes every record as one canonical JSON line (for a SIEM) and returns how many.
/// Stops at a record that does not parse, naming it, rather than ship a damaged log.
pub fn export(conn: &Connection, out: &mut dyn Write) -> Result<u64, AuditError> {
    let mut stmt = conn.prepare("SELECT seq, record FROM audit ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let record = parse_row(row.get(0)?, &row.get::<_, String>(1)?)?;
        let mut line = record.to_line();
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(AuditError::Export)?;
        count += 1;
    }
    out.flush().map_err(AuditError::Export)?;
    Ok(count)
}

/// The newest record's number and hash, kept MACed in a file beside the database
/// (`audit.head`) so that cutting off the newest records is noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// Sequence number of the newest record.
    pub seq: u64,
    /// Its hash ([`Record::hash`]).
    pub hash: String,
    /// Hex HMAC-SHA256 with the gate key over the seq and hash.
    mac: String,
}

impl Head {
    /// The head naming `record`.
    pub fn of(record: &Record, key: &AuditKey) -> Head {
        let hash = record.hash();
        let mac = key.mac_hex(head_mac_input(record.seq, &hash).as_bytes());
        Head {
            seq: record.seq,
            hash,
            mac,
        }
    }

    /// Whether the head's MAC was made with `key`.
    pub fn is_authentic(&self, key: &AuditKey) -> bool {
        key.mac_matches(head_mac_input(self.seq, &self.hash).as_bytes(), &self.mac)
    }

    /// Reads the head file; `None` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Head>, AuditError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(head_io(path, source)),
        };
        let mut text = String::new();
        file.take(HEAD_FILE_MAX)
            .read_to_string(&mut text)
            .map_err(|source| head_io(path, source))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|err| AuditError::HeadMalformed {
                path: path.to_path_buf(),
                detail: json_detail(err),
            })
    }

    /// Writes the head atomically (temporary file, fsync, rename, fsync of the
    /// directory), MACed with `key`.
    pub fn store(&self, key: &AuditKey, path: &Path) -> Result<(), AuditError> {
        let head = Head {
            seq: self.seq,
            hash: self.hash.clone(),
            mac: key.mac_hex(head_mac_input(self.seq, &self.hash).as_bytes()),
        };
        // A Head holds a number and two strings: it always serializes.
        let mut text = serde_json::to_string(&head).expect("head serializes");
        text.push('\n');
        let io_err = |source| head_io(path, source);
        let dir = parent_dir(path);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
        tmp.write_all(text.as_bytes()).map_err(io_err)?;
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(path).map_err(|err| io_err(err.error))?;
        sync_parent(path).map_err(io_err)
    }
}

fn head_mac_input(seq: u64, hash: &str) -> String {
    format!("{HEAD_MAC_PREFIX}{seq}\n{hash}")
}

fn head_io(path: &Path, source: io::Error) -> AuditError {
    AuditError::HeadIo {
        path: path.to_path_buf(),
        source,
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes a new or renamed directory entry durable.
fn sync_parent(path: &Path) -> io::Result<()> {
    File::open(parent_dir(path))?.sync_all()
}

/// One problem [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The record where it was found (0: before the first record or an empty log).
    pub seq: u64,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// The kinds of problem [`verify`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The stored text is not a valid record.
    Malformed {
        /// Where parsing failed (never the text).
        detail: String,
    },
    /// The record's own sequence number differs from its row's.
    SeqMismatch {
        /// The number inside the record.
        recorded: u64,
    },
    /// The MAC does not match: the record was edited or forged without the key.
    BadMac,
    /// `prev` is not the hash of the record before.
    BrokenLink,
    /// Records `expected..seq` are missing.
    Gap {
        /// The first missing sequence number.
        expected: u64,
    },
    /// A row's sequence number is zero or negative.
    BadRowSeq {
        /// The row's sequence number.
        row: i64,
    },
    /// The log ends before the head: the newest records were cut off.
    Truncated {
        /// Where the head says the log ends.
        head_seq: u64,
    },
    /// The log goes on past the head by more than one record.
    HeadBehind {
        /// Where the head says the log ends.
        head_seq: u64,
    },
    /// The record the head names has a different hash.
    HeadMismatch,
    /// The head file's MAC does not match: edited or forged.
    HeadBadMac,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.kind {
            ProblemKind::Malformed { detail } => {
                write!(f, "record {seq}: not a valid audit record ({detail})")
            }
            ProblemKind::SeqMismatch { recorded } => write!(
                f,
                "record {seq}: the record says it is number {recorded} (rows were renumbered or moved)"
            ),
            ProblemKind::BadMac => write!(f, "record {seq}: MAC does not match (edited or forged)"),
            ProblemKind::BrokenLink => write!(
                f,
                "record {seq}: previous-hash link broken (a record before it was edited, dropped or reordered)"
            ),
            ProblemKind::Gap { expected } if expected + 1 == seq => {
                write!(
                    f,
                    "record {seq}: record {expected} before it is missing (deleted)"
                )
            }
            ProblemKind::Gap { expected } => write!(
                f,
                "record {seq}: records {expected} to {} before it are missing (deleted)",
                seq.saturating_sub(1)
            ),
            ProblemKind::BadRowSeq { row } => write!(
                f,
                "audit table holds a row numbered {row}; numbering starts at 1 (inserted by hand)"
            ),
            ProblemKind::Truncated { head_seq } if seq == 0 => write!(
                f,
                "log is empty but the head says {head_seq}: records were truncated"
            ),
            ProblemKind::Truncated { head_seq } => write!(
                f,
                "log ends at record {seq} but the head says {head_seq}: records were truncated"
            ),
            ProblemKind::HeadBehind { head_seq } => write!(
                f,
                "log ends at record {seq} but the head says {head_seq}: records after the head were never confirmed, or an old head was put back"
            ),
            ProblemKind::HeadMismatch => write!(
                f,
                "record {seq}: the head names this record but its hash differs (the record or the head was replaced)"
            ),
            ProblemKind::HeadBadMac => write!(
                f,
                "head (record {seq}): MAC does not match (the head file was edited or forged)"
            ),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Rows checked.
    pub records: u64,
    /// Everything wrong, in the order found.
    pub problems: Vec<Problem>,
    /// Harmless findings worth telling the operator (e.g. the head one record behind).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether the log is intact.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            write!(f, "audit log intact: {} records", self.records)?;
        } else {
            write!(
                f,
                "audit log damaged: {} problems in {} records",
                self.problems.len(),
                self.records
            )?;
        }
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        for note in &self.notes {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

/// Walks the chain, remembering what the head check needs.
struct Walk<'k> {
    key: &'k AuditKey,
    report: VerifyReport,
    /// The next sequence number the chain should have.
    expected: u64,
    /// Hash of the previous record when it is known and directly before.
    prev_hash: Option<String>,
    /// Sequence number and hash of the last record, and the hash of the one before it.
    last: Option<(u64, Option<String>)>,
    before_last: Option<(u64, Option<String>)>,
}

impl Walk<'_> {
    fn problem(&mut self, seq: u64, kind: ProblemKind) {
        self.report.problems.push(Problem { seq, kind });
    }

    fn row(&mut self, row_seq: i64, text: &str) {
        self.report.records += 1;
        let Ok(seq) = u64::try_from(row_seq) else {
            return self.problem(0, ProblemKind::BadRowSeq { row: row_seq });
        };
        if seq == 0 {
            return self.problem(0, ProblemKind::BadRowSeq { row: row_seq });
        }
        if seq != self.expected {
            let expected = self.expected;
            self.problem(seq, ProblemKind::Gap { expected });
            self.prev_hash = None;
        }
        self.expected = seq + 1;
        let hash = self.record(seq, text);
        self.before_last = self.last.take();
        self.last = Some((seq, hash.clone()));
        self.prev_hash = hash;
    }

    /// Checks one record; returns its hash when it parsed.
    fn record(&mut self, seq: u64, text: &str) -> Option<String> {
        let record = match Record::parse(text) {
            Ok(record) => record,
            Err(detail) => {
                self.problem(seq, ProblemKind::Malformed { detail });
                return None;
            }
        };
        if record.seq != seq {
            let recorded = record.seq;
            self.problem(seq, ProblemKind::SeqMismatch { recorded });
        }
        if !self
            .key
            .mac_matches(record.mac_input().as_bytes(), &record.mac)
        {
            self.problem(seq, ProblemKind::BadMac);
        }
        if let Some(prev) = &self.prev_hash
            && *prev != record.prev
        {
            self.problem(seq, ProblemKind::BrokenLink);
        }
        Some(record.hash())
    }

    /// Compares the end of the chain with the head.
    fn head(&mut self, head: &Head) {
        if !head.is_authentic(self.key) {
            self.problem(head.seq, ProblemKind::HeadBadMac);
        }
        let (end, end_hash) = self.last.clone().unwrap_or((0, None));
        if head.seq > end {
            let head_seq = head.seq;
            return self.problem(end, ProblemKind::Truncated { head_seq });
        }
        if head.seq == end {
            return self.head_hash(end, end_hash.as_deref(), &head.hash);
        }
        let one_behind = self
            .before_last
            .as_ref()
            .filter(|(seq, _)| *seq == head.seq);
        match one_behind.cloned() {
            Some((seq, hash)) if self.report.is_ok() => {
                self.head_hash(seq, hash.as_deref(), &head.hash);
                if self.report.is_ok() {
                    self.report.notes.push(format!(
                        "the head is one record behind (record {end}); the gate stopped between \
                         a commit and the head update and re-stores the head on start"
                    ));
                }
            }
            _ => {
                let head_seq = head.seq;
                self.problem(end, ProblemKind::HeadBehind { head_seq });
            }
        }
    }

    fn head_hash(&mut self, seq: u64, record_hash: Option<&str>, head_hash: &str) {
        // A malformed record is reported already; its hash cannot be compared.
        if let Some(hash) = record_hash
            && hash != head_hash
        {
            self.problem(seq, ProblemKind::HeadMismatch);
        }
    }
}

/// Checks the whole log: numbering from 1 without gaps, that every record parses, its
/// MAC, its link to the record before, and the end of the log against `head`.
/// Goes on past problems and reports each with the record where it was found.
///
/// Without a head, cutting off the newest records cannot be noticed; a note says so.
pub fn verify(
    conn: &Connection,
    key: &AuditKey,
    head: Option<&Head>,
) -> Result<VerifyReport, AuditError> {
    let mut walk = Walk {
        key,
        report: VerifyReport::default(),
        expected: 1,
        prev_hash: Some(GENESIS_PREV.to_string()),
        last: None,
        before_last: None,
    };
    let mut stmt = conn.prepare("SELECT seq, record FROM audit ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        // A non-text value in the column is damage too, not a reason to stop.
        match row.get::<_, String>(1) {
            Ok(text) => walk.row(seq, &text),
            Err(_) => walk.row(seq, ""),
        }
    }
    match head {
        Some(head) => walk.head(head),
        None => walk
            .report
            .notes
            .push("no head given: truncation of the newest records cannot be detected".into()),
    }
    Ok(walk.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("in-memory db");
        conn.execute_batch(SCHEMA).expect("schema");
        conn
    }

    fn event(i: u64) -> Event {
        let mut event = Event::new("alice", "scan");
        event.request = Some(i as i64);
        event.files = vec![FileRef {
            sha256: hex::encode(Sha256::digest(i.to_le_bytes())),
            size: i * 100,
        }];
        event.counts.insert("PERSON".into(), i);
        event.counts.insert("EMAIL".into(), 1);
        event.decision = Some("flagged".into());
        event.reason = Some(format!("reason {i}"));
        event
    }

    /// Appends `n` records in one transaction and returns the last one.
    fn fill(conn: &mut Connection, key: &AuditKey, n: u64) -> Record {
        let tx = conn.transaction().expect("tx");
        let mut last = None;
        for i in 1..=n {
            last = Some(append(&tx, key, event(i)).expect("append"));
        }
        tx.commit().expect("commit");
        last.expect("at least one record")
    }

    fn raw(conn: &Connection, seq: i64) -> String {
        conn.query_row("SELECT record FROM audit WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .expect("row")
    }

    fn set_raw(conn: &Connection, seq: i64, text: &str) {
        conn.execute(
            "UPDATE audit SET record = ?2 WHERE seq = ?1",
            params![seq, text],
        )
        .expect("update");
    }

    fn kinds_at(report: &VerifyReport, seq: u64) -> Vec<ProblemKind> {
        report
            .problems
            .iter()
            .filter(|p| p.seq == seq)
            .map(|p| p.kind.clone())
            .collect()
    }

    #[test]
    fn valid_chain_verifies() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let last_record = fill(&mut conn, &key, 20);
        assert_eq!(last_record.seq, 20);
        let head = Head::of(&last_record, &key);
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.records, 20);
        assert!(report.notes.is_empty());
        assert_eq!(last(&conn).expect("last"), Some(last_record));
    }

    #[test]
    fn records_are_canonical_and_linked() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        fill(&mut conn, &key, 2);
        let first = Record::parse(&raw(&conn, 1)).expect("parse");
        let second = Record::parse(&raw(&conn, 2)).expect("parse");
        assert_eq!(first.prev, GENESIS_PREV);
        assert_eq!(second.prev, first.hash());
        assert_eq!(first.to_line(), raw(&conn, 1));
        let line = first.to_line();
        assert!(line.starts_with("{\"seq\":1,\"time\":\""), "{line}");
        assert!(
            line.contains("\"counts\":{\"EMAIL\":1,\"PERSON\":1}"),
            "{line}"
        );
        assert!(
            line.ends_with(&format!(",\"mac\":\"{}\"}}", first.mac)),
            "{line}"
        );
        assert!(
            first.time.ends_with('Z') && first.time.len() == 24,
            "{}",
            first.time
        );
    }

    #[test]
    fn edited_record_fails_its_mac() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 20), &key);
        let text = raw(&conn, 7).replace("\"PERSON\":7", "\"PERSON\":0");
        set_raw(&conn, 7, &text);
        let text = raw(&conn, 12).replace("reason 12", "reason X");
        set_raw(&conn, 12, &text);
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert!(
            kinds_at(&report, 7).contains(&ProblemKind::BadMac),
            "{report}"
        );
        assert!(
            kinds_at(&report, 12).contains(&ProblemKind::BadMac),
            "{report}"
        );
        // The edit changes the record's hash, so the next link breaks too.
        assert!(
            kinds_at(&report, 8).contains(&ProblemKind::BrokenLink),
            "{report}"
        );
        assert!(kinds_at(&report, 6).is_empty(), "{report}");
        assert!(report.to_string().contains("record 7: MAC does not match"));
    }

    #[test]
    fn record_forged_with_another_key_is_detected() {
        let key = AuditKey::generate().expect("key");
        let other = AuditKey::generate().expect("key");
        let mut conn = db();
        fill(&mut conn, &key, 5);
        // The forger knows the chain and links correctly, but lacks the key.
        let tx = conn.transaction().expect("tx");
        let forged = append(&tx, &other, Event::new("mallory", "release")).expect("append");
        tx.commit().expect("commit");
        let head = Head::of(&forged, &other);
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        // Both the record and the head the forger wrote fail their MACs.
        assert_eq!(
            kinds_at(&report, 6),
            vec![ProblemKind::BadMac, ProblemKind::HeadBadMac]
        );
        assert_eq!(report.problems.len(), 2, "{report}");
    }

    #[test]
    fn deleted_middle_row_is_detected() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 20), &key);
        conn.execute("DELETE FROM audit WHERE seq = 10", [])
            .expect("delete");
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert_eq!(
            report.problems,
            vec![Problem {
                seq: 11,
                kind: ProblemKind::Gap { expected: 10 }
            }]
        );
        assert!(
            report
                .to_string()
                .contains("record 10 before it is missing")
        );
    }

    #[test]
    fn renumbered_rows_after_a_deletion_are_detected() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 5), &key);
        conn.execute_batch(
            "DELETE FROM audit WHERE seq = 3;
             UPDATE audit SET seq = 3 WHERE seq = 4;
             UPDATE audit SET seq = 4 WHERE seq = 5;",
        )
        .expect("renumber");
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        let kinds = kinds_at(&report, 3);
        assert!(
            kinds.contains(&ProblemKind::SeqMismatch { recorded: 4 }),
            "{report}"
        );
        assert!(kinds.contains(&ProblemKind::BrokenLink), "{report}");
        assert!(
            report.problems.contains(&Problem {
                seq: 4,
                kind: ProblemKind::Truncated { head_seq: 5 }
            }),
            "{report}"
        );
    }

    #[test]
    fn swapped_rows_are_detected() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 20), &key);
        let (five, six) = (raw(&conn, 5), raw(&conn, 6));
        set_raw(&conn, 5, &six);
        set_raw(&conn, 6, &five);
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert!(kinds_at(&report, 5).contains(&ProblemKind::SeqMismatch { recorded: 6 }));
        assert!(kinds_at(&report, 5).contains(&ProblemKind::BrokenLink));
        assert!(kinds_at(&report, 6).contains(&ProblemKind::SeqMismatch { recorded: 5 }));
        assert!(kinds_at(&report, 7).contains(&ProblemKind::BrokenLink));
        // The records themselves are genuine.
        assert!(
            !report
                .problems
                .iter()
                .any(|p| p.kind == ProblemKind::BadMac)
        );
    }

    #[test]
    fn truncation_is_detected_against_the_head() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 20), &key);
        conn.execute("DELETE FROM audit WHERE seq > 17", [])
            .expect("delete");
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert_eq!(
            report.problems,
            vec![Problem {
                seq: 17,
                kind: ProblemKind::Truncated { head_seq: 20 }
            }]
        );
        assert_eq!(
            report.problems[0].to_string(),
            "log ends at record 17 but the head says 20: records were truncated"
        );
        // Without the head the same log looks intact, and verify says why it cannot tell.
        let report = verify(&conn, &key, None).expect("verify");
        assert!(report.is_ok());
        assert_eq!(report.notes.len(), 1);
    }

    #[test]
    fn emptied_log_is_detected_against_the_head() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 3), &key);
        conn.execute("DELETE FROM audit", []).expect("delete");
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert_eq!(
            report.problems,
            vec![Problem {
                seq: 0,
                kind: ProblemKind::Truncated { head_seq: 3 }
            }]
        );
    }

    #[test]
    fn head_one_behind_is_ok_with_a_note() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 19), &key);
        fill(&mut conn, &key, 1);
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.records, 20);
        assert_eq!(report.notes.len(), 1, "{report}");
    }

    #[test]
    fn head_two_behind_is_a_problem() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 18), &key);
        fill(&mut conn, &key, 2);
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert_eq!(
            report.problems,
            vec![Problem {
                seq: 20,
                kind: ProblemKind::HeadBehind { head_seq: 18 }
            }]
        );
    }

    #[test]
    fn replaced_last_record_mismatches_the_head() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 5), &key);
        // The key holder (or a bug) rewrote record 5 validly; the head still tells.
        conn.execute("DELETE FROM audit WHERE seq = 5", [])
            .expect("delete");
        fill(&mut conn, &key, 1);
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert_eq!(
            report.problems,
            vec![Problem {
                seq: 5,
                kind: ProblemKind::HeadMismatch
            }]
        );
    }

    #[test]
    fn malformed_rows_are_reported_not_fatal() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 10), &key);
        set_raw(&conn, 4, "{not json");
        let extra = raw(&conn, 6).replace("{\"seq\":6,", "{\"seq\":6,\"extra\":1,");
        set_raw(&conn, 6, &extra);
        conn.execute("UPDATE audit SET record = x'00ff' WHERE seq = 8", [])
            .expect("blob");
        conn.execute("INSERT INTO audit (seq, record) VALUES (-1, 'x')", [])
            .expect("insert");
        let report = verify(&conn, &key, Some(&head)).expect("verify");
        assert_eq!(report.records, 11);
        for seq in [4, 6, 8] {
            assert!(
                matches!(
                    kinds_at(&report, seq).as_slice(),
                    [ProblemKind::Malformed { .. }]
                ),
                "{report}"
            );
        }
        assert!(kinds_at(&report, 0).contains(&ProblemKind::BadRowSeq { row: -1 }));
        // Records after a malformed one are still checked, and nothing is echoed back.
        assert!(kinds_at(&report, 10).is_empty(), "{report}");
        assert!(!report.to_string().contains("not json"));
        // The last row (10) is intact, so head maintenance still works.
        assert!(last(&conn).is_ok());
        let mut sink = Vec::new();
        assert!(matches!(
            export(&conn, &mut sink),
            Err(AuditError::Malformed { seq: -1, .. })
        ));
    }

    #[test]
    fn export_writes_one_parsable_line_per_record() {
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        fill(&mut conn, &key, 12);
        let mut out = Vec::new();
        assert_eq!(export(&conn, &mut out).expect("export"), 12);
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 12);
        for (i, line) in lines.iter().enumerate() {
            let value: serde_json::Value = serde_json::from_str(line).expect("json line");
            assert_eq!(value["seq"], serde_json::json!(i + 1));
            assert_eq!(Record::parse(line).expect("record").to_line(), *line);
        }
    }

    #[test]
    fn key_file_roundtrip_and_refusals() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.key");
        let key = AuditKey::create(&path).expect("create");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            AuditKey::create(&path),
            Err(AuditError::KeyExists { .. })
        ));
        let loaded = AuditKey::load(&path).expect("load");
        assert_eq!(loaded.0, key.0);
        assert_eq!(format!("{loaded:?}"), "AuditKey(<secret>)");

        let short = dir.path().join("short.key");
        fs::write(&short, "abcd\n").expect("write");
        fs::set_permissions(&short, fs::Permissions::from_mode(0o600)).expect("chmod");
        let err = AuditKey::load(&short).map(|_| ()).expect_err("short key");
        assert!(matches!(err, AuditError::KeyLength { len: 2, .. }));
        assert!(err.to_string().contains("short.key"), "{err}");

        fs::write(&short, "zz").expect("write");
        assert!(matches!(
            AuditKey::load(&short),
            Err(AuditError::KeyFormat { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            AuditKey::load(&path),
            Err(AuditError::KeyPermissions { .. })
        ));
        let missing = dir.path().join("missing.key");
        let err = AuditKey::load(&missing).map(|_| ()).expect_err("missing");
        assert!(err.to_string().contains("missing.key"), "{err}");
    }

    #[test]
    fn head_file_roundtrip_and_tamper() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.head");
        assert_eq!(Head::load(&path).expect("load"), None);
        let key = AuditKey::generate().expect("key");
        let mut conn = db();
        let head = Head::of(&fill(&mut conn, &key, 3), &key);
        head.store(&key, &path).expect("store");
        let loaded = Head::load(&path).expect("load").expect("some");
        assert_eq!(loaded, head);
        assert!(loaded.is_authentic(&key));
        assert!(verify(&conn, &key, Some(&loaded)).expect("verify").is_ok());

        // A head moved forward by hand fails its MAC.
        let text = fs::read_to_string(&path)
            .expect("read")
            .replace("\"seq\":3", "\"seq\":9");
        fs::write(&path, text).expect("write");
        let moved = Head::load(&path).expect("load").expect("some");
        assert!(!moved.is_authentic(&key));
        let report = verify(&conn, &key, Some(&moved)).expect("verify");
        assert!(report.problems.contains(&Problem {
            seq: 9,
            kind: ProblemKind::HeadBadMac
        }));

        fs::write(&path, "{\"seq\":").expect("write");
        assert!(matches!(
            Head::load(&path),
            Err(AuditError::HeadMalformed { .. })
        ));
    }
}
