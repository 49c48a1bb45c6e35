//! End-to-end tests of the export gate: the real `deid gate serve` process, real clients
//! run as different operating-system users, the real SQLite database and audit log.
//!
//! The users (`deid-t-alice`, `deid-t-bob`, `deid-t-carol`) are created here with
//! `useradd`; that needs root, which CI has. Without root these tests say so and pass
//! nothing off as checked: each prints that it was skipped.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use deid_gate::Config;
use serde_json::Value;

#[path = "../crates/deid-gate/tests/support/azurite.rs"]
mod azurite;

const BIN: &str = env!("CARGO_BIN_EXE_deid");

/// A note with identifiers the bundled pack finds with certainty.
const FLAGGED_NOTE: &str = "Patient seen 2016-04-23. SSN 536-90-4399, phone (617) 555-0142.\n";
/// A table of aggregates: nothing to find.
const CLEAN_TABLE: &str = "group,count,mean_age_band\nA,120,40-49\nB,87,50-59\n";

/// A test user.
#[derive(Clone, Debug)]
struct User {
    name: String,
    uid: u32,
    gid: u32,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The binary, copied where the test users can run it: the build's target directory may sit
/// below a directory only its owner can enter (a clone in a `mktemp -d` directory does).
/// One folder holds the copy of the newest build; copies of older builds are removed.
fn client_bin() -> &'static Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        let built = fs::metadata(BIN).unwrap();
        let stamp = built
            .modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join("deid-gate-tests");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let name = format!("deid-{}-{stamp}", built.len());
        let copy = dir.join(&name);
        if !copy.exists() {
            let partial = dir.join(format!(".{name}.{}", std::process::id()));
            fs::copy(BIN, &partial).unwrap();
            fs::set_permissions(&partial, fs::Permissions::from_mode(0o755)).unwrap();
            fs::rename(&partial, &copy).unwrap();
        }
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_name() != name.as_str() {
                let _ = fs::remove_file(entry.path());
            }
        }
        copy
    })
}

/// The test users, created once per test binary.
fn users() -> Option<[User; 3]> {
    static CREATE: Once = Once::new();
    if !is_root() {
        // CI runs as root: there, a skip would pass off unchecked behaviour as checked.
        assert!(
            std::env::var_os("CI").is_none(),
            "the gate's tests need root in CI (to create test users)"
        );
        eprintln!("skipped: creating test users needs root");
        return None;
    }
    let names = ["deid-t-alice", "deid-t-bob", "deid-t-carol"];
    CREATE.call_once(|| {
        for name in names {
            if nix::unistd::User::from_name(name).ok().flatten().is_none() {
                let status = Command::new("useradd")
                    .args([
                        "--system",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                        name,
                    ])
                    .status()
                    .expect("useradd runs");
                assert!(status.success(), "useradd {name} failed");
            }
        }
    });
    Some(names.map(|name| {
        let user = nix::unistd::User::from_name(name).unwrap().unwrap();
        User {
            name: name.to_owned(),
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        }
    }))
}

fn root_user() -> User {
    User {
        name: nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map_or_else(|| "root".to_owned(), |u| u.name),
        uid: 0,
        gid: 0,
    }
}

/// A gate in a temporary directory, its service, and a release folder.
struct Harness {
    root: tempfile::TempDir,
    gate: PathBuf,
    release: PathBuf,
    service: Option<Child>,
}

impl Harness {
    /// Creates a gate (root is its admin) and lets `configure` change its configuration.
    fn new(approvals: u32, configure: impl FnOnce(&mut Config)) -> Harness {
        Harness::releasing_to(None, approvals, configure)
    }

    /// Creates a gate that releases to `destination` (a folder of its own when `None`).
    fn releasing_to(
        destination: Option<(&str, &BTreeMap<String, String>)>,
        approvals: u32,
        configure: impl FnOnce(&mut Config),
    ) -> Harness {
        let root = tempfile::tempdir().unwrap();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let gate = root.path().join("gate");
        let release = root.path().join("released");
        fs::create_dir(&release).unwrap();
        let mut init = Command::new(BIN);
        init.args(["gate", "init"]).arg(&gate);
        match destination {
            None => init.arg("--release-to").arg(&release),
            Some((url, options)) => {
                init.args(["--release-to", url]);
                for (key, value) in options {
                    init.arg("--release-option").arg(format!("{key}={value}"));
                }
                &mut init
            }
        };
        let out = init
            .args(["--approvals", &approvals.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config_path = gate.join("gate.toml");
        let mut config = Config::load(&config_path).unwrap();
        configure(&mut config);
        fs::write(&config_path, config.to_toml()).unwrap();
        let files = root.path().join("files");
        fs::create_dir(&files).unwrap();
        fs::set_permissions(&files, fs::Permissions::from_mode(0o777)).unwrap();
        Harness {
            root,
            gate,
            release,
            service: None,
        }
    }

    /// Starts the service; with a failpoint it kills itself there.
    fn start(&mut self, failpoint: Option<&str>) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join("service.log"))
            .unwrap();
        let mut command = Command::new(BIN);
        command
            .args(["gate", "serve", "--gate"])
            .arg(&self.gate)
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(point) = failpoint {
            command.env("DEID_GATE_FAILPOINT", point);
        }
        self.service = Some(command.spawn().unwrap());
        let socket = self.gate.join("gate.sock");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "the service did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.root.path().join("service.log")).unwrap_or_default()
    }

