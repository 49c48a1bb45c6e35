//! The client side of the gate's socket: what every `deid gate` command but `init` and
//! `serve` uses.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};

use sha2::{Digest, Sha256};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::protocol::{
    FileHeader, MAX_RESPONSE, Request, Response, SOCKET_FILE, read_frame, write_frame,
};

/// What went wrong talking to the gate.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service cannot be reached.
    #[error("{socket}: cannot reach the gate service ({source}); is `deid gate serve` running?")]
    Connect {
        /// The socket tried.
        socket: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The connection broke.
    #[error("the gate service closed the connection: {0}")]
    Broken(#[from] io::Error),
    /// A local file to upload.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The gate refused.
    #[error("{0}")]
    Gate(String),
}

/// The socket of a gate given as its directory or as the socket itself.
pub fn socket_path(gate: &Path) -> PathBuf {
    if gate.is_dir() {
        gate.join(SOCKET_FILE)
    } else {
        gate.to_owned()
    }
}

/// A connection to the gate service, good for one request.
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connects to the service of the gate at `gate` (directory or socket).
    ///
    /// # Errors
    /// When no service answers there.
    pub fn connect(gate: &Path) -> Result<Client, ClientError> {
        let socket = socket_path(gate);
        let stream = UnixStream::connect(&socket).map_err(|source| ClientError::Connect {
            socket: socket.clone(),
            source,
        })?;
        Ok(Client { stream })
    }

    /// Sends a request without uploads and returns the result.
    ///
    /// # Errors
    /// Connection errors, or the gate's refusal.
    pub fn call(self, request: &Request) -> Result<serde_json::Value, ClientError> {
        Ok(self.upload(request, &[])?.body)
    }

    /// Sends a request followed by the bytes of `files` (exactly the sizes the request
    /// announces) and returns the result with the SHA-256 of the bytes sent.
    ///
    /// # Errors
    /// Connection errors, unreadable files, or the gate's refusal.
    pub fn upload(self, request: &Request, files: &[PathBuf]) -> Result<Uploaded, ClientError> {
        // A service that refuses early (a file over the limit) answers and closes before
        // reading everything: its answer says more than the broken pipe. A local failure
        // returns at once: dropping the connection makes the service discard the upload.
        let sent = match self.send(request, files) {
            Ok(sent) => Ok(sent),
            Err(ClientError::Broken(e)) => Err(e),
            Err(other) => return Err(other),
        };
        let response = read_frame::<Response>(&mut BufReader::new(&self.stream), MAX_RESPONSE);
        match (sent, response) {
            (_, Ok(response)) if !response.ok => {
                Err(ClientError::Gate(response.error.unwrap_or_default()))
            }
            (Err(e), _) | (Ok(_), Err(e)) => Err(ClientError::Broken(e)),
            (Ok(sent), Ok(response)) => Ok(Uploaded {
                body: response.body,
                sent,
            }),
        }
    }

    /// Writes the request and exactly the announced number of bytes of each file; returns
    /// the SHA-256 of each file's bytes as sent.
    fn send(&self, request: &Request, files: &[PathBuf]) -> Result<Vec<String>, ClientError> {
        let sizes: Vec<u64> = match request {
            Request::Submit { files, .. } => files.iter().map(|f| f.size).collect(),
            Request::Ingest { file, .. } => vec![file.size],
            _ => Vec::new(),
        };
        let mut writer = BufWriter::with_capacity(1 << 20, self.stream.try_clone()?);
        write_frame(&mut writer, request)?;
        let mut hashes = Vec::new();
        let mut buffer = vec![0u8; 1 << 20];
        for (path, &size) in files.iter().zip(&sizes) {
            let file_error = |source| ClientError::File {
                path: path.clone(),
                source,
            };
            let mut file = File::open(path).map_err(file_error)?;
            let mut hasher = Sha256::new();
            let mut remaining = size;
            while remaining > 0 {
                let want = buffer
                    .len()
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                let read = file.read(&mut buffer[..want]).map_err(file_error)?;
                if read == 0 {
                    return Err(file_error(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was being uploaded; nothing was stored",
                    )));
                }
                hasher.update(&buffer[..read]);
                writer.write_all(&buffer[..read])?;
                remaining -= read as u64;
            }
            hashes.push(hex::encode(hasher.finalize()));
        }
        writer.flush()?;
        Ok(hashes)
    }
}

/// What an upload returned.
#[derive(Debug)]
pub struct Uploaded {
    /// The service's result.
    pub body: serde_json::Value,
    /// SHA-256 of each file's bytes as sent, in order.
    pub sent: Vec<String>,
}

/// The header announcing a local file: its base name and current size.
///
/// # Errors
/// When the file cannot be read or is not a regular file.
pub fn header(path: &Path) -> Result<FileHeader, ClientError> {
    let error = |source| ClientError::File {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(error)?;
    if !metadata.is_file() {
        return Err(error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let name = path
        .file_name()
        .map(|n| crate::kind::display_name(n.as_encoded_bytes()))
        .unwrap_or_default();
    Ok(FileHeader {
        name,
        size: metadata.len(),
    })
}
