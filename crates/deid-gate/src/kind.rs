//! What a submitted file is, and how to show its name.
//!
//! The gate must never pass a file just because deid could not read it: every file is
//! scanned, unpacked (archives) or shown to a reviewer as something the engine cannot read.
//! The content decides, not the name, because a renamed PNG is still a PNG: magic bytes win
//! over the extension. Names only decide where the bytes say nothing (protocol 0/1 pickles,
//! safetensors, model weights).
//!
//! File names are untrusted bytes too: [`display_name`] makes one safe to show a reviewer,
//! and [`extension`] reduces one to something safe to put in a path.

use std::fmt;

/// How many leading bytes [`detect`] wants to see (fewer is fine for shorter files).
pub const HEAD_LEN: usize = 8192;

/// The most characters [`display_name`] returns.
pub const MAX_DISPLAY_CHARS: usize = 200;

/// Longest extension [`extension`] accepts.
const MAX_EXTENSION_LEN: usize = 10;

/// Largest safetensors JSON header we believe (the format itself caps it at 100 MB).
const MAX_SAFETENSORS_HEADER: u64 = 100 * 1024 * 1024;

/// An archive format the gate unpacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArchiveFormat {
    /// A zip archive (also `.jar`, `.npz`, PyTorch `.pt` and other zip-based formats).
    Zip,
    /// A tar archive.
    Tar,
    /// A gzip stream: a tar inside (`.tar.gz`, `.tgz`) is unpacked as tar, anything else is
    /// one member.
    Gzip,
}

/// What a file is, as far as the gate is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An archive to unpack; its members are inspected in turn.
    Archive(ArchiveFormat),
    /// Python pickle (and formats that embed one): executable content — unpickling runs code.
    Pickle,
    /// deid cannot read it; `what` says what it is, e.g. "PNG image", "PDF document",
    /// "model weights (safetensors)", "ELF executable", "binary data".
    Unscannable(&'static str),
    /// Text, JSONL, CSV, Parquet: the engine's readers handle it (they sniff further).
    Scannable,
}

impl fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArchiveFormat::Zip => "zip archive",
            ArchiveFormat::Tar => "tar archive",
            ArchiveFormat::Gzip => "gzip stream",
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Archive(format) => format.fmt(f),
            Kind::Pickle => f.write_str("Python pickle (executable content)"),
            Kind::Unscannable(what) => f.write_str(what),
            Kind::Scannable => f.write_str("scannable data"),
        }
    }
}

/// Tells a file's kind from its name (extension, case-insensitive) and first bytes (at least
/// [`HEAD_LEN`] bytes when the file has them). Magic bytes win over the extension.
pub fn detect(name: &str, head: &[u8]) -> Kind {
    let ext = extension(name);
    let ext = ext.as_deref();
    if let Some(kind) = by_zip_magic(ext, head) {
        return kind;
    }
    if let Some(kind) = by_magic(head) {
        return kind;
    }
    if let Some(kind) = by_extension(ext, head) {
        return kind;
    }
    // Longer than the extensions `extension` accepts, so matched on the name itself.
    if leaf(name).to_ascii_lowercase().ends_with(".safetensors") {
        return Kind::Unscannable("model weights (safetensors)");
    }
    if head.starts_with(b"\xff\xfe") || head.starts_with(b"\xfe\xff") {
        return Kind::Unscannable("UTF-16 text (convert to UTF-8 to scan it)");
    }
    if head.contains(&0) {
        Kind::Unscannable("binary data")
    } else {
        Kind::Scannable
    }
}

/// Whether `head` starts with a tar header (POSIX or GNU: `ustar` at offset 257).
pub fn is_tar_header(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar".as_slice())
}

/// Whether a name says the file is a gzipped tar (`.tar.gz` or `.tgz`, any case).
pub fn is_tar_gz(name: &str) -> bool {
    let leaf = leaf(name).to_ascii_lowercase();
    leaf.ends_with(".tar.gz") || leaf.ends_with(".tgz")
}

/// The name of what a gzip stream holds: `notes.txt.gz` → `notes.txt`, `x.tgz` → `x.tar`.
/// Only the last path component of `name` is used; a name without a gzip suffix is kept.
pub fn gzip_member_name(name: &str) -> String {
    let leaf = leaf(name);
    let lower = leaf.to_ascii_lowercase();
    // The suffixes are ASCII, so byte offsets in `lower` are valid in `leaf`.
    let strip = |suffix: &str| leaf.get(..leaf.len() - suffix.len());
    let inner = if lower.ends_with(".tgz") {
        strip(".tgz").map(|stem| format!("{stem}.tar"))
    } else if lower.ends_with(".gz") {
        strip(".gz").map(str::to_owned)
    } else {
        None
    };
    match inner {
        Some(inner) if !inner.is_empty() => inner,
        _ => leaf.to_owned(),
    }
}

