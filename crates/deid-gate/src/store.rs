//! The gate's state in SQLite: requests, their files, reviews and ingested datasets, with
//! the audit log and the notification outbox in the same database.
//!
//! One database means one transaction per transition: a request's new state, its audit
//! record and its notification commit together or not at all. WAL mode with
//! `synchronous = FULL` makes every commit durable before the gate answers.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::{audit, notify};

/// The database's file name inside the gate directory.
pub const DB_FILE: &str = "gate.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dir TEXT NOT NULL UNIQUE,
    submitter TEXT NOT NULL,
    submitter_uid INTEGER NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('submitted', 'scanned', 'approved', 'denied', 'released')),
    outcome TEXT CHECK (outcome IN ('clean', 'flagged', 'unscannable', 'blocked')),
    counts TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    release_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    request INTEGER NOT NULL REFERENCES requests(id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    stored TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    report TEXT,
    released_to TEXT,
    PRIMARY KEY (request, idx)
);
CREATE TABLE IF NOT EXISTS reviews (
    request INTEGER NOT NULL REFERENCES requests(id),
    reviewer TEXT NOT NULL,
    reviewer_uid INTEGER NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    reason TEXT NOT NULL,
    override INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (request, reviewer)
);
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    owner TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (name, file, sha256)
);
";

/// Opens (creating if needed) the gate's database.
///
/// # Errors
/// When the file cannot be opened or the schema cannot be created.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(audit::SCHEMA)?;
    conn.execute_batch(notify::SCHEMA)?;
    Ok(conn)
}

/// Starts a write transaction that holds the write lock from its first statement, so that
/// checks and updates see one state.
pub fn write(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

/// A request's id.
pub type RequestId = i64;

/// Where a request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Stored in the queue; not scanned yet.
    Submitted,
    /// Scanned; waiting for reviewers.
    Scanned,
    /// Approved by enough reviewers; may be released.
    Approved,
    /// Denied by a reviewer or blocked by the scan policy; never released.
    Denied,
    /// Copied to the release destination.
    Released,
}

/// How a request's scan came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Nothing the scan policy flags.
    Clean,
    /// Findings that need review, executable content, or an archive refused.
    Flagged,
    /// Clean where it could be read, but holds files deid cannot scan.
    Unscannable,
    /// Findings of a type the policy blocks: denied by the gate.
    Blocked,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            /// The name stored and shown.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $text,)* }
            }

            fn parse(text: &str) -> Option<$ty> {
                match text { $($text => Some(<$ty>::$variant),)* _ => None }
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<$ty> {
                let text = value.as_str()?;
                <$ty>::parse(text).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(format!("unknown value `{text}`").into())
                })
            }
        }

        impl rusqlite::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(State {
    Submitted = "submitted",
    Scanned = "scanned",
    Approved = "approved",
    Denied = "denied",
    Released = "released",
});

text_enum!(Outcome {
    Clean = "clean",
    Flagged = "flagged",
    Unscannable = "unscannable",
    Blocked = "blocked",
});

/// A request as listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestSummary {
    /// Its id.
    pub id: RequestId,
    /// Its state.
    pub state: State,
    /// Its scan outcome, once scanned.
    pub outcome: Option<Outcome>,
    /// Who submitted it.
    pub submitter: String,
    /// Why, as the submitter wrote.
    pub reason: String,
    /// When it was submitted (RFC 3339).
    pub created: String,
    /// When it last changed.
    pub updated: String,
    /// Its files.
    pub files: u64,
    /// Its bytes.
    pub bytes: u64,
    /// Findings by type.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Approvals so far.
    pub approvals: u32,
}

const SUMMARY_SELECT: &str = "
SELECT r.id, r.state, r.outcome, r.submitter, r.reason, r.created, r.updated, r.counts,
       (SELECT count(*) FROM files f WHERE f.request = r.id),
       (SELECT coalesce(sum(size), 0) FROM files f WHERE f.request = r.id),
       (SELECT count(*) FROM reviews v WHERE v.request = r.id AND v.decision = 'approve')
FROM requests r";

fn summary_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RequestSummary> {
    let counts: String = row.get(7)?;
    Ok(RequestSummary {
        id: row.get(0)?,
        state: row.get(1)?,
        outcome: row.get(2)?,
        submitter: row.get(3)?,
        reason: row.get(4)?,
        created: row.get(5)?,
        updated: row.get(6)?,
        counts: serde_json::from_str(&counts).unwrap_or_default(),
        files: row.get(8)?,
        bytes: row.get(9)?,
        approvals: row.get(10)?,
    })
}

/// One request's summary.
///
/// # Errors
/// Database errors.
pub fn summary(conn: &Connection, id: RequestId) -> rusqlite::Result<Option<RequestSummary>> {
    conn.query_row(
        &format!("{SUMMARY_SELECT} WHERE r.id = ?1"),
        [id],
        summary_row,
    )
    .optional()
}

