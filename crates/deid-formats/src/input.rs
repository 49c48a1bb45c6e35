//! Inputs: discovering files, reading them as bytes, and telling their format.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

/// How many leading bytes are inspected to tell binary from text and JSONL from text.
const SNIFF_LEN: usize = 8 * 1024;

/// Where one input comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl Source {
    /// The name used in findings and messages: the path as given, or `-`.
    pub fn display_name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Stdin => "-".to_owned(),
        }
    }

    /// The path, when the source is a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::File(path) => Some(path),
            Source::Stdin => None,
        }
    }
}

/// An error reading inputs; it names the path.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InputError {
    /// The path (or `-`) that failed.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl InputError {
    fn io(path: &Path, error: &std::io::Error) -> InputError {
        InputError {
            path: path.display().to_string(),
            message: error.to_string(),
        }
    }
}

/// Expands arguments into sources: files as given, directories recursed (entries sorted by
/// name, hidden entries and symlinked directories skipped), `-` for stdin.
///
/// Unreadable paths are returned as errors alongside the sources that could be found, so a
/// run can report them and go on.
pub fn discover(arguments: &[PathBuf]) -> (Vec<Source>, Vec<InputError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for argument in arguments {
        if argument.as_os_str() == "-" {
            sources.push(Source::Stdin);
            continue;
        }
        match std::fs::metadata(argument) {
            Ok(meta) if meta.is_dir() => walk(argument, &mut sources, &mut errors),
            Ok(_) => sources.push(Source::File(argument.clone())),
            Err(e) => errors.push(InputError::io(argument, &e)),
        }
    }
    (sources, errors)
}

fn walk(dir: &Path, sources: &mut Vec<Source>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return errors.push(InputError::io(dir, &e)),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, sources, errors),
            Ok(meta) if meta.is_file() => sources.push(Source::File(path)),
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::metadata(&path) {
                Ok(target) if target.is_file() => sources.push(Source::File(path)),
                Ok(_) => {}
                Err(e) => errors.push(InputError::io(&path, &e)),
            },
            Ok(_) => {}
            Err(e) => errors.push(InputError::io(&path, &e)),
        }
    }
}

/// The bytes of one input: a read-only memory map of a file, or a buffer for stdin and
/// empty files.
pub enum Content {
    /// A mapped file.
    Mapped(Mmap),
    /// Bytes read into memory.
    Buffer(Vec<u8>),
}

impl Deref for Content {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Content::Mapped(map) => map,
            Content::Buffer(bytes) => bytes,
        }
    }
}

impl Content {
    /// Opens a source: files are memory-mapped, stdin is read to its end.
    ///
    /// # Errors
    /// When the file cannot be opened or mapped, naming the path.
    pub fn open(source: &Source) -> Result<Content, InputError> {
        match source {
            Source::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|e| InputError {
                        path: "-".into(),
                        message: e.to_string(),
                    })?;
                Ok(Content::Buffer(bytes))
            }
            Source::File(path) => {
                let file = File::open(path).map_err(|e| InputError::io(path, &e))?;
                let len = file.metadata().map_err(|e| InputError::io(path, &e))?.len();
                if len == 0 {
                    return Ok(Content::Buffer(Vec::new()));
                }
                // SAFETY: the map is read-only and lives no longer than this value. If another
                // process truncates the file while it is mapped, reads past the new end raise
                // SIGBUS; deid documents that inputs must not change during a run (inputs in a
                // research environment are immutable), as ripgrep and others do.
                let map = unsafe { Mmap::map(&file) }.map_err(|e| InputError::io(path, &e))?;
                Ok(Content::Mapped(map))
            }
        }
    }
}

/// What an input holds, as far as deid can tell from its name and first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain text (clinical notes and any other text).
    Text,
    /// One JSON object per line.
    Jsonl,
    /// Delimited records (RFC 4180 CSV, TSV, semicolon- or pipe-separated).
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Not text: a NUL byte in the first 8 KiB.
    Binary,
}