/// A file name safe to show: invalid UTF-8 replaced (U+FFFD), control characters escaped
/// (`\u{..}` style), at most [`MAX_DISPLAY_CHARS`] chars (a longer name ends in `…`).
pub fn display_name(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut used = 0;
    // Where to cut if the name turns out too long: leaves room for the ellipsis.
    let mut cut = None;
    for c in text.chars() {
        let piece = escape_char(c);
        let len = piece.chars().count();
        if cut.is_none() && used + len >= MAX_DISPLAY_CHARS {
            cut = Some(out.len());
        }
        if used + len > MAX_DISPLAY_CHARS {
            out.truncate(cut.unwrap_or(out.len()));
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        used += len;
    }
    out
}

/// The extension deid uses to choose a reader: lowercase ASCII alphanumerics,
/// 1..=10 chars, else None. For `x.tar.gz` it is `gz` (see [`is_tar_gz`]); a leading dot
/// (`.bashrc`) is not an extension.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = leaf(name).rsplit_once('.')?;
    let valid = !stem.is_empty()
        && (1..=MAX_EXTENSION_LEN).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then(|| ext.to_ascii_lowercase())
}

/// The last path component, whichever separator the archive used.
fn leaf(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// One character as shown: controls and invisible formatting characters (which can disguise
/// a name, e.g. a right-to-left override) are escaped.
fn escape_char(c: char) -> String {
    let invisible = matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
    );
    if c.is_control() || invisible {
        format!("\\u{{{:x}}}", u32::from(c))
    } else {
        c.to_string()
    }
}

/// Zip-based files: Office documents are reported, everything else is unpacked.
fn by_zip_magic(ext: Option<&str>, head: &[u8]) -> Option<Kind> {
    if !(head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")) {
        return None;
    }
    let office_ext = matches!(
        ext,
        Some("docx" | "docm" | "xlsx" | "xlsm" | "pptx" | "pptm" | "odt" | "ods" | "odp")
    );
    if office_ext || is_office_zip(head) {
        return Some(Kind::Unscannable("Office document"));
    }
    Some(Kind::Archive(ArchiveFormat::Zip))
}

/// Whether the first zip entry is the one OOXML (`[Content_Types].xml`) or OpenDocument
/// (`mimetype`) files put first.
fn is_office_zip(head: &[u8]) -> bool {
    let Some(&[lo, hi]) = head.get(26..28) else {
        return false;
    };
    let name_len = usize::from(u16::from_le_bytes([lo, hi]));
    matches!(
        head.get(30..30 + name_len),
        Some(b"[Content_Types].xml" | b"mimetype")
    )
}

/// Magic numbers at fixed offsets.
const MAGIC: &[(usize, &[u8], Kind)] = &[
    (0, b"\x1f\x8b", Kind::Archive(ArchiveFormat::Gzip)),
    (0, b"PAR1", Kind::Scannable),
    (0, b"\x89PNG\r\n\x1a\n", Kind::Unscannable("PNG image")),
    (0, b"\xff\xd8\xff", Kind::Unscannable("JPEG image")),
    (0, b"GIF87a", Kind::Unscannable("GIF image")),
    (0, b"GIF89a", Kind::Unscannable("GIF image")),
    (0, b"II*\0", Kind::Unscannable("TIFF image")),
    (0, b"MM\0*", Kind::Unscannable("TIFF image")),
    (0, b"%PDF-", Kind::Unscannable("PDF document")),
    (128, b"DICM", Kind::Unscannable("DICOM medical image")),
    (
        0,
        b"\x89HDF\r\n\x1a\n",
        Kind::Unscannable("HDF5 data (e.g. Keras model weights)"),
    ),
    (0, b"\x93NUMPY", Kind::Unscannable("NumPy array (.npy)")),
    (0, b"\x7fELF", Kind::Unscannable("ELF executable")),
    (
        0,
        b"\xfe\xed\xfa\xce",
        Kind::Unscannable("Mach-O executable"),
    ),
    (
        0,
        b"\xfe\xed\xfa\xcf",
        Kind::Unscannable("Mach-O executable"),
    ),
    (
        0,
        b"\xce\xfa\xed\xfe",
        Kind::Unscannable("Mach-O executable"),
    ),
    (
        0,
        b"\xcf\xfa\xed\xfe",
        Kind::Unscannable("Mach-O executable"),
    ),
    (
        0,
        b"\xca\xfe\xba\xbe",
        Kind::Unscannable("Mach-O universal binary or Java class"),
    ),
    (
        0,
        b"SQLite format 3\0",
        Kind::Unscannable("SQLite database"),
    ),
    (
        0,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        Kind::Unscannable("legacy Office document (OLE2)"),
    ),
    (
        0,
        b"7z\xbc\xaf\x27\x1c",
        Kind::Unscannable("7-Zip archive (not supported)"),
    ),
    (
        0,
        b"Rar!\x1a\x07",
        Kind::Unscannable("RAR archive (not supported)"),
    ),
    (
        0,
        b"\xfd7zXZ\0",
        Kind::Unscannable("xz stream (not supported)"),
    ),
    (
        0,
        b"\x28\xb5\x2f\xfd",
        Kind::Unscannable("zstd stream (not supported)"),
    ),
];

