//! Webhook notifications (new requests, decisions) through a durable outbox.
//!
//! Why an outbox: a notification must never block or lose a request. So the gate does
//! not call the webhook while it changes state; it writes the message to the `outbox`
//! table in the same transaction as the change ([`enqueue`]). Either both commit or
//! neither does. A background thread ([`Notifier`]) then delivers the outbox with
//! retries and exponential backoff; messages stay in the table until the webhook
//! answers 2xx, so a crash or an outage only delays them.
//!
//! Delivery is strictly in id order: while the oldest message waits for its retry, the
//! ones behind it wait too, so a receiver never sees a decision before its request.
//!
//! The webhook URL often carries a secret (an Azure Logic App signature), so it is never
//! printed, and stored errors name only a status code or an error kind — never the URL
//! or the message body.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::{fmt, io, thread};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// SQL that creates the outbox table; the gate's store runs it when it opens the database.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS outbox (\
    id INTEGER PRIMARY KEY, \
    body TEXT NOT NULL, \
    attempts INTEGER NOT NULL DEFAULT 0, \
    next_attempt_ms INTEGER NOT NULL, \
    last_error TEXT);";

/// How long the notifier waits before retrying after its own database failed.
const DB_RETRY: Duration = Duration::from_secs(1);

/// Everything that can go wrong while queueing or delivering notifications.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The database refused an outbox query.
    #[error("notification outbox: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The notifier could not open or prepare its own database connection.
    #[error("notifier: opening the database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The webhook URL is not an absolute http(s) URL (not printed: it may hold a secret).
    #[error("notifier: the webhook URL is not an absolute http:// or https:// URL")]
    BadUrl,
    /// The HTTP client could not be built.
    #[error("notifier: could not build the webhook HTTP client")]
    Client(#[source] reqwest::Error),
    /// The operating system refused to start the delivery thread.
    #[error("notifier: could not start the delivery thread: {0}")]
    Spawn(io::Error),
    /// The delivery thread ended before it reported that it was ready.
    #[error("notifier: the delivery thread stopped during start-up")]
    StartUp,
}

/// Queues `message` inside the caller's transaction; it is delivered after the commit.
pub fn enqueue(tx: &Transaction<'_>, message: &serde_json::Value) -> Result<(), NotifyError> {
    tx.execute(
        "INSERT INTO outbox (body, next_attempt_ms) VALUES (?1, ?2)",
        params![message.to_string(), now_ms()],
    )?;
    Ok(())
}

/// Messages still waiting for delivery.
pub fn pending(conn: &Connection) -> Result<u64, NotifyError> {
    let count: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))?;
    // count(*) is never negative.
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Where and how the notifier delivers.
#[derive(Clone)]
pub struct NotifierConfig {
    /// The webhook URL (e.g. an Azure Logic App HTTP trigger). Treated as a secret.
    pub url: String,
    /// Limit for one whole request.
    pub timeout: Duration,
    /// Wait before the first retry; doubles with every failed attempt.
    pub first_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How often to look for messages queued by other processes without a [`Notifier::wake`].
    pub idle_poll: Duration,
}

impl NotifierConfig {
    /// The defaults with `url` set.
    pub fn new(url: impl Into<String>) -> NotifierConfig {
        NotifierConfig {
            url: url.into(),
            ..NotifierConfig::default()
        }
    }

    /// The wait after a failed attempt, given how many attempts failed before it:
    /// `min(first_backoff * 2^attempts, max_backoff)`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts).unwrap_or(u32::MAX);
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

impl Default for NotifierConfig {
    /// No URL; 10 s timeout; backoff from 1 s up to 5 min; look for work every 30 s.
    fn default() -> NotifierConfig {
        NotifierConfig {
            url: String::new(),
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            idle_poll: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = if self.url.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        };
        f.debug_struct("NotifierConfig")
            .field("url", &url)
            .field("timeout", &self.timeout)
            .field("first_backoff", &self.first_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("idle_poll", &self.idle_poll)
            .finish()
    }
}

/// Wake-up and stop requests from the gate to the delivery thread.
#[derive(Default)]
struct Signal {
    flags: Mutex<Flags>,
    cond: Condvar,
}

#[derive(Default)]
struct Flags {
    wake: bool,
    stop: bool,
}

impl Signal {
    fn flags(&self) -> MutexGuard<'_, Flags> {
        // The flags are two booleans: a panic elsewhere cannot leave them inconsistent.
        self.flags.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, apply: impl FnOnce(&mut Flags)) {
        apply(&mut self.flags());
        self.cond.notify_all();
    }