    /// Waits for the service to die (at its failpoint); false if it still runs.
    fn died(&mut self) -> bool {
        let Some(child) = self.service.as_mut() else {
            return true;
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                self.service = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.service.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Writes a file that every test user can read.
    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.root.path().join("files").join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    /// Runs `deid gate ARGS` as `user`.
    fn run(&self, user: &User, args: &[&str]) -> Output {
        let mut command = Command::new(client_bin());
        command
            .arg("gate")
            .args(args)
            .env("DEID_GATE", &self.gate)
            .current_dir(self.root.path())
            .uid(user.uid)
            .gid(user.gid);
        command.output().unwrap()
    }

    /// The ingested datasets, as `deid gate datasets --format json` lists them to root.
    fn datasets(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&root_user(), &["datasets", "--format", "json"])).unwrap()
    }

    /// Where the gate keeps a dataset's verified copy.
    fn stored_copy(&self, dataset: &Value) -> PathBuf {
        self.gate
            .join("import")
            .join(dataset["sha256"].as_str().unwrap())
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, user: &User, args: &[&str]) -> String {
        let out = self.run(user, args);
        assert!(
            out.status.success(),
            "`deid gate {}` as {} failed: {}\nservice log:\n{}",
            args.join(" "),
            user.name,
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail and returns its stderr.
    fn refused(&self, user: &User, args: &[&str]) -> String {
        let out = self.run(user, args);
        assert!(
            !out.status.success(),
            "`deid gate {}` as {} should have failed",
            args.join(" "),
            user.name
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// Submits files as `user` and returns the request's summary.
    fn submit(&self, user: &User, files: &[&Path], reason: &str) -> Value {
        let mut args = vec!["submit", "--format", "json", "--reason", reason];
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        args.extend(names.iter().map(String::as_str));
        serde_json::from_str(&self.ok(user, &args)).unwrap()
    }

    fn show(&self, user: &User, id: i64) -> Value {
        serde_json::from_str(&self.ok(user, &["show", &id.to_string(), "--format", "json"]))
            .unwrap()
    }

    fn list(&self, user: &User) -> Vec<Value> {
        serde_json::from_str(&self.ok(user, &["list", "--format", "json"])).unwrap()
    }

    fn grant(&self, user: &User, role: &str) {
        self.ok(&root_user(), &["role", "add", &user.name, role]);
    }

    /// Files released, by request directory name.
    fn released(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let Ok(entries) = fs::read_dir(&self.release) else {
            return out;
        };
        for entry in entries.flatten() {
            let mut names: Vec<String> = fs::read_dir(entry.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            out.insert(entry.file_name().to_string_lossy().into_owned(), names);
        }
        out
    }

    fn verify_audit(&self) {
        let out = self.ok(&root_user(), &["audit", "verify"]);
        assert!(out.contains("verified"), "{out}");
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sha256(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Value::String(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)))
}

fn id_of(summary: &Value) -> i64 {
    summary["id"].as_i64().expect("a request id")
}

/// An HTTP listener that records the JSON bodies POSTed to it.
fn webhook_listener() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(value) = serde_json::from_slice(&body)
            {
                sink.lock().unwrap().push(value);
            }
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, received)
}

mod identity {
    use super::*;

    #[test]
    fn the_service_sees_each_os_user_and_shows_requests_to_their_owners() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        assert_eq!(gate.ok(&alice, &["whoami"]).trim(), alice.name);
        assert_eq!(gate.ok(&bob, &["whoami"]).trim(), bob.name);
        let table = gate.file("aggregates.csv", CLEAN_TABLE.as_bytes());
        let request = gate.submit(&alice, &[&table], "Table 1");
        assert_eq!(request["submitter"], alice.name);
        // Bob is no reviewer: he sees neither the request nor its details.
        assert!(gate.list(&bob).is_empty());
        let refused = gate.refused(&bob, &["show", &id_of(&request).to_string()]);
        assert!(refused.contains("another user's"), "{refused}");
        gate.grant(&bob, "--reviewer");
        assert_eq!(gate.list(&bob).len(), 1);
    }
}

mod end_to_end {
    use super::*;

    #[test]
    fn flagged_is_denied_and_clean_is_approved_released_and_notified() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let (url, received) = webhook_listener();
        let mut gate = Harness::new(1, |config| {
            config.webhook = Some(deid_gate::config::Webhook {
                url: url.clone(),
                include_names: false,
            });
        });
        gate.start(None);
        gate.grant(&bob, "--reviewer");

        let note = gate.file("note.txt", FLAGGED_NOTE.as_bytes());
        let flagged = gate.submit(&alice, &[&note], "a note for the appendix");
        assert_eq!(flagged["state"], "scanned");
        assert_eq!(flagged["outcome"], "flagged");
        assert!(flagged["counts"]["SSN"].as_u64() >= Some(1), "{flagged}");
        let id = id_of(&flagged).to_string();
        // Reviewers see masked excerpts, never values.
        let detail = gate.ok(&bob, &["show", &id]);
        assert!(detail.contains("###-##-####"), "{detail}");
        let json = gate.ok(&bob, &["show", &id, "--format", "json"]);
        for secret in ["536-90-4399", "2016-04-23", "555-0142"] {
            assert!(
                !detail.contains(secret) && !json.contains(secret),
                "`{secret}` shown"
            );
        }
        let refused = gate.refused(&bob, &["review", &id, "--approve", "--reason", "fine"]);
        assert!(refused.contains("--override"), "{refused}");
        gate.ok(&bob, &["review", &id, "--deny", "--reason", "holds an SSN"]);
        let refused = gate.refused(&alice, &["release", &id]);
        assert!(refused.contains("denied"), "{refused}");

        let table = gate.file("aggregates.csv", CLEAN_TABLE.as_bytes());
        let clean = gate.submit(&alice, &[&table], "Table 1 of the paper");
        assert_eq!(clean["outcome"], "clean");
        let id = id_of(&clean).to_string();
        gate.ok(
            &bob,
            &["review", &id, "--approve", "--reason", "aggregates only"],
        );
        let out = gate.ok(&alice, &["release", &id]);
        assert!(out.contains("aggregates.csv"), "{out}");
        let released = gate.released();
        assert_eq!(
            released.len(),
            1,
            "only the approved request leaves: {released:?}"
        );
        let copy = gate.release.join(format!("request-{id}/aggregates.csv"));
        assert_eq!(fs::read_to_string(copy).unwrap(), CLEAN_TABLE);
        assert_eq!(gate.show(&alice, id_of(&clean))["state"], "released");
        gate.verify_audit();

        // Webhook: ids, states and counts only.
        let deadline = Instant::now() + Duration::from_secs(20);
        while received.lock().unwrap().len() < 7 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let messages = received.lock().unwrap().clone();
        let events: Vec<String> = messages
            .iter()
            .map(|m| {
                format!(
                    "{} {} {}",
                    m["event"].as_str().unwrap(),
                    m["request"],
                    m["state"].as_str().unwrap()
                )
            })
            .collect();
        let flagged_id = id_of(&flagged);
        let clean_id = id_of(&clean);
        for expected in [
            format!("request.submitted {flagged_id} submitted"),
            format!("request.scanned {flagged_id} scanned"),
            format!("request.reviewed {flagged_id} denied"),
            format!("request.submitted {clean_id} submitted"),
            format!("request.scanned {clean_id} scanned"),
            format!("request.reviewed {clean_id} approved"),
            format!("request.released {clean_id} released"),
        ] {
            assert!(
                events.contains(&expected),
                "missing `{expected}` in {events:?}"
            );
        }
        let text = serde_json::to_string(&messages).unwrap();
        for secret in ["536-90-4399", "note.txt", "aggregates.csv"] {
            assert!(!text.contains(secret), "a notification carries `{secret}`");
        }
        assert_eq!(messages[1]["counts"]["SSN"], flagged["counts"]["SSN"]);
    }
}

mod azure {
    use super::*;
    use deid_gate::destination::Destination;