/// Recognises a file by its content alone.
fn by_magic(head: &[u8]) -> Option<Kind> {
    let fixed = MAGIC
        .iter()
        .find(|(offset, magic, _)| head.get(*offset..offset + magic.len()) == Some(*magic));
    if let Some((_, _, kind)) = fixed {
        return Some(*kind);
    }
    if is_tar_header(head) {
        return Some(Kind::Archive(ArchiveFormat::Tar));
    }
    if matches!(head, [0x80, 2..=5, ..]) {
        return Some(Kind::Pickle);
    }
    by_structured_magic(head)
}

/// Formats whose magic is short or variable, checked with some of their structure so that
/// ordinary text (a CSV starting `BMI,...`) is not mistaken for them.
fn by_structured_magic(head: &[u8]) -> Option<Kind> {
    let binary = head.contains(&0);
    if is_bmp(head) {
        Some(Kind::Unscannable("BMP image"))
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Some(Kind::Unscannable("WebP image"))
    } else if binary && head.starts_with(b"BZh") && head.get(4..10) == Some(b"1AY&SY") {
        Some(Kind::Unscannable("bzip2 stream (not supported)"))
    } else if binary && head.starts_with(b"GGUF") {
        Some(Kind::Unscannable("model weights (GGUF)"))
    } else if binary && head.starts_with(b"MZ") {
        Some(Kind::Unscannable("Windows executable (PE)"))
    } else if is_safetensors(head) {
        Some(Kind::Unscannable("model weights (safetensors)"))
    } else {
        None
    }
}

/// `BM`, then reserved zeros and a known DIB header size.
fn is_bmp(head: &[u8]) -> bool {
    let reserved_zero = head.get(6..10) == Some(&[0, 0, 0, 0]);
    let dib_size = le_u32(head, 14);
    head.starts_with(b"BM")
        && reserved_zero
        && matches!(dib_size, Some(12 | 40 | 52 | 56 | 64 | 108 | 124))
}

/// An 8-byte little-endian header length, then the JSON header's `{`.
fn is_safetensors(head: &[u8]) -> bool {
    let Some(len) = head
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
    else {
        return false;
    };
    (2..=MAX_SAFETENSORS_HEADER).contains(&len) && head.get(8) == Some(&b'{')
}

