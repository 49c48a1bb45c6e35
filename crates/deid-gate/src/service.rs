//! The gate service: the one process that holds the gate's database, storage areas and
//! audit key, answering clients on a Unix socket.
//!
//! Each connection gets a thread; the caller's identity comes from the kernel
//! (`SO_PEERCRED`), never from the message. A client that disconnects mid-upload leaves
//! nothing behind: the upload's directory is removed before any request refers to it.

use std::fs;
use std::io::{self, BufReader, BufWriter};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::gate::{Gate, GateError, Upload};
use crate::identity::Actor;
use crate::protocol::{MAX_REQUEST, Request, Response, read_frame, write_frame};

/// A bound service.
pub struct Service {
    gate: Arc<Gate>,
    listener: UnixListener,
    socket: PathBuf,
}

impl Service {
    /// Binds the socket (replacing a stale one no service answers on) and makes it
    /// reachable by every local user: who may do what is the gate's decision, per caller.
    ///
    /// # Errors
    /// When a live service already listens there, or the socket cannot be created.
    pub fn bind(gate: Arc<Gate>, socket: &Path) -> io::Result<Service> {
        if socket.exists() {
            if UnixStream::connect(socket).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: a gate service is listening already", socket.display()),
                ));
            }
            fs::remove_file(socket)?;
        }
        let listener = UnixListener::bind(socket)?;
        fs::set_permissions(socket, fs::Permissions::from_mode(0o666))?;
        Ok(Service {
            gate,
            listener,
            socket: socket.to_owned(),
        })
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Answers clients until the process ends.
    pub fn run(self) {
        let open = Arc::new(AtomicUsize::new(0));
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::SeqCst);
                let busy = Response {
                    ok: false,
                    error: Some("the gate is busy: too many open connections; try again".into()),
                    body: serde_json::Value::Null,
                };
                let _ = write_frame(&mut BufWriter::new(stream), &busy);
                continue;
            }
            let gate = Arc::clone(&self.gate);
            let open = Arc::clone(&open);
            std::thread::spawn(move || {
                if let Err(e) = handle(&gate, stream) {
                    // The client went away or sent garbage; nothing was recorded.
                    eprintln!("deid gate: connection dropped: {e}");
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

/// Connections served at once; more are answered "busy".
const MAX_CONNECTIONS: usize = 64;
/// How long the service waits for a client's next bytes before it drops an upload.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

fn handle(gate: &Gate, stream: UnixStream) -> io::Result<()> {
    let actor = Actor::of_peer(&stream)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    let request: Request = match read_frame(&mut reader, MAX_REQUEST) {
        Ok(request) => request,
        // A probe that connects and closes (a health check) is no error.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
        Err(e) => return Err(e),
    };
    let response = match answer(gate, &actor, request, &mut reader) {
        Ok(body) => Response {
            ok: true,
            error: None,
            body,
        },
        Err(e) => Response {
            ok: false,
            error: Some(e.to_string()),
            body: serde_json::Value::Null,
        },
    };
    write_frame(&mut writer, &response)
}

fn to_json(value: impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn answer(
    gate: &Gate,
    actor: &Actor,
    request: Request,
    input: &mut BufReader<UnixStream>,
) -> Result<serde_json::Value, GateError> {
    Ok(match request {
        Request::Whoami => to_json(actor),
        Request::Ingest { dataset, file } => {
            let upload = Upload {
                name: file.name,
                size: file.size,
                reader: input,
            };
            to_json(gate.ingest(actor, &dataset, upload)?)
        }
        Request::IngestObject { dataset, url } => {
            to_json(gate.ingest_object(actor, &dataset, &url)?)
        }
        Request::Submit { reason, files } => {
            let mut uploads = Vec::new();
            // Every upload reads from the same stream, in order.
            let shared = std::cell::RefCell::new(input);
            let mut readers: Vec<SharedReader<'_, '_>> =
                files.iter().map(|_| SharedReader(&shared)).collect();
            for (header, reader) in files.into_iter().zip(readers.iter_mut()) {
                uploads.push(Upload {
                    name: header.name,
                    size: header.size,
                    reader,
                });
            }
            let bytes = files_size(&uploads);
            let started = Instant::now();
            let id = gate.submit(actor, &reason, uploads)?;
            eprintln!(
                "deid gate: request {id}: {bytes} bytes from {} stored and hashed in {:.1} s",
                actor.name,
                started.elapsed().as_secs_f64()
            );
            let started = Instant::now();
            // The client waits for the scan; if it fails here, the next start scans again.
            match gate.scan(id) {
                Ok(summary) => {
                    eprintln!(
                        "deid gate: request {id}: scanned in {:.1} s: {}",
                        started.elapsed().as_secs_f64(),
                        summary.outcome.map_or("-", |o| o.as_str())
                    );
                    to_json(summary)
                }
                Err(e) => {
                    eprintln!(
                        "deid gate: request {id}: scan failed, retried at the next start: {e}"
                    );
                    to_json(gate.summary(id)?)
                }
            }
        }
        Request::List => to_json(gate.list(actor)?),
        Request::Show { id } => to_json(gate.show(actor, id)?),
        Request::Review { id, decision } => to_json(gate.review(actor, id, &decision)?),
        Request::Release { id } => {
            let started = Instant::now();
            let locations = gate.release(actor, id)?;
            eprintln!(
                "deid gate: request {id}: {} file(s) released to {} in {:.1} s",
                locations.len(),
                gate.destination(),
                started.elapsed().as_secs_f64()
            );
            to_json(locations)
        }
        Request::Role { user, role, grant } => to_json(gate.set_role(actor, &user, role, grant)?),
        Request::AuditVerify => {
            let report = gate.audit_verify(actor)?;
            serde_json::json!({
                "records": report.records,
                "ok": report.is_ok(),
                "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        }
        Request::AuditExport => {
            let mut out = Vec::new();
            gate.audit_export(actor, &mut out)?;
            serde_json::Value::String(String::from_utf8_lossy(&out).into_owned())
        }
        Request::Datasets => to_json(gate.datasets(actor)?),
    })
}

fn files_size(uploads: &[Upload<'_>]) -> u64 {
    uploads
        .iter()
        .fold(0, |total, u| total.saturating_add(u.size))
}

/// A reader over the connection shared by the uploads of one request, which the gate
/// reads one after another.
struct SharedReader<'a, 'b>(&'a std::cell::RefCell<&'b mut BufReader<UnixStream>>);

impl io::Read for SharedReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}