    #[test]
    fn an_approved_request_is_released_to_azure_blob_storage() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let emulator = azurite::Azurite::start();
        emulator.create_container("exports");
        let options = emulator.options();
        let url = "az://exports/approved";
        let mut gate = Harness::releasing_to(Some((url, &options)), 1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let table = gate.file("aggregates.csv", CLEAN_TABLE.as_bytes());
        let note = gate.file("note.txt", FLAGGED_NOTE.as_bytes());
        let denied = id_of(&gate.submit(&alice, &[&note], "note")).to_string();
        gate.ok(&bob, &["review", &denied, "--deny", "--reason", "ssn"]);
        let id = id_of(&gate.submit(&alice, &[&table], "Table 1")).to_string();
        gate.ok(
            &bob,
            &["review", &id, "--approve", "--reason", "aggregates"],
        );
        let out = gate.ok(&alice, &["release", &id]);
        assert!(out.contains("az://exports/approved/request-"), "{out}");
        let store = Destination::parse(url, &options).unwrap();
        let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(CLEAN_TABLE));
        let key = format!("request-{id}/aggregates.csv");
        assert_eq!(store.sha256(&key).unwrap(), Some(expected));
        let never = format!("request-{denied}/note.txt");
        assert_eq!(
            store.sha256(&never).unwrap(),
            None,
            "a denied file reached the store"
        );
        gate.verify_audit();
    }
}

mod ingest_from_azure {
    use super::*;
    use deid_gate::destination::Destination;