    fn stopping(&self) -> bool {
        self.flags().stop
    }

    /// Sleeps until woken, stopped or `timeout` passes; false when told to stop.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.flags();
        let (mut flags, _) = self
            .cond
            .wait_timeout_while(guard, timeout, |f| !f.wake && !f.stop)
            .unwrap_or_else(PoisonError::into_inner);
        flags.wake = false;
        !flags.stop
    }
}

/// The background thread that delivers the outbox.
pub struct Notifier {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl Notifier {
    /// Starts delivering the outbox of the database at `db_path` (opened on its own
    /// connection in WAL mode, waiting up to 5 s for locks). Creates the outbox table if
    /// it is missing. Returns once the thread is ready.
    pub fn start(db_path: &Path, config: NotifierConfig) -> Result<Notifier, NotifyError> {
        check_url(&config.url)?;
        let signal = Arc::new(Signal::default());
        let (ready_tx, ready_rx) = sync_channel(1);
        let path = db_path.to_path_buf();
        let thread_signal = Arc::clone(&signal);
        let thread = thread::Builder::new()
            .name("deid-gate-notify".into())
            .spawn(move || match Worker::new(&path, config, thread_signal) {
                Ok(worker) => {
                    // start() waits for this message, so the receiver still exists.
                    let _ = ready_tx.send(Ok(()));
                    worker.run();
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            })
            .map_err(NotifyError::Spawn)?;
        let ready = ready_rx.recv().unwrap_or(Err(NotifyError::StartUp));
        let notifier = Notifier {
            signal,
            thread: Some(thread),
        };
        ready.map(|()| notifier)
    }

    /// Tells the thread that new messages were committed; delivery starts promptly.
    pub fn wake(&self) {
        self.signal.set(|flags| flags.wake = true);
    }

    /// Lets the current attempt finish, then ends the thread and waits for it.
    pub fn stop(self) {
        // Drop does the work, so a notifier that is merely dropped also stops cleanly.
        drop(self);
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.signal.set(|flags| flags.stop = true);
        if let Some(thread) = self.thread.take() {
            // A panic in the thread has nothing left to clean up; the outbox is intact.
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

/// Refuses URLs that are not absolute http(s), without echoing them.
fn check_url(url: &str) -> Result<(), NotifyError> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        _ => Err(NotifyError::BadUrl),
    }
}

/// What one look at the outbox led to.
enum Step {
    /// A message was delivered; look again at once.
    Sent,
    /// Nothing to do for this long.
    Wait(Duration),
}

/// The oldest message in the outbox.
struct Due {
    id: i64,
    body: String,
    attempts: i64,
    next_attempt_ms: i64,
}

/// The delivery thread's state.
struct Worker {
    conn: Connection,
    client: reqwest::blocking::Client,
    config: NotifierConfig,
    signal: Arc<Signal>,
}

impl Worker {
    /// Opens the connection and builds the client, on the delivery thread (a blocking
    /// reqwest client must not be created inside an async runtime the caller may run).
    fn new(
        path: &Path,
        config: NotifierConfig,
        signal: Arc<Signal>,
    ) -> Result<Worker, NotifyError> {
        let conn = open_db(path).map_err(|source| NotifyError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let client = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            // A webhook that redirects elsewhere is misconfigured; do not follow it.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(NotifyError::Client)?;
        Ok(Worker {
            conn,
            client,
            config,
            signal,
        })
    }

    fn run(self) {
        loop {
            let wait = self.deliver_due();
            if !self.signal.wait(wait) {
                return;
            }
        }
    }

    /// Delivers messages until none is due; returns how long to sleep.
    fn deliver_due(&self) -> Duration {
        while !self.signal.stopping() {
            match self.step() {
                Ok(Step::Sent) => {}
                Ok(Step::Wait(wait)) => return wait,
                Err(_) => return DB_RETRY.min(self.config.max_backoff),
            }
        }
        Duration::ZERO
    }

    /// Tries the oldest message if it is due.
    fn step(&self) -> rusqlite::Result<Step> {
        let Some(due) = self.oldest()? else {
            return Ok(Step::Wait(self.config.idle_poll));
        };
        let wait_ms = due.next_attempt_ms.saturating_sub(now_ms());
        // A wait longer than the longest backoff means the clock went back: try now.
        if let Ok(wait_ms) = u64::try_from(wait_ms)
            && wait_ms > 0
            && u128::from(wait_ms) <= self.config.max_backoff.as_millis()
        {
            return Ok(Step::Wait(Duration::from_millis(wait_ms)));
        }
        match self.post(&due.body) {
            Ok(()) => {
                self.conn
                    .execute("DELETE FROM outbox WHERE id = ?1", [due.id])?;
                Ok(Step::Sent)
            }
            Err(reason) => self.failed(&due, &reason),
        }
    }

    fn oldest(&self) -> rusqlite::Result<Option<Due>> {
        self.conn
            .query_row(
                "SELECT id, body, attempts, next_attempt_ms FROM outbox ORDER BY id LIMIT 1",
                [],
                |row| {
                    Ok(Due {
                        id: row.get(0)?,
                        body: row.get(1)?,
                        attempts: row.get(2)?,
                        next_attempt_ms: row.get(3)?,
                    })
                },
            )
            .optional()
    }

    /// Records a failed attempt and schedules the next one.
    fn failed(&self, due: &Due, reason: &str) -> rusqlite::Result<Step> {
        let before = u32::try_from(due.attempts).unwrap_or(u32::MAX);
        let wait = self.config.backoff(before);
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3 \
             WHERE id = ?1",
            params![due.id, reason, now_ms().saturating_add(wait_ms)],
        )?;
        Ok(Step::Wait(wait))
    }

    /// POSTs one body; on failure returns a short reason without the URL or body.
    fn post(&self, body: &str) -> Result<(), String> {
        let sent = self
            .client
            .post(&self.config.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send();
        match sent {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
            Err(err) => Err(error_kind(&err).to_owned()),
        }
    }
}

/// Names what went wrong with a request (reqwest's own message includes the URL).
fn error_kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_redirect() {
        "redirect refused"
    } else if err.is_body() || err.is_decode() {
        "response body error"
    } else if err.is_request() {
        "request failed"
    } else {
        "transport error"
    }
}

fn open_db(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc::{Receiver, Sender, channel};
    use std::time::Instant;

    /// How long a test waits for something that should happen promptly.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// A request as the test server saw it.
    #[derive(Debug)]
    struct Received {
        content_type: Option<String>,
        body: String,
    }

    /// Serves HTTP on 127.0.0.1: the n-th request (from 0) gets `status(n)`.
    fn serve(status: fn(usize) -> u16) -> (String, Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/hook?sig=secret",
            listener.local_addr().expect("addr")
        );
        let (tx, rx) = channel();
        thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                if answer(stream, status(n), &tx).is_err() {
                    return;
                }
            }
        });
        (url, rx)
    }

    fn answer(stream: TcpStream, status: u16, tx: &Sender<Received>) -> io::Result<()> {
        let mut reader = BufReader::new(stream);
        let (mut length, mut content_type) = (0usize, None);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "content-type" => content_type = Some(value.to_owned()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let _ = tx.send(Received { content_type, body });
        let reply =
            format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        reader.into_inner().write_all(reply.as_bytes())
    }

    fn db(dir: &tempfile::TempDir) -> (PathBuf, Connection) {
        let path = dir.path().join("gate.db");
        let conn = open_db(&path).expect("open db");
        (path, conn)
    }

    fn config(url: String) -> NotifierConfig {
        NotifierConfig {
            url,
            timeout: Duration::from_secs(5),
            first_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            // Long, so prompt delivery shows that wake() works.
            idle_poll: Duration::from_secs(60),
        }
    }

    fn enqueue_all(conn: &mut Connection, messages: &[serde_json::Value]) {
        let tx = conn.transaction().expect("tx");
        for message in messages {
            enqueue(&tx, message).expect("enqueue");
        }
        tx.commit().expect("commit");
    }

    /// Polls `check` until it holds or PATIENCE runs out.
    fn eventually(mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        check()
    }

    fn message(n: u64) -> serde_json::Value {
        serde_json::json!({"event": "submit", "request": n, "files": 2})
    }

    #[test]
    fn retries_until_accepted_then_deletes() {
        let (url, received) = serve(|n| if n < 2 { 500 } else { 200 });
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut conn) = db(&dir);
        let notifier = Notifier::start(&path, config(url)).expect("start");
        enqueue_all(&mut conn, &[message(1)]);
        notifier.wake();
        for _ in 0..3 {
            let got = received.recv_timeout(PATIENCE).expect("delivery attempt");
            assert_eq!(got.body, message(1).to_string());
            assert_eq!(got.content_type.as_deref(), Some("application/json"));
        }
        assert!(eventually(|| pending(&conn).expect("pending") == 0));
        notifier.stop();
        assert!(
            received.try_recv().is_err(),
            "delivered more than once after 200"
        );
    }

    #[test]
    fn unreachable_webhook_keeps_the_message() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut conn) = db(&dir);
        let notifier =
            Notifier::start(&path, config(format!("http://127.0.0.1:{port}/hook"))).expect("start");
        enqueue_all(&mut conn, &[message(7)]);
        notifier.wake();
        let attempts = |conn: &Connection| -> i64 {
            conn.query_row("SELECT attempts FROM outbox", [], |r| r.get(0))
                .expect("attempts")
        };
        assert!(eventually(|| attempts(&conn) >= 2), "no retry recorded");
        notifier.stop();
        let (body, error): (String, Option<String>) = conn
            .query_row("SELECT body, last_error FROM outbox", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("row");
        assert_eq!(pending(&conn).expect("pending"), 1);
        assert_eq!(body, message(7).to_string());
        let error = error.expect("last_error set");
        // Short, and neither the URL nor the body.
        assert!(error.len() < 40, "{error}");
        assert!(
            !error.contains("127.0.0.1") && !error.contains("submit"),
            "{error}"
        );
    }

    #[test]
    fn delivers_in_order_even_across_a_retry() {
        let (url, received) = serve(|n| if n == 0 { 503 } else { 200 });
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, mut conn) = db(&dir);
        let notifier = Notifier::start(&path, config(url)).expect("start");
        let messages: Vec<_> = (1..=5).map(message).collect();
        enqueue_all(&mut conn, &messages);
        notifier.wake();
        let mut bodies = Vec::new();
        for _ in 0..6 {
            bodies.push(received.recv_timeout(PATIENCE).expect("delivery").body);
        }
        let mut expected = vec![messages[0].to_string()];
        expected.extend(messages.iter().map(|m| m.to_string()));
        assert_eq!(bodies, expected);
        assert!(eventually(|| pending(&conn).expect("pending") == 0));
        notifier.stop();
    }

    #[test]
    fn messages_from_a_rolled_back_transaction_are_not_queued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, mut conn) = db(&dir);
        let tx = conn.transaction().expect("tx");
        enqueue(&tx, &message(1)).expect("enqueue");
        drop(tx);
        assert_eq!(pending(&conn).expect("pending"), 0);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let config = config(String::new());
        assert_eq!(config.backoff(0), Duration::from_millis(5));
        assert_eq!(config.backoff(1), Duration::from_millis(10));
        assert_eq!(config.backoff(3), Duration::from_millis(40));
        assert_eq!(config.backoff(4), Duration::from_millis(50));
        assert_eq!(config.backoff(200), Duration::from_millis(50));
    }

    #[test]
    fn bad_urls_are_refused_without_echo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _conn) = db(&dir);
        for url in ["", "not a url", "ftp://example.invalid/sig=abc"] {
            let err = Notifier::start(&path, config(url.into())).expect_err("bad url");
            assert!(matches!(err, NotifyError::BadUrl));
            assert!(!err.to_string().contains("sig=abc"));
        }
        let debug = format!("{:?}", NotifierConfig::new("https://x.invalid/?sig=abc"));
        assert!(!debug.contains("sig=abc"), "{debug}");
    }
}
