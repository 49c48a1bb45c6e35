//! Release destinations against a real folder and a real Azure Blob emulator (Azurite).
//!
//! S3 has no emulator here, so it is covered by parsing and by failing fast on an
//! unreachable endpoint.

#[path = "support/azurite.rs"]
mod azurite;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use azurite::Azurite;
use deid_gate::destination::{Destination, DestinationError};
use sha2::{Digest, Sha256};

fn no_options() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(path).unwrap()))
}

/// Writes `len` bytes of a non-repeating pattern, so misplaced parts change the hash.
fn write_pattern(path: &Path, len: usize) {
    let mut file = fs::File::create(path).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut written = 0;
    while written < len {
        buf.clear();
        while buf.len() < (1 << 20) && written + buf.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            buf.push(state as u8);
        }
        file.write_all(&buf).unwrap();
        written += buf.len();
    }
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn folder_put_is_complete_and_leaves_no_temp_files() {
    let src = tempfile::tempdir().unwrap();
    let dest_dir = tempfile::tempdir().unwrap();
    let a = src.path().join("a.csv");
    let b = src.path().join("b.txt");
    fs::write(&a, "id,value\n1,2\n").unwrap();
    write_pattern(&b, 300_000);

    let dest = Destination::parse(dest_dir.path().to_str().unwrap(), &no_options()).unwrap();
    let loc_a = dest.put("results.csv", &a).unwrap();
    let loc_b = dest.put("request-12/deep/er/b.txt", &b).unwrap();
    assert_eq!(
        loc_a,
        dest_dir.path().join("results.csv").display().to_string()
    );
    assert_eq!(
        loc_b,
        dest_dir
            .path()
            .join("request-12/deep/er/b.txt")
            .display()
            .to_string()
    );

    assert_eq!(
        fs::read(dest_dir.path().join("results.csv")).unwrap(),
        fs::read(&a).unwrap()
    );
    assert_eq!(
        dest.sha256("request-12/deep/er/b.txt").unwrap(),
        Some(sha256_file(&b))
    );
    assert_eq!(dest.sha256("results.csv").unwrap(), Some(sha256_file(&a)));
    assert_eq!(dest.sha256("absent.csv").unwrap(), None);

    // Replacing a released file is atomic too, and still leaves no temp file behind.
    dest.put("results.csv", &b).unwrap();
    assert_eq!(dest.sha256("results.csv").unwrap(), Some(sha256_file(&b)));
    assert_eq!(
        files_under(dest_dir.path()),
        ["request-12/deep/er/b.txt", "results.csv"]
    );
}

#[test]
fn folder_refuses_unsafe_keys() {
    let src = tempfile::tempdir().unwrap();
    let dest_dir = tempfile::tempdir().unwrap();
    let file = src.path().join("f");
    fs::write(&file, "x").unwrap();
    let dest = Destination::parse(dest_dir.path().to_str().unwrap(), &no_options()).unwrap();

    for key in [
        "",
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "a//b",
        "a/",
        "./a",
        "a\\b",
        "a\nb",
        "tab\there",
    ] {
        let err = dest.put(key, &file).unwrap_err();
        assert!(
            matches!(err, DestinationError::InvalidKey { .. }),
            "{key:?}: {err}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&dest.describe()),
            "error names the destination: {message}"
        );
        assert!(
            dest.sha256(key).is_err(),
            "{key:?} is refused for reads too"
        );
    }
    assert!(files_under(dest_dir.path()).is_empty());
    assert!(!dest_dir.path().parent().unwrap().join("escape").exists());
}