    #[test]
    fn an_object_is_copied_verified_and_then_deleted_from_an_allowed_source_only() {
        let Some([alice, _, _]) = users() else { return };
        let emulator = azurite::Azurite::start();
        emulator.create_container("uploads");
        emulator.create_container("other");
        let options = emulator.options();
        let mut gate = Harness::new(1, |config| {
            config.storage.ingest_sources = vec!["az://uploads/".to_owned()];
            config.storage.ingest_options = options.clone();
        });
        gate.start(None);
        let upload = gate.file("cohort.csv", CLEAN_TABLE.as_bytes());
        let uploads = Destination::parse("az://uploads", &options).unwrap();
        uploads.put("owner/cohort.csv", &upload).unwrap();
        let other = Destination::parse("az://other", &options).unwrap();
        other.put("cohort.csv", &upload).unwrap();

        let refused = gate.refused(
            &alice,
            &["ingest", "--dataset", "c", "az://other/cohort.csv"],
        );
        assert!(refused.contains("not under an ingest source"), "{refused}");
        assert!(
            other.sha256("cohort.csv").unwrap().is_some(),
            "a refused object was touched"
        );

        gate.ok(
            &alice,
            &[
                "ingest",
                "--dataset",
                "cohort",
                "az://uploads/owner/cohort.csv",
            ],
        );
        assert_eq!(
            uploads.sha256("owner/cohort.csv").unwrap(),
            None,
            "the object stays"
        );
        let datasets = gate.datasets();
        assert_eq!(datasets.len(), 1);
        assert_eq!(datasets[0]["owner"], alice.name);
        let copy = gate.stored_copy(&datasets[0]);
        assert_eq!(fs::read_to_string(copy).unwrap(), CLEAN_TABLE);
        let missing = gate.refused(
            &alice,
            &[
                "ingest",
                "--dataset",
                "cohort",
                "az://uploads/owner/cohort.csv",
            ],
        );
        assert!(missing.contains("no object"), "{missing}");
        gate.verify_audit();
    }
}

mod duties {
    use super::*;

    #[test]
    fn submitters_admins_and_repeat_reviewers_cannot_make_up_the_two_person_rule() {
        let Some([alice, bob, carol]) = users() else {
            return;
        };
        let mut gate = Harness::new(2, |_| {});
        gate.start(None);
        let root = root_user();
        gate.grant(&alice, "--reviewer");
        gate.grant(&bob, "--reviewer");
        gate.grant(&carol, "--reviewer");
        let table = gate.file("aggregates.csv", CLEAN_TABLE.as_bytes());
        let id = id_of(&gate.submit(&alice, &[&table], "Table 2")).to_string();

        let own = gate.refused(&alice, &["review", &id, "--approve", "--reason", "mine"]);
        assert!(own.contains("cannot review their own"), "{own}");
        let admin = gate.refused(&root, &["review", &id, "--approve", "--reason", "admin"]);
        assert!(admin.contains("not a reviewer"), "{admin}");
        gate.ok(&bob, &["review", &id, "--approve", "--reason", "ok"]);
        assert_eq!(gate.show(&bob, id.parse().unwrap())["state"], "scanned");
        let twice = gate.refused(&bob, &["review", &id, "--approve", "--reason", "again"]);
        assert!(twice.contains("another reviewer"), "{twice}");
        let early = gate.refused(&alice, &["release", &id]);
        assert!(early.contains("only approved requests"), "{early}");
        gate.ok(&carol, &["review", &id, "--approve", "--reason", "ok too"]);
        assert_eq!(gate.show(&bob, id.parse().unwrap())["state"], "approved");
        let late = gate.refused(
            &carol,
            &["review", &id, "--deny", "--reason", "changed mind"],
        );
        assert!(late.contains("decided already"), "{late}");
        gate.ok(&alice, &["release", &id]);
        let again = gate.refused(&alice, &["release", &id]);
        assert!(again.contains("released already"), "{again}");

        // Roles are the admin's alone, and the last admin stays.
        let not_admin = gate.refused(&bob, &["role", "add", &bob.name, "--admin"]);
        assert!(not_admin.contains("not an admin"), "{not_admin}");
        let last = gate.refused(&root, &["role", "remove", &root.name, "--admin"]);
        assert!(last.contains("last admin"), "{last}");
        gate.verify_audit();
    }

    #[test]
    fn unscannable_files_need_an_acknowledgement_and_pickles_an_override() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let png = gate.file("figure.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        let id = id_of(&gate.submit(&alice, &[&png], "Figure 3")).to_string();
        assert_eq!(
            gate.show(&bob, id.parse().unwrap())["outcome"],
            "unscannable"
        );
        let refused = gate.refused(&bob, &["review", &id, "--approve", "--reason", "looked"]);
        assert!(refused.contains("--acknowledge-unscannable"), "{refused}");
        gate.ok(
            &bob,
            &[
                "review",
                &id,
                "--approve",
                "--acknowledge-unscannable",
                "--reason",
                "looked at it",
            ],
        );

        // A flag elsewhere in the request does not hide an unscannable file.
        let note = gate.file("note.txt", FLAGGED_NOTE.as_bytes());
        let mixed = id_of(&gate.submit(&alice, &[&note, &png], "mixed")).to_string();
        let refused = gate.refused(
            &bob,
            &["review", &mixed, "--approve", "--override", "--reason", "x"],
        );
        assert!(refused.contains("--acknowledge-unscannable"), "{refused}");
        gate.ok(
            &bob,
            &[
                "review",
                &mixed,
                "--approve",
                "--override",
                "--acknowledge-unscannable",
                "--reason",
                "read both",
            ],
        );

        let pickle = gate.file("model.pkl", b"\x80\x04\x95\x10\0\0\0\0\0\0\0}\x94.");
        let summary = gate.submit(&alice, &[&pickle], "weights");
        assert_eq!(summary["outcome"], "flagged");
        let detail = gate.ok(&bob, &["show", &id_of(&summary).to_string()]);
        assert!(detail.contains("pickle"), "{detail}");
    }
}

