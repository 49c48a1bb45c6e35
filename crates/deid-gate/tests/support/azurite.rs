//! A real Azure Blob Storage emulator (Azurite) for tests.
//!
//! Release to Azure is tested against the real protocol rather than a mock, so signing, block
//! uploads and error mapping are exercised as in production. Azurite comes from the npm
//! registry, pinned by `tools/azurite/package.json` and its lock file; the first test that
//! needs it runs `npm ci` (under a file lock, so parallel test binaries do not race), which
//! lets `cargo test --workspace` work on a fresh machine that reaches the npm registry.
//! Without the emulator the tests panic: they never pass silently.
//!
//! Each [`Azurite`] is its own `azurite-blob` process on a free loopback port with its data in
//! a temp folder; dropping it kills the process. Include it with
//! `#[path = "<...>/tests/support/azurite.rs"] mod azurite;`. It needs `reqwest` (blocking),
//! `hmac`, `sha2`, `base64` and `tempfile` in the including crate.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The emulator's fixed account, published by Microsoft in the Azurite documentation.
pub const ACCOUNT: &str = "devstoreaccount1";
/// The emulator's fixed account key, published alongside [`ACCOUNT`]; not a secret.
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// REST API version sent by [`Azurite::create_container`].
const API_VERSION: &str = "2021-10-04";
/// How long Azurite may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Serialises installs between threads of one test binary (the file lock covers processes).
static INSTALL: Mutex<()> = Mutex::new(());

