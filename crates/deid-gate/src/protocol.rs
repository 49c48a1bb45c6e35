//! The wire protocol between `deid gate` clients and the service.
//!
//! Frames are a 4-byte big-endian length and a JSON document. A client sends one request
//! frame; uploads (`ingest`, `submit`) follow it with the files' raw bytes, exactly the
//! sizes announced, in order; the service answers with one response frame. One request per
//! connection keeps a half-finished upload from ever being mistaken for the next request.

use std::io::{self, Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Role;
use crate::gate::Decision;
use crate::store::RequestId;

/// The socket's file name inside the gate directory.
pub const SOCKET_FILE: &str = "gate.sock";

/// The largest response accepted (responses carry audit exports).
pub const MAX_RESPONSE: u32 = 256 << 20;
/// The largest request the service reads: requests are small, and the service must not
/// buffer whatever a local user sends.
pub const MAX_REQUEST: u32 = 1 << 20;

/// What a client asks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Who the service sees.
    Whoami,
    /// One file for a dataset; its bytes follow.
    Ingest {
        /// Dataset name.
        dataset: String,
        /// The file.
        file: FileHeader,
    },
    /// An object in an allowed object-store prefix, for a dataset: the service reads it,
    /// keeps a verified copy, then deletes it.
    IngestObject {
        /// Dataset name.
        dataset: String,
        /// `az://container/key` or `s3://bucket/key`.
        url: String,
    },
    /// An export request; the files' bytes follow in order.
    Submit {
        /// Why the files should leave.
        reason: String,
        /// The files.
        files: Vec<FileHeader>,
    },
    /// Requests the caller may see.
    List,
    /// One request.
    Show {
        /// Its id.
        id: RequestId,
    },
    /// A reviewer's decision.
    Review {
        /// The request.
        id: RequestId,
        /// The decision.
        decision: Decision,
    },
    /// Release an approved request.
    Release {
        /// The request.
        id: RequestId,
    },
    /// Grant or take away a role.
    Role {
        /// The user.
        user: String,
        /// The role.
        role: Role,
        /// Grant (else take away).
        grant: bool,
    },
    /// Check the audit log.
    AuditVerify,
    /// The audit log as JSONL.
    AuditExport,
    /// The ingest manifest.
    Datasets,
}

/// A file announced before its bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileHeader {
    /// Its name (no directories).
    pub name: String,
    /// Its exact size.
    pub size: u64,
}

/// The service's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Response {
    /// The operation succeeded.
    pub ok: bool,
    /// What went wrong, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The result.
    #[serde(default)]
    pub body: serde_json::Value,
}

/// Writes one frame.
///
/// # Errors
/// Write errors; a value too large for a frame.
pub fn write_frame(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let bytes = serde_json::to_vec(value)?;
    let length = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| n <= MAX_RESPONSE)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "frame too large"))?;
    out.write_all(&length.to_be_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Reads one frame of at most `limit` bytes.
///
/// # Errors
/// Read errors; an oversized frame; JSON that is not the expected message.
pub fn read_frame<T: DeserializeOwned>(input: &mut impl Read, limit: u32) -> io::Result<T> {
    let mut length = [0u8; 4];
    input.read_exact(&mut length)?;
    let length = u32::from_be_bytes(length);
    if length > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {length} bytes is over the limit"),
        ));
    }
    let mut bytes = vec![0u8; length as usize];
    input.read_exact(&mut bytes)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_frames_are_refused() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &Request::Show { id: 7 }).unwrap();
        let back: Request = read_frame(&mut wire.as_slice(), MAX_REQUEST).unwrap();
        assert!(matches!(back, Request::Show { id: 7 }));
        let mut huge = (MAX_REQUEST + 1).to_be_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(read_frame::<Request>(&mut huge.as_slice(), MAX_REQUEST).is_err());
        let truncated = &wire[..wire.len() - 1];
        assert!(read_frame::<Request>(&mut &truncated[..], MAX_REQUEST).is_err());
    }
}