mod bad_input {
    use super::*;

    #[test]
    fn oversized_denied_and_strangely_named_files_are_handled() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |config| config.files.max_file_bytes = 1000);
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let big = gate.file("big.txt", &vec![b'a'; 8 << 20]);
        let refused = gate.refused(&alice, &["submit", "--reason", "x", big.to_str().unwrap()]);
        assert!(refused.contains("over the limit"), "{refused}");
        let exe = gate.file("tool.exe", b"MZ");
        let refused = gate.refused(&alice, &["submit", "--reason", "x", exe.to_str().unwrap()]);
        assert!(refused.contains("may not be exported"), "{refused}");
        let strange = gate.file("a\u{1b}[31mred\tname.txt", b"plain words\n");
        let summary = gate.submit(&alice, &[&strange], "odd name");
        let detail = gate.show(&bob, id_of(&summary));
        let name = detail["file_list"][0]["name"].as_str().unwrap();
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(
            gate.list(&alice).len() == 1,
            "refused submissions leave no request"
        );
    }

    #[test]
    fn archives_are_unpacked_and_unsafe_ones_flagged() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let zip = gate.file(
            "bundle.zip",
            &zip_of(&[("notes/a.txt", FLAGGED_NOTE), ("t.csv", CLEAN_TABLE)]),
        );
        let summary = gate.submit(&alice, &[&zip], "bundle");
        assert_eq!(summary["outcome"], "flagged");
        assert!(summary["counts"]["SSN"].as_u64() >= Some(1), "{summary}");
        let detail = gate.ok(&bob, &["show", &id_of(&summary).to_string()]);
        assert!(detail.contains("bundle.zip!/notes/a.txt"), "{detail}");
        let evil = gate.file("evil.zip", &zip_of(&[("../../escape.txt", "hello\n")]));
        let summary = gate.submit(&alice, &[&evil], "evil");
        assert_eq!(summary["outcome"], "flagged");
        for dir in [
            gate.root.path(),
            gate.gate.as_path(),
            &gate.gate.join("work"),
        ] {
            assert!(
                !dir.join("escape.txt").exists(),
                "escaped into {}",
                dir.display()
            );
        }
        let id = id_of(&summary).to_string();
        let detail = gate.ok(&bob, &["show", &id]);
        assert!(detail.contains("refused"), "{detail}");
        // An archive that was not scanned cannot be approved on an override alone.
        let refused = gate.refused(
            &bob,
            &["review", &id, "--approve", "--override", "--reason", "x"],
        );
        assert!(refused.contains("--acknowledge-unscannable"), "{refused}");
    }

    fn zip_of(members: &[(&str, &str)]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for (name, text) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }
}

mod crash {
    use super::*;

