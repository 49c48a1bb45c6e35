//! The client side of the gate's socket: what every `deid gate` command but `init` and
//! `serve` uses.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::protocol::{FileHeader, Request, Response, SOCKET_FILE, read_frame, write_frame};

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
        self.upload(request, &[])
    }

    /// Sends a request followed by the bytes of `files` (which must match the sizes the
    /// request announces) and returns the result.
    ///
    /// # Errors
    /// Connection errors, unreadable files, or the gate's refusal.
    pub fn upload(
        self,
        request: &Request,
        files: &[PathBuf],
    ) -> Result<serde_json::Value, ClientError> {
        let mut writer = BufWriter::with_capacity(1 << 20, self.stream.try_clone()?);
        write_frame(&mut writer, request)?;
        for path in files {
            let file = File::open(path).map_err(|source| ClientError::File {
                path: path.clone(),
                source,
            })?;
            io::copy(&mut BufReader::with_capacity(1 << 20, file), &mut writer)?;
        }
        writer.flush()?;
        let response: Response = read_frame(&mut BufReader::new(&self.stream))?;
        if response.ok {
            Ok(response.body)
        } else {
            Err(ClientError::Gate(response.error.unwrap_or_default()))
        }
    }
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