/// A running `azurite-blob`, killed on drop.
pub struct Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`: the account's blob endpoint.
    pub blob_endpoint: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Azurite {
    /// Installs Azurite if needed and starts it on a free port; panics with Azurite's output
    /// if it does not come up.
    pub fn start() -> Azurite {
        let bin = azurite_blob();
        let mut last_error = String::new();
        // A port found free can be taken before Azurite binds it: retry a few times.
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("deid-azurite-")
                .tempdir()
                .expect("cannot create a temp folder for Azurite");
            let port = free_port();
            let log = |name: &str| {
                File::create(dir.path().join(name)).expect("cannot create Azurite's log file")
            };
            let data = dir.path().join("data");
            fs::create_dir(&data).expect("cannot create Azurite's data folder");
            let mut child = Command::new(&bin)
                .arg("--blobHost")
                .arg("127.0.0.1")
                .arg("--blobPort")
                .arg(port.to_string())
                .arg("--location")
                .arg(&data)
                .args([
                    "--silent",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                ])
                .stdin(Stdio::null())
                .stdout(log("stdout.log"))
                .stderr(log("stderr.log"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            match wait_until_listening(&mut child, port) {
                Ok(()) => {
                    return Azurite {
                        blob_endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
                        child,
                        dir,
                    };
                }
                Err(reason) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!(
                        "{reason}\n--- azurite stdout ---\n{}\n--- azurite stderr ---\n{}",
                        read_log(dir.path(), "stdout.log"),
                        read_log(dir.path(), "stderr.log"),
                    );
                    if !last_error.contains("EADDRINUSE") {
                        break;
                    }
                }
            }
        }
        panic!("Azurite did not start: {last_error}");
    }

    /// The `object_store` options for `az://container/...` against this emulator.
    ///
    /// Not `azure_storage_use_emulator`: in that mode object_store takes the endpoint from the
    /// `AZURITE_BLOB_STORAGE_URL` environment variable (default port 10000) and ignores
    /// `azure_storage_endpoint`. A path-style endpoint with the account in it signs and routes
    /// requests the same way.
    pub fn options(&self) -> BTreeMap<String, String> {
        [
            ("azure_storage_account_name", ACCOUNT),
            ("azure_storage_account_key", ACCOUNT_KEY),
            ("azure_storage_endpoint", self.blob_endpoint.as_str()),
            ("allow_http", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Creates a blob container (object_store cannot): one Shared Key signed REST call.
    pub fn create_container(&self, name: &str) {
        let date = httpdate_now();
        let url = format!("{}/{name}?restype=container", self.blob_endpoint);
        // String-to-sign for Shared Key: verb, eleven standard headers (only Content-Length
        // is set, and "0" is written as empty), canonical x-ms- headers, canonical resource.
        let string_to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n\
             /{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        );
        let key = BASE64
            .decode(ACCOUNT_KEY)
            .expect("the emulator key is base64");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC accepts any key length");
        mac.update(string_to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());
        let response = reqwest::blocking::Client::new()
            .put(&url)
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("Content-Length", "0")
            .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
            .send()
            .unwrap_or_else(|e| panic!("creating container {name} on Azurite failed: {e}"));
        let status = response.status();
        if !status.is_success() {
            let body = response.text().unwrap_or_default();
            panic!("creating container {name} on Azurite failed: {status}: {body}");
        }
    }

    /// Azurite's own log output so far, for assertions' messages.
    pub fn logs(&self) -> String {
        format!(
            "{}{}",
            read_log(self.dir.path(), "stdout.log"),
            read_log(self.dir.path(), "stderr.log")
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace root: the nearest ancestor of the including crate that holds
/// `tools/azurite/package.json`.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("tools/azurite/package.json").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no tools/azurite/package.json above {}",
                manifest_dir.display()
            )
        })
        .to_path_buf()
}

/// Path to `azurite-blob`, running `npm ci` first if the pinned install is missing or stale.
fn azurite_blob() -> PathBuf {
    let tools = workspace_root().join("tools/azurite");
    let bin = tools.join("node_modules/.bin/azurite-blob");
    let marker = tools.join("node_modules/.deid-installed");
    let lock_file = tools.join("package-lock.json");
    let wanted = {
        let lock = fs::read(&lock_file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", lock_file.display()));
        hex(&Sha256::digest(lock))
    };
    let installed =
        || bin.is_file() && fs::read_to_string(&marker).ok().as_deref() == Some(&wanted);
    if installed() {
        return bin;
    }

    let _thread_guard = INSTALL.lock().unwrap_or_else(|poison| poison.into_inner());
    // The lock lives outside node_modules, which npm ci deletes and recreates.
    let guard_path = std::env::temp_dir().join("deid-azurite-npm-ci.lock");
    let guard = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&guard_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", guard_path.display()));
    guard
        .lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", guard_path.display()));
    if installed() {
        return bin;
    }
    eprintln!(
        "installing Azurite with `npm ci --prefix {}` (first run only)",
        tools.display()
    );
    let output = Command::new("npm")
        .arg("ci")
        .arg("--prefix")
        .arg(&tools)
        .args(["--no-audit", "--no-fund", "--loglevel=error"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run npm to install Azurite (is Node.js with npm installed?): {e}")
        });
    if !output.status.success() || !bin.is_file() {
        panic!(
            "`npm ci --prefix {}` failed ({}); the Azurite tests need it and network access to \
             the npm registry\n--- stdout ---\n{}\n--- stderr ---\n{}",
            tools.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
    fs::write(&marker, &wanted)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
    bin
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("cannot find a free loopback port")
}

/// Waits until `port` accepts connections, or says why it did not.
fn wait_until_listening(child: &mut Child, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("azurite-blob exited early with {status}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "azurite-blob did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}"
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn read_log(dir: &Path, name: &str) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(dir.join(name)) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The current time as an RFC 1123 HTTP date, as `x-ms-date` wants it.
fn httpdate_now() -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let (hour, minute, second) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let days = secs / 86_400;
    // 1970-01-01 was a Thursday; walk whole years, then whole months.
    let weekday = WEEKDAYS[(days % 7) as usize];
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let (mut year, mut left) = (1970u64, days);
    while left >= if leap(year) { 366 } else { 365 } {
        left -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while left >= lengths[month] {
        left -= lengths[month];
        month += 1;
    }
    format!(
        "{weekday}, {:02} {} {year} {hour:02}:{minute:02}:{second:02} GMT",
        left + 1,
        MONTHS[month]
    )
}