    /// A step the test takes while the service runs with a failpoint.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Ingest,
        Submit,
        Deny,
        Approve,
        Release,
        Role,
    }

    /// Every kill point, with the step that reaches it.
    const POINTS: &[(&str, Step)] = &[
        ("ingest.after-copy", Step::Ingest),
        ("ingest.before-commit", Step::Ingest),
        ("ingest.after-commit", Step::Ingest),
        ("submit.before-commit", Step::Submit),
        ("audit.before-head", Step::Submit),
        ("submit.after-commit", Step::Submit),
        ("scan.after-file", Step::Submit),
        ("scan.before-commit", Step::Submit),
        ("scan.after-commit", Step::Submit),
        ("review.before-quarantine", Step::Deny),
        ("review.before-release", Step::Approve),
        ("release.after-put", Step::Release),
        ("release.before-commit", Step::Release),
        ("release.after-commit", Step::Release),
        ("role.before-install", Step::Role),
    ];

    #[test]
    fn a_kill_at_any_point_leaves_the_gate_consistent() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        for &(point, step) in POINTS {
            let release_on_approval = matches!(step, Step::Approve);
            let mut gate = Harness::new(1, |config| {
                config.gate.release_on_approval = release_on_approval;
            });
            gate.start(None);
            gate.grant(&bob, "--reviewer");
            let data = gate.root.path().join("owner");
            fs::create_dir(&data).unwrap();
            chown(&data, Some(alice.uid), Some(alice.gid)).unwrap();
            let original = data.join("cohort.csv");
            fs::write(&original, CLEAN_TABLE).unwrap();
            chown(&original, Some(alice.uid), Some(alice.gid)).unwrap();
            let note = gate.file("note.txt", FLAGGED_NOTE.as_bytes());
            let table = gate.file("t1.csv", CLEAN_TABLE.as_bytes());
            let t2 = gate.file("t2.csv", CLEAN_TABLE.replace('A', "C").as_bytes());

            // Bring a request to where the step starts, then restart with the failpoint.
            let id = match step {
                Step::Ingest | Step::Submit | Step::Role => None,
                Step::Deny => Some(id_of(&gate.submit(&alice, &[&note], "n"))),
                Step::Approve | Step::Release => {
                    Some(id_of(&gate.submit(&alice, &[&table, &t2], "t")))
                }
            };
            if matches!(step, Step::Release) {
                gate.ok(
                    &bob,
                    &[
                        "review",
                        &id.unwrap().to_string(),
                        "--approve",
                        "--reason",
                        "ok",
                    ],
                );
            }
            gate.stop();
            gate.start(Some(point));
            let id_text = id.map(|i| i.to_string()).unwrap_or_default();
            let out = match step {
                Step::Ingest => gate.run(
                    &alice,
                    &["ingest", "--dataset", "cohort", original.to_str().unwrap()],
                ),
                Step::Submit => gate.run(
                    &alice,
                    &[
                        "submit",
                        "--reason",
                        "t",
                        table.to_str().unwrap(),
                        t2.to_str().unwrap(),
                    ],
                ),
                Step::Deny => gate.run(&bob, &["review", &id_text, "--deny", "--reason", "ssn"]),
                Step::Approve => {
                    gate.run(&bob, &["review", &id_text, "--approve", "--reason", "ok"])
                }
                Step::Release => gate.run(&alice, &["release", &id_text]),
                Step::Role => gate.run(&root_user(), &["role", "add", &alice.name, "--admin"]),
            };
            assert!(
                gate.died(),
                "{point}: the service did not reach its failpoint ({})",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !out.status.success()
                    || point.ends_with("after-commit")
                    || point == "audit.before-head",
                "{point}: the client reported success from a dead service"
            );

            gate.start(None);
            // Give resumed scans and releases a moment.
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline
                && gate.list(&bob).iter().any(|r| {
                    r["state"] == "submitted"
                        || (release_on_approval || matches!(step, Step::Release))
                            && r["state"] == "approved"
                })
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            check_invariants(&gate, &bob, point);
            if matches!(step, Step::Ingest) {
                // The client never heard back, so it kept the original; a committed copy is
                // verified and read-only.
                assert!(original.exists(), "{point}: the original is gone");
                let datasets = gate.datasets();
                for dataset in &datasets {
                    let copy = gate.stored_copy(dataset);
                    assert_eq!(fs::read_to_string(&copy).unwrap(), CLEAN_TABLE, "{point}");
                    assert_eq!(
                        fs::metadata(&copy).unwrap().permissions().mode() & 0o222,
                        0,
                        "{point}: writable copy"
                    );
                }
                let stored = fs::read_dir(gate.gate.join("import")).unwrap().count();
                assert_eq!(
                    stored,
                    datasets.len(),
                    "{point}: an unrecorded copy was left"
                );
            }
            if matches!(step, Step::Role) {
                // Audited but not applied: the grant is in the log, not in force; doing it
                // again applies it.
                let export = gate.ok(&root_user(), &["audit", "export"]);
                assert!(export.contains(&format!("{} admin", alice.name)), "{point}");
                let refused = gate.refused(&alice, &["role", "add", &bob.name, "--admin"]);
                assert!(refused.contains("not an admin"), "{point}: {refused}");
                gate.ok(&root_user(), &["role", "add", &alice.name, "--admin"]);
                gate.ok(&alice, &["role", "remove", &alice.name, "--admin"]);
            }
            gate.stop();
        }
    }

    /// Nothing left without approval, no approved file lost, no upload half-kept, and the
    /// audit log verifies.
    fn check_invariants(gate: &Harness, reviewer: &User, point: &str) {
        gate.verify_audit();
        let requests = gate.list(reviewer);
        let released = gate.released();
        for request in &requests {
            let id = id_of(request);
            let state = request["state"].as_str().unwrap();
            let key = format!("request-{id}");
            if !matches!(state, "approved" | "released") {
                assert!(
                    !released.contains_key(&key),
                    "{point}: request {id} is {state} but was released"
                );
            }
            let detail = gate.show(reviewer, id);
            let files = detail["file_list"].as_array().unwrap();
            if state == "released" {
                let names: Vec<String> = files
                    .iter()
                    .map(|f| f["name"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(
                    released.get(&key),
                    Some(&names),
                    "{point}: request {id} released incompletely"
                );
                for file in files {
                    let copy = gate.release.join(&key).join(file["name"].as_str().unwrap());
                    assert_eq!(
                        sha256(&copy),
                        file["sha256"],
                        "{point}: released bytes differ"
                    );
                }
            }
            if matches!(state, "approved" | "released") {
                let db = rusqlite::Connection::open(gate.gate.join("gate.db")).unwrap();
                let dir: String = db
                    .query_row("SELECT dir FROM requests WHERE id = ?1", [id], |r| r.get(0))
                    .unwrap();
                for file in files {
                    let stored: String = db
                        .query_row(
                            "SELECT stored FROM files WHERE request = ?1 AND idx = ?2",
                            [id, file["index"].as_i64().unwrap()],
                            |r| r.get(0),
                        )
                        .unwrap();
                    let queued = gate.gate.join("queue").join(&dir).join(stored);
                    assert_eq!(
                        sha256(&queued),
                        file["sha256"],
                        "{point}: an approved file was lost"
                    );
                }
            }
            assert_ne!(
                state, "submitted",
                "{point}: request {id} was never scanned after the restart"
            );
        }
        // Every request directory in the queue belongs to a request.
        let queued = fs::read_dir(gate.gate.join("queue")).unwrap().count();
        let kept = requests.iter().filter(|r| r["state"] != "denied").count();
        assert_eq!(
            queued, kept,
            "{point}: queue directories {queued} vs live requests {kept}"
        );
        let quarantined = fs::read_dir(gate.gate.join("quarantine")).unwrap().count();
        let denied = requests.iter().filter(|r| r["state"] == "denied").count();
        assert_eq!(
            quarantined, denied,
            "{point}: quarantine {quarantined} vs denied {denied}"
        );
    }
}

mod concurrency {
    use super::*;

    #[test]
    fn racing_reviews_and_releases_leave_one_outcome() {
        let Some([alice, bob, carol]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        gate.grant(&carol, "--reviewer");
        let gate = Arc::new(gate);
        for round in 0..4 {
            let table = gate.file(&format!("r{round}.csv"), CLEAN_TABLE.as_bytes());
            let id = id_of(&gate.submit(&alice, &[&table], "race")).to_string();
            let approve = {
                let (gate, bob, id) = (Arc::clone(&gate), bob.clone(), id.clone());
                std::thread::spawn(move || {
                    gate.run(&bob, &["review", &id, "--approve", "--reason", "ok"])
                })
            };
            let deny = {
                let (gate, carol, id) = (Arc::clone(&gate), carol.clone(), id.clone());
                std::thread::spawn(move || {
                    gate.run(&carol, &["review", &id, "--deny", "--reason", "no"])
                })
            };
            let (approved, denied) = (approve.join().unwrap(), deny.join().unwrap());
            assert!(
                approved.status.success() != denied.status.success(),
                "round {round}: exactly one decision stands"
            );
            let detail = gate.show(&bob, id.parse().unwrap());
            assert_eq!(detail["reviews"].as_array().unwrap().len(), 1);
            let expected = if approved.status.success() {
                "approved"
            } else {
                "denied"
            };
            assert_eq!(detail["state"], expected);
            if expected == "approved" {
                let releases: Vec<_> = (0..2)
                    .map(|_| {
                        let (gate, alice, id) = (Arc::clone(&gate), alice.clone(), id.clone());
                        std::thread::spawn(move || gate.run(&alice, &["release", &id]))
                    })
                    .collect();
                let ok = releases
                    .into_iter()
                    .map(|r| r.join().unwrap())
                    .filter(|out| out.status.success())
                    .count();
                assert_eq!(ok, 1, "round {round}: one release succeeds");
            }
        }
        gate.verify_audit();
    }

    #[test]
    fn role_changes_during_reviews_neither_deadlock_nor_lose_audit_records() {
        let Some([alice, bob, carol]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let gate = Arc::new(gate);
        let roles = {
            let (gate, carol) = (Arc::clone(&gate), carol.clone());
            std::thread::spawn(move || {
                for _ in 0..6 {
                    gate.ok(&root_user(), &["role", "add", &carol.name, "--reviewer"]);
                    gate.ok(&root_user(), &["role", "remove", &carol.name, "--reviewer"]);
                }
            })
        };
        let work = {
            let (gate, alice, bob) = (Arc::clone(&gate), alice.clone(), bob.clone());
            std::thread::spawn(move || {
                for round in 0..3 {
                    let table = gate.file(&format!("r{round}.csv"), CLEAN_TABLE.as_bytes());
                    let id = id_of(&gate.submit(&alice, &[&table], "roles race")).to_string();
                    gate.ok(&bob, &["review", &id, "--approve", "--reason", "ok"]);
                }
            })
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !(roles.is_finished() && work.is_finished()) {
            assert!(
                Instant::now() < deadline,
                "the service hangs: {}",
                gate.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        roles.join().unwrap();
        work.join().unwrap();
        let export = gate.ok(&root_user(), &["audit", "export"]);
        assert_eq!(
            export.matches("\"role.add\"").count(),
            7,
            "one record per grant"
        );
        gate.verify_audit();
    }

    #[test]
    fn a_client_that_disconnects_mid_upload_leaves_nothing() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let mut stream =
            std::os::unix::net::UnixStream::connect(gate.gate.join("gate.sock")).unwrap();
        let header = serde_json::json!({"op": "submit", "reason": "x", "files": [{"name": "a.txt", "size": 1_000_000}]});
        let bytes = serde_json::to_vec(&header).unwrap();
        stream
            .write_all(&(bytes.len() as u32).to_be_bytes())
            .unwrap();
        stream.write_all(&bytes).unwrap();
        stream.write_all(&[b'x'; 10_000]).unwrap();
        drop(stream);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !gate.log().contains("connection dropped") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(gate.log().contains("connection dropped"), "{}", gate.log());
        assert!(gate.list(&bob).is_empty());
        let table = gate.file("t.csv", CLEAN_TABLE.as_bytes());
        gate.submit(&alice, &[&table], "after the broken upload");
        assert_eq!(gate.list(&bob).len(), 1);
        assert_eq!(
            fs::read_dir(gate.gate.join("queue")).unwrap().count(),
            1,
            "a partial upload was kept"
        );
        gate.verify_audit();
    }
}

mod tampering {
    use super::*;

    #[test]
    fn an_edited_audit_record_fails_verification_with_its_number() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let table = gate.file("t.csv", CLEAN_TABLE.as_bytes());
        let id = id_of(&gate.submit(&alice, &[&table], "t")).to_string();
        gate.ok(&bob, &["review", &id, "--approve", "--reason", "ok"]);
        gate.verify_audit();
        let export = gate.ok(&root_user(), &["audit", "export"]);
        assert!(export.lines().count() >= 5, "{export}");
        let db = rusqlite::Connection::open(gate.gate.join("gate.db")).unwrap();
        let record: String = db
            .query_row("SELECT record FROM audit WHERE seq = 3", [], |r| r.get(0))
            .unwrap();
        let edited = record.replacen("\"t\"", "\"something else\"", 1);
        assert_ne!(record, edited, "{record}");
        db.execute("UPDATE audit SET record = ?1 WHERE seq = 3", [edited])
            .unwrap();
        let out = gate.run(&root_user(), &["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("record 3"), "{text}");
        db.execute("UPDATE audit SET record = ?1 WHERE seq = 3", [record])
            .unwrap();
        gate.verify_audit();
        // Dropping the newest records is seen against the MACed head.
        db.execute(
            "DELETE FROM audit WHERE seq >= (SELECT max(seq) - 1 FROM audit)",
            [],
        )
        .unwrap();
        let out = gate.run(&root_user(), &["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("truncated"), "{text}");
    }
}

mod ingest_and_watch {
    use super::*;

    #[test]
    fn ingest_is_verified_idempotent_and_deletes_the_original() {
        let Some([alice, _, _]) = users() else { return };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        let data = gate.root.path().join("owner");
        fs::create_dir(&data).unwrap();
        chown(&data, Some(alice.uid), Some(alice.gid)).unwrap();
        for round in 0..2 {
            let original = data.join("cohort.csv");
            fs::write(&original, CLEAN_TABLE).unwrap();
            chown(&original, Some(alice.uid), Some(alice.gid)).unwrap();
            let out = gate.run(
                &alice,
                &[
                    "ingest",
                    "--dataset",
                    "cohort-2026",
                    original.to_str().unwrap(),
                ],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let said = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                said.contains("already held"),
                round == 1,
                "round {round}: {said}"
            );
            assert!(!original.exists(), "round {round}: the original stays");
        }
        let datasets = gate.datasets();
        assert_eq!(
            datasets.len(),
            1,
            "the same content is stored once: {datasets:?}"
        );
        assert_eq!(datasets[0]["owner"], alice.name);
        let copy = gate.stored_copy(&datasets[0]);
        assert_eq!(fs::read_to_string(copy).unwrap(), CLEAN_TABLE);
        let bad = gate.refused(&alice, &["ingest", "--dataset", "../x", "/etc/hostname"]);
        assert!(bad.contains("dataset name"), "{bad}");
    }

    #[test]
    fn watch_submits_files_dropped_into_the_export_folder() {
        let Some([alice, bob, _]) = users() else {
            return;
        };
        let mut gate = Harness::new(1, |_| {});
        gate.start(None);
        gate.grant(&bob, "--reviewer");
        let drop = gate.root.path().join("export");
        fs::create_dir(&drop).unwrap();
        chown(&drop, Some(alice.uid), Some(alice.gid)).unwrap();
        let dropped = drop.join("results.csv");
        fs::write(&dropped, CLEAN_TABLE).unwrap();
        chown(&dropped, Some(alice.uid), Some(alice.gid)).unwrap();
        gate.ok(
            &alice,
            &[
                "watch",
                drop.to_str().unwrap(),
                "--reason",
                "results",
                "--interval",
                "1",
                "--once",
            ],
        );
        let requests = gate.list(&bob);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0]["submitter"], alice.name);
        assert!(!dropped.exists());
        assert!(fs::read_dir(drop.join(".submitted")).unwrap().count() == 1);
    }
}