/// Tells the format of an input from its name and content.
///
/// Parquet is told by its magic bytes. Binary wins over any extension (a NUL byte within the
/// first 8 KiB, as git and ripgrep decide). `.jsonl` and `.ndjson` files are JSONL, `.csv`,
/// `.tsv` and `.psv` files CSV; other files are JSONL when their first line is a JSON
/// object, CSV when their first lines split into the same number (two or more) of fields
/// on one delimiter, else text.
pub fn sniff(source: &Source, bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PAR1") {
        return Format::Parquet;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    if memchr::memchr(0, head).is_some() {
        return Format::Binary;
    }
    let extension = source
        .path()
        .and_then(Path::extension)
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("jsonl" | "ndjson") => Format::Jsonl,
        Some("txt" | "text" | "md" | "note") => Format::Text,
        Some("csv" | "tsv" | "psv") => Format::Csv,
        _ if looks_delimited(head) => Format::Csv,
        _ => {
            let first = head.iter().position(|b| !b.is_ascii_whitespace());
            let line_end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
            match first {
                Some(i) if head[i] == b'{' && i < line_end => {
                    let line = &bytes[..line_end];
                    match serde_json::from_slice::<serde_json::Value>(line) {
                        Ok(serde_json::Value::Object(_)) => Format::Jsonl,
                        _ => Format::Text,
                    }
                }
                _ => Format::Text,
            }
        }
    }
}

/// Whether the first records (at least three, whole records only; quotes may hold line
/// breaks) all split into the same number of fields, two or more, on one of comma, tab,
/// semicolon or pipe.
fn looks_delimited(head: &[u8]) -> bool {
    [b',', b'\t', b';', b'|'].iter().any(|&delimiter| {
        let mut counts = Vec::new();
        let (mut in_quotes, mut count) = (false, 0);
        for &b in head {
            match b {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => {
                    counts.push(count);
                    count = 0;
                    if counts.len() == 6 {
                        break;
                    }
                }
                _ if b == delimiter && !in_quotes => count += 1,
                _ => {}
            }
        }
        counts.len() >= 3 && counts[0] >= 1 && counts.iter().all(|&n| n == counts[0])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        let file = |name: &str| Source::File(PathBuf::from(name));
        assert_eq!(sniff(&file("a.txt"), b"hello"), Format::Text);
        assert_eq!(sniff(&file("a.csv"), b"a,b\n1,2\n"), Format::Csv);
        assert_eq!(sniff(&file("export"), b"a;b\n1;2\n3;4\n5;6\n"), Format::Csv);
        assert_eq!(sniff(&file("a.bin"), b"PAR1\0\0"), Format::Parquet);
        assert_eq!(
            sniff(&file("n"), b"Seen today.\nBP 120/80, HR 72.\nPlan: rest.\n"),
            Format::Text
        );
        assert_eq!(sniff(&file("a.jsonl"), b"{}"), Format::Jsonl);
        assert_eq!(
            sniff(&file("a"), b"{\"id\": 1}\n{\"id\": 2}\n"),
            Format::Jsonl
        );
        assert_eq!(sniff(&file("a"), b"{not json\n"), Format::Text);
        assert_eq!(sniff(&file("a.jsonl"), b"{\"a\":1}\0"), Format::Binary);
        assert_eq!(sniff(&Source::Stdin, b""), Format::Text);
        assert_eq!(
            sniff(&file("a"), b"\xEF\xBB\xBF{\"id\": 1}\n"),
            Format::Jsonl
        );
    }

    #[test]
    fn discovery_recurses_sorted_and_reports_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.txt"), "b").unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "a").unwrap();
        std::fs::write(dir.path().join(".hidden"), "h").unwrap();
        let missing = dir.path().join("missing");
        let (sources, errors) = discover(&[dir.path().to_path_buf(), missing]);
        let names: Vec<_> = sources
            .iter()
            .map(|s| {
                s.path()
                    .unwrap()
                    .strip_prefix(dir.path())
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names, [PathBuf::from("b.txt"), PathBuf::from("sub/a.txt")]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].path.ends_with("missing"));
    }
}