fn le_u32(head: &[u8], offset: usize) -> Option<u32> {
    let bytes = head.get(offset..offset + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// Recognises what the content alone does not tell (`.safetensors` is handled in [`detect`]).
fn by_extension(ext: Option<&str>, head: &[u8]) -> Option<Kind> {
    let binary = head.contains(&0);
    match ext? {
        "pkl" | "pickle" | "joblib" => Some(Kind::Pickle),
        "onnx" if binary => Some(Kind::Unscannable("model weights (ONNX)")),
        "pt" | "pth" if binary => Some(Kind::Unscannable("model weights (PyTorch)")),
        "ckpt" if binary => Some(Kind::Unscannable("model weights (checkpoint)")),
        "bin" if binary => Some(Kind::Unscannable("model weights (bin)")),
        "pb" | "tflite" if binary => Some(Kind::Unscannable("model weights (TensorFlow)")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: usize, magic: &[u8]) -> Vec<u8> {
        let mut head = vec![b' '; offset];
        head.extend_from_slice(magic);
        head.resize(offset.max(300) + magic.len(), 0);
        head
    }

    fn unscannable(name: &str, head: &[u8]) -> &'static str {
        match detect(name, head) {
            Kind::Unscannable(what) => what,
            other => panic!("{name}: expected unscannable, got {other:?}"),
        }
    }

    #[test]
    fn archives_by_magic() {
        assert_eq!(
            detect("a.bin", b"PK\x03\x04rest"),
            Kind::Archive(ArchiveFormat::Zip)
        );
        assert_eq!(
            detect("empty.zip", b"PK\x05\x06\0\0"),
            Kind::Archive(ArchiveFormat::Zip)
        );
        assert_eq!(
            detect("x", b"\x1f\x8b\x08\0"),
            Kind::Archive(ArchiveFormat::Gzip)
        );
        assert_eq!(
            detect("x.txt", &at(257, b"ustar\0")),
            Kind::Archive(ArchiveFormat::Tar)
        );
        // A zip named .pt (PyTorch) is unpacked; its data.pkl member shows up as a pickle.
        assert_eq!(
            detect("model.pt", b"PK\x03\x04"),
            Kind::Archive(ArchiveFormat::Zip)
        );
    }

    #[test]
    fn office_documents_are_not_unpacked() {
        assert_eq!(unscannable("Report.DOCX", b"PK\x03\x04"), "Office document");
        assert_eq!(unscannable("a.xlsx", b"PK\x03\x04"), "Office document");
        let mut ooxml = b"PK\x03\x04".to_vec();
        ooxml.resize(26, 0);
        ooxml.extend_from_slice(&19u16.to_le_bytes());
        ooxml.extend_from_slice(&[0, 0]);
        ooxml.extend_from_slice(b"[Content_Types].xml");
        assert_eq!(unscannable("renamed.zip", &ooxml), "Office document");
    }

    #[test]
    fn pickles() {
        assert_eq!(detect("x", b"\x80\x04\x95\x10\0"), Kind::Pickle);
        assert_eq!(detect("x.dat", b"\x80\x02}q\0."), Kind::Pickle);
        assert_eq!(detect("model.PKL", b"(dp0\nS'a'\n"), Kind::Pickle);
        assert_eq!(detect("m.joblib", b""), Kind::Pickle);
        assert_eq!(detect("m.pickle", b"anything"), Kind::Pickle);
        // 0x80 followed by something else is not a pickle header.
        assert_ne!(detect("x", b"\x80\x09"), Kind::Pickle);
    }

    #[test]
    fn images_documents_and_data() {
        assert_eq!(unscannable("a", b"\x89PNG\r\n\x1a\n\0\0"), "PNG image");
        assert_eq!(unscannable("a.csv", b"\xff\xd8\xff\xe0"), "JPEG image");
        assert_eq!(unscannable("a", b"GIF89a\x01\0"), "GIF image");
        assert_eq!(unscannable("a", b"GIF87a"), "GIF image");
        assert_eq!(unscannable("a", b"II*\0\x08\0"), "TIFF image");
        assert_eq!(unscannable("a", b"MM\0*\0\0"), "TIFF image");
        assert_eq!(unscannable("a", b"RIFF\x10\0\0\0WEBPVP8 "), "WebP image");
        assert_eq!(unscannable("a.txt", b"%PDF-1.7\n"), "PDF document");
        assert_eq!(unscannable("a", &at(128, b"DICM")), "DICOM medical image");
        assert!(unscannable("m.h5", b"\x89HDF\r\n\x1a\n").starts_with("HDF5"));
        assert!(unscannable("a.npy", b"\x93NUMPY\x01\0").starts_with("NumPy"));
        assert_eq!(unscannable("a.db", b"SQLite format 3\0"), "SQLite database");
        assert_eq!(detect("t.dat", b"PAR1\x15\x04"), Kind::Scannable);
    }

    #[test]
    fn bmp_needs_its_structure() {
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 40, 0, 0, 0]);
        assert_eq!(unscannable("a", &bmp), "BMP image");
        assert_eq!(detect("bmi.csv", b"BMI,weight\n23.1,70\n"), Kind::Scannable);
    }

    #[test]
    fn executables() {
        assert_eq!(unscannable("a", b"\x7fELF\x02\x01\x01\0"), "ELF executable");
        assert_eq!(
            unscannable("a.exe", b"MZ\x90\0\x03\0"),
            "Windows executable (PE)"
        );
        assert_eq!(
            detect("mz.txt", b"MZ is a postcode area\n"),
            Kind::Scannable
        );
        assert_eq!(
            unscannable("a", b"\xcf\xfa\xed\xfe\x07\0"),
            "Mach-O executable"
        );
        assert_eq!(unscannable("a", b"\xfe\xed\xfa\xce"), "Mach-O executable");
    }

    #[test]
    fn model_weights() {
        let mut st = 20u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{\"__metadata__\":{}}");
        assert_eq!(unscannable("w", &st), "model weights (safetensors)");
        assert_eq!(
            unscannable("w.safetensors", b""),
            "model weights (safetensors)"
        );
        assert_eq!(
            unscannable("w.onnx", b"\x08\x07\x12\0"),
            "model weights (ONNX)"
        );
        assert_eq!(
            unscannable("w.pth", b"\x01\0\x02"),
            "model weights (PyTorch)"
        );
        assert_eq!(
            unscannable("w.ckpt", b"\x01\0"),
            "model weights (checkpoint)"
        );
        assert_eq!(
            unscannable("pytorch_model.bin", b"\x01\0"),
            "model weights (bin)"
        );
        assert_eq!(unscannable("w", b"GGUF\x03\0\0\0"), "model weights (GGUF)");
        // A text file with a weights extension is scanned like any text.
        assert_eq!(detect("notes.bin", b"plain words"), Kind::Scannable);
    }

    #[test]
    fn other_archives_are_reported_not_passed() {
        assert!(unscannable("a.7z", b"7z\xbc\xaf\x27\x1c").starts_with("7-Zip"));
        assert!(unscannable("a.xz", b"\xfd7zXZ\0").starts_with("xz"));
        assert!(unscannable("a.zst", b"\x28\xb5\x2f\xfd").starts_with("zstd"));
        assert!(unscannable("a.bz2", b"BZh91AY&SY\0").starts_with("bzip2"));
    }

    #[test]
    fn text_and_binary() {
        assert_eq!(
            detect("a.csv", b"name,dob\nAnn,1970-01-01\n"),
            Kind::Scannable
        );
        assert_eq!(detect("a.jsonl", b"{\"a\":1}\n"), Kind::Scannable);
        assert_eq!(detect("empty", b""), Kind::Scannable);
        assert_eq!(unscannable("a.csv", b"abc\0def"), "binary data");
        assert!(unscannable("a.txt", b"\xff\xfea\0b\0").starts_with("UTF-16"));
        // Text that happens to start with a digit run is not a safetensors header.
        assert_eq!(detect("n.txt", b"12345678{\"a\":1}"), Kind::Scannable);
    }

    #[test]
    fn magic_wins_over_extension() {
        assert_eq!(unscannable("data.csv", b"\x89PNG\r\n\x1a\n"), "PNG image");
        assert_eq!(unscannable("w.pkl", b"%PDF-1.4"), "PDF document");
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("x.tar.gz").as_deref(), Some("gz"));
        assert_eq!(extension("dir.d/Data.CSV").as_deref(), Some("csv"));
        assert_eq!(extension("a\\b.Parquet").as_deref(), Some("parquet"));
        assert_eq!(extension("noext"), None);
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("a."), None);
        assert_eq!(extension("a.toolongextension"), None);
        assert_eq!(extension("a.c$v"), None);
        assert_eq!(extension("a.t\u{1}"), None);
        assert_eq!(extension("a.ßx"), None);
        assert!(is_tar_gz("A.TAR.GZ") && is_tar_gz("x.tgz") && !is_tar_gz("x.gz"));
    }

    #[test]
    fn gzip_member_names() {
        assert_eq!(gzip_member_name("notes.txt.gz"), "notes.txt");
        assert_eq!(gzip_member_name("a.zip!/d/x.TGZ"), "x.tar");
        assert_eq!(gzip_member_name("stream"), "stream");
        assert_eq!(gzip_member_name(".gz"), ".gz");
    }

    #[test]
    fn display_names_escape_and_truncate() {
        assert_eq!(display_name(b"plain.csv"), "plain.csv");
        assert_eq!(display_name(b"a\nb\x1b[31m.txt"), "a\\u{a}b\\u{1b}[31m.txt");
        assert_eq!(display_name(b"bad\xff.csv"), "bad\u{fffd}.csv");
        assert_eq!(
            display_name("x\u{202e}txt.exe".as_bytes()),
            "x\\u{202e}txt.exe"
        );
        assert_eq!(display_name(b"\x7f\xc2\x85"), "\\u{7f}\\u{85}");
        let long = display_name(&[b'a'; 500]);
        assert_eq!(long.chars().count(), MAX_DISPLAY_CHARS);
        assert!(long.ends_with('…'));
        let exact = display_name(&[b'a'; MAX_DISPLAY_CHARS]);
        assert_eq!(exact, "a".repeat(MAX_DISPLAY_CHARS));
        // Escapes are never cut in half.
        let escapes = display_name(&[1u8; 100]);
        assert!(escapes.chars().count() <= MAX_DISPLAY_CHARS);
        assert!(escapes.trim_end_matches('…').ends_with('}'));
    }
}