#[test]
fn folder_spec_must_be_absolute_and_existing() {
    for spec in ["exports", "./exports", "exports/sub"] {
        let err = Destination::parse(spec, &no_options()).unwrap_err();
        assert!(
            matches!(err, DestinationError::RelativeFolder { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("relative"), "{err}");
        assert!(err.to_string().contains(spec), "{err}");
    }
    assert!(matches!(
        Destination::parse("", &no_options()),
        Err(DestinationError::InvalidSpec { .. })
    ));
    assert!(matches!(
        Destination::parse("ftp://host/x", &no_options()),
        Err(DestinationError::InvalidSpec { .. })
    ));
    // A pasted URL's SAS token or password never reaches the error message.
    for spec in [
        "https://acct.blob.core.windows.net/c/p?sv=2022&sig=SECRETSIG",
        "ftp://user:SECRETPW@host/x",
    ] {
        let err = Destination::parse(spec, &no_options()).unwrap_err();
        assert!(matches!(err, DestinationError::InvalidSpec { .. }), "{err}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
    let mut options = no_options();
    options.insert("azure_storage_account_name".into(), "x".into());
    assert!(matches!(
        Destination::parse("/tmp", &options),
        Err(DestinationError::UnknownOption { .. })
    ));

    // The destination folder itself is never created: a mistyped mount point must fail.
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f");
    fs::write(&file, "x").unwrap();
    let missing = src.path().join("not-mounted");
    let dest = Destination::parse(missing.to_str().unwrap(), &no_options()).unwrap();
    let err = dest.put("a/b.csv", &file).unwrap_err();
    assert!(
        matches!(err, DestinationError::FolderMissing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("not-mounted"), "{err}");
    assert!(err.to_string().contains("a/b.csv"), "{err}");
    assert!(!missing.exists());

    // A source that is missing or a folder is an error naming the key, not a panic.
    let dest = Destination::parse(src.path().to_str().unwrap(), &no_options()).unwrap();
    let err = dest.put("k", &src.path().join("absent")).unwrap_err();
    assert!(matches!(err, DestinationError::Source { .. }), "{err}");
    assert!(err.to_string().contains("\"k\""), "{err}");
    let err = dest.put("k", src.path()).unwrap_err();
    assert!(matches!(err, DestinationError::Source { .. }), "{err}");
}

#[test]
fn azurite_small_and_multipart_uploads_round_trip() {
    let azurite = Azurite::start();
    azurite.create_container("exports");
    let dest = Destination::parse("az://exports/released/", &azurite.options()).unwrap();
    assert_eq!(dest.describe(), "az://exports/released");

    let src = tempfile::tempdir().unwrap();
    let small = src.path().join("small.csv");
    let large = src.path().join("large.bin");
    fs::write(&small, "id,value\n1,2\n").unwrap();
    write_pattern(&large, 20 * 1024 * 1024 + 12_345);

    let loc = dest.put("request-12/results.csv", &small).unwrap();
    assert_eq!(loc, "az://exports/released/request-12/results.csv");
    let started = Instant::now();
    let loc = dest.put("request-12/large.bin", &large).unwrap();
    eprintln!("20 MiB multipart upload took {:?}", started.elapsed());
    assert_eq!(loc, "az://exports/released/request-12/large.bin");

    assert_eq!(
        dest.sha256("request-12/results.csv").unwrap(),
        Some(sha256_file(&small)),
        "{}",
        azurite.logs()
    );
    assert_eq!(
        dest.sha256("request-12/large.bin").unwrap(),
        Some(sha256_file(&large))
    );
    assert_eq!(dest.sha256("request-12/absent").unwrap(), None);

    // Overwriting replaces the object whole.
    dest.put("request-12/results.csv", &large).unwrap();
    assert_eq!(
        dest.sha256("request-12/results.csv").unwrap(),
        Some(sha256_file(&large))
    );

    // The prefix is honoured: the same key without it is absent.
    let root = Destination::parse("az://exports", &azurite.options()).unwrap();
    assert_eq!(root.sha256("request-12/results.csv").unwrap(), None);
    assert_eq!(
        root.sha256("released/request-12/results.csv").unwrap(),
        Some(sha256_file(&large))
    );

    let err = dest.put("../x", &small).unwrap_err();
    assert!(matches!(err, DestinationError::InvalidKey { .. }), "{err}");
}

#[test]
fn azurite_missing_container_is_a_clear_error() {
    let azurite = Azurite::start();
    let src = tempfile::tempdir().unwrap();
    let small = src.path().join("small.csv");
    let large = src.path().join("large.bin");
    fs::write(&small, "a,b\n").unwrap();
    write_pattern(&large, 9 * 1024 * 1024);

    let dest = Destination::parse("az://no-such-container/p", &azurite.options()).unwrap();
    for (key, file) in [("r/small.csv", &small), ("r/large.bin", &large)] {
        let err = dest.put(key, file).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, DestinationError::ContainerMissing { .. }),
            "{message}"
        );
        assert!(
            message.contains("az://no-such-container/p"),
            "names the destination: {message}"
        );
        assert!(message.contains(key), "names the key: {message}");
        assert!(!message.contains(azurite::ACCOUNT_KEY), "{message}");
    }
}

#[test]
fn azurite_describe_and_debug_carry_no_credentials() {
    let azurite = Azurite::start();
    let dest = Destination::parse("az://exports/p", &azurite.options()).unwrap();
    for text in [dest.describe(), format!("{dest:?}")] {
        assert!(!text.contains(azurite::ACCOUNT_KEY), "{text}");
        assert!(!text.contains("Eby8vdM02"), "{text}");
        assert!(text.contains("az://exports/p"), "{text}");
    }

    let mut options = azurite.options();
    options.insert("azure_storage_acount_key".into(), "typo".into());
    let err = Destination::parse("az://exports/p", &options).unwrap_err();
    assert!(
        matches!(err, DestinationError::UnknownOption { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("azure_storage_acount_key"),
        "{err}"
    );
}

#[test]
fn azure_specs_are_validated() {
    let options = no_options();
    for spec in [
        "az://",
        "az:///prefix",
        "az://bad container/x",
        "az://c/a/../b",
    ] {
        let err = Destination::parse(spec, &options).unwrap_err();
        assert!(
            matches!(err, DestinationError::InvalidSpec { .. }),
            "{spec}: {err}"
        );
    }
}

fn s3_options(endpoint: &str) -> BTreeMap<String, String> {
    [
        ("aws_access_key_id", "AKIDEXAMPLE"),
        ("aws_secret_access_key", "wJalrXUtnFEMI-not-a-real-secret"),
        ("aws_region", "us-east-1"),
        ("aws_endpoint", endpoint),
        ("aws_allow_http", "true"),
        ("connect_timeout", "2s"),
        ("timeout", "5s"),
        ("max_retries", "1"),
        ("retry_timeout", "3s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn s3_options_are_accepted_and_an_unreachable_endpoint_fails_fast() {
    // A loopback port with nothing listening: connection refused, never a hang.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = s3_options(&format!("http://127.0.0.1:{port}"));
    let dest = Destination::parse("s3://release-bucket/exports/", &options).unwrap();
    assert_eq!(dest.describe(), "s3://release-bucket/exports");
    let debug = format!("{dest:?}");
    assert!(!debug.contains("not-a-real-secret"), "{debug}");

    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f.csv");
    fs::write(&file, "a,b\n").unwrap();
    let started = Instant::now();
    let err = dest.put("request-1/f.csv", &file).unwrap_err();
    let message = err.to_string();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, DestinationError::Store { .. }), "{message}");
    assert!(message.contains("s3://release-bucket/exports"), "{message}");
    assert!(message.contains("request-1/f.csv"), "{message}");
    assert!(!message.contains("not-a-real-secret"), "{message}");

    for (key, value, expected) in [
        ("aws_regoin", "us-east-1", "unknown"),
        ("retry_timeout", "soon", "invalid"),
        ("max_retries", "-1", "invalid"),
    ] {
        let mut bad = options.clone();
        bad.insert(key.into(), value.into());
        let err = Destination::parse("s3://release-bucket/exports", &bad).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn calling_from_inside_a_runtime_is_an_error_not_a_panic() {
    let options = s3_options("http://127.0.0.1:9");
    let dest = Destination::parse("s3://b/p", &options).unwrap();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f");
    fs::write(&file, "x").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = runtime.block_on(async { dest.put("k", &file) });
    assert!(matches!(
        result,
        Err(DestinationError::InsideRuntime { .. })
    ));
    // Dropped here, outside the runtime.
    drop(dest);
}