/// Requests, newest first; only `submitter`'s when given.
///
/// # Errors
/// Database errors.
pub fn summaries(
    conn: &Connection,
    submitter: Option<&str>,
) -> rusqlite::Result<Vec<RequestSummary>> {
    let mut statement = conn.prepare(&format!(
        "{SUMMARY_SELECT} WHERE ?1 IS NULL OR r.submitter = ?1 ORDER BY r.id DESC"
    ))?;
    let rows = statement.query_map(params![submitter], summary_row)?;
    rows.collect()
}

/// One stored file of a request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredFile {
    /// Position in the request, from 0.
    pub index: u32,
    /// Display name.
    pub name: String,
    /// File name inside the request's directory.
    pub stored: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The scan report, once scanned.
    pub report: Option<crate::scan::FileReport>,
    /// Where it was released to.
    pub released_to: Option<String>,
}

/// A request's files in order.
///
/// # Errors
/// Database errors.
pub fn files(conn: &Connection, id: RequestId) -> rusqlite::Result<Vec<StoredFile>> {
    let mut statement = conn.prepare(
        "SELECT idx, name, stored, sha256, size, report, released_to FROM files
         WHERE request = ?1 ORDER BY idx",
    )?;
    let rows = statement.query_map([id], |row| {
        let report: Option<String> = row.get(5)?;
        Ok(StoredFile {
            index: row.get(0)?,
            name: row.get(1)?,
            stored: row.get(2)?,
            sha256: row.get(3)?,
            size: row.get(4)?,
            report: report.and_then(|r| serde_json::from_str(&r).ok()),
            released_to: row.get(6)?,
        })
    })?;
    rows.collect()
}

/// One review.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Review {
    /// Who.
    pub reviewer: String,
    /// `approve` or `deny`.
    pub decision: String,
    /// Why.
    pub reason: String,
    /// Whether an approval overrode flags or acknowledged unscannable files.
    pub r#override: bool,
    /// When.
    pub at: String,
}

/// A request's reviews in order.
///
/// # Errors
/// Database errors.
pub fn reviews(conn: &Connection, id: RequestId) -> rusqlite::Result<Vec<Review>> {
    let mut statement = conn.prepare(
        "SELECT reviewer, decision, reason, override, at FROM reviews
         WHERE request = ?1 ORDER BY at, reviewer",
    )?;
    let rows = statement.query_map([id], |row| {
        Ok(Review {
            reviewer: row.get(0)?,
            decision: row.get(1)?,
            reason: row.get(2)?,
            r#override: row.get(3)?,
            at: row.get(4)?,
        })
    })?;
    rows.collect()
}

/// The request's state and directory, inside a transaction.
///
/// # Errors
/// Database errors.
pub fn state(conn: &Connection, id: RequestId) -> rusqlite::Result<Option<(State, String)>> {
    conn.query_row(
        "SELECT state, dir FROM requests WHERE id = ?1",
        [id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

/// Ids of requests in `state`.
///
/// # Errors
/// Database errors.
pub fn ids_in(
    conn: &Connection,
    state: State,
    release_requested: bool,
) -> rusqlite::Result<Vec<RequestId>> {
    let mut statement = conn.prepare(
        "SELECT id FROM requests WHERE state = ?1 AND (?2 = 0 OR release_requested = 1)
         ORDER BY id",
    )?;
    let rows = statement.query_map(params![state, release_requested], |row| row.get(0))?;
    rows.collect()
}

/// Directories of requests, with their states: what recovery keeps.
///
/// # Errors
/// Database errors.
pub fn directories(conn: &Connection) -> rusqlite::Result<Vec<(String, State)>> {
    let mut statement = conn.prepare("SELECT dir, state FROM requests")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// One ingested file of a dataset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetFile {
    /// Dataset name.
    pub dataset: String,
    /// Display name of the file.
    pub file: String,
    /// SHA-256, hex: the name of the stored copy.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Who ingested it.
    pub owner: String,
    /// When.
    pub at: String,
}

/// The manifest of ingested files.
///
/// # Errors
/// Database errors.
pub fn datasets(conn: &Connection) -> rusqlite::Result<Vec<DatasetFile>> {
    let mut statement =
        conn.prepare("SELECT name, file, sha256, size, owner, at FROM datasets ORDER BY at, name")?;
    let rows = statement.query_map([], |row| {
        Ok(DatasetFile {
            dataset: row.get(0)?,
            file: row.get(1)?,
            sha256: row.get(2)?,
            size: row.get(3)?,
            owner: row.get(4)?,
            at: row.get(5)?,
        })
    })?;
    rows.collect()
}
