//! Unpacking submitted archives so that every file inside gets scanned.
//!
//! An archive is the easiest way to carry a file past a scanner, and the easiest way to
//! knock one over (zip bombs, `../` paths, links pointing outside the extraction directory).
//! So nothing in an archive is trusted:
//!
//! - sizes are counted while decompressing, never read from headers, and extraction stops
//!   before a limit would be passed (so the disk never holds more than the limits allow);
//! - member names never become paths: members are written under names the unpacker picks;
//! - links, devices and escaping paths reject the whole archive, so a reviewer sees why
//!   instead of getting a silently trimmed export;
//! - archives inside archives are unpacked too, to a bounded depth, so that only leaves
//!   (files the scanner or a reviewer can judge) come back.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tar::{EntryType, PaxExtensions};
use zip::result::ZipError;

use crate::kind::{self, ArchiveFormat, HEAD_LEN, Kind};

/// Below this many decompressed bytes the ratio limit is not applied: small files that
/// compress very well (a column of zeros) are not bombs.
const RATIO_FLOOR: u64 = 1024 * 1024;

/// Nesting is capped here whatever the limits say, so that recursion stays shallow.
const HARD_MAX_DEPTH: u32 = 32;

/// Largest tar extension header (GNU long name, pax records) read into memory.
const MAX_TAR_EXTENSION: u64 = 1024 * 1024;

/// Limits on what unpacking one submitted archive may produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed member, in bytes.
    pub max_member_bytes: u64,
    /// Most bytes written for one submitted archive, all levels together (nested archives
    /// count as well as their contents).
    pub max_total_bytes: u64,
    /// Largest ratio of bytes written to the submitted archive's size; applied once more
    /// than 1 MiB has been written.
    pub max_ratio: u64,
    /// Most levels of archives, the submitted one included: 1 unpacks no nested archive.
    /// Values above 32 act as 32.
    pub max_depth: u32,
    /// Most file members, all levels together (directories are not counted).
    pub max_members: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_member_bytes: 1 << 30,
            max_total_bytes: 4 << 30,
            max_ratio: 100,
            max_depth: 3,
            max_members: 10_000,
        }
    }
}

/// A leaf member of an unpacked archive, extracted to disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Where it sits, for reviewers: "outer.zip!/dir/inner.tar.gz!/notes.txt" (display names).
    pub name: String,
    /// The extracted bytes on disk, inside out_dir, named by the unpacker (never by the
    /// member's name): e.g. out_dir/m000017.csv (sanitised extension kept, so readers that
    /// look at extensions still work).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Kind of the member (never Archive: nested archives are unpacked recursively, up to
    /// max_depth).
    pub kind: Kind,
}

/// Which size limit was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeLimit {
    /// [`Limits::max_member_bytes`].
    Member,
    /// [`Limits::max_total_bytes`].
    Total,
}

impl std::fmt::Display for SizeLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SizeLimit::Member => "per-member",
            SizeLimit::Total => "total",
        })
    }
}

/// Why an archive was not unpacked. `archive` is the display name of the (possibly nested)
/// archive at fault, `member` the display name of the member within it.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading the archive or writing a member failed.
    #[error("{archive}: I/O error while {action}: {source}")]
    Io {
        /// The archive.
        archive: String,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The archive is damaged or uses something the unpacker does not support.
    #[error("{archive}: corrupt or unsupported archive: {message}")]
    Corrupt {
        /// The archive.
        archive: String,
        /// What is wrong.
        message: String,
    },
    /// A member that must not be extracted (escaping path, link, device, encrypted).
    #[error("{archive}: member `{member}` refused: {reason}")]
    UnsafeMember {
        /// The archive.
        archive: String,
        /// The member.
        member: String,
        /// Why.
        reason: &'static str,
    },
    /// A member or the total decompressed past a size limit.
    #[error("{archive}: member `{member}` exceeds the {which} size limit of {limit} bytes")]
    TooLarge {
        /// The archive.
        archive: String,
        /// The member being extracted when the limit was hit.
        member: String,
        /// Which limit.
        which: SizeLimit,
        /// The limit, in bytes.
        limit: u64,
    },
    /// Decompressed data grew past `limit` times the compressed size: a likely zip bomb.
    #[error(
        "{archive}: member `{member}` expands past {limit} times the compressed size \
         ({decompressed} bytes from {compressed}); possible zip bomb"
    )]
    Ratio {
        /// The archive.
        archive: String,
        /// The member being extracted when the limit was hit.
        member: String,
        /// The ratio limit.
        limit: u64,
        /// Compressed bytes the ratio is measured against.
        compressed: u64,
        /// Decompressed bytes so far.
        decompressed: u64,
    },
    /// Archives nested deeper than allowed.
    #[error("{archive}: archive nested more than {limit} levels deep")]
    TooDeep {
        /// The nested archive that was one level too deep.
        archive: String,
        /// The depth limit.
        limit: u32,
    },
    /// More members than allowed.
    #[error("{archive}: more than {limit} members")]
    TooManyMembers {
        /// The archive being unpacked when the limit was hit.
        archive: String,
        /// The member limit.
        limit: u64,
    },
}

/// Unpacks `archive` (a file the gate owns) into `out_dir` and returns its leaf members in
/// archive order. `display` is the archive's display name, the prefix of member names.
/// On error `out_dir` may hold partial output; the caller deletes it.
pub fn unpack(
    archive: &Path,
    display: &str,
    format: ArchiveFormat,
    limits: &Limits,
    out_dir: &Path,
) -> Result<Vec<Member>, ArchiveError> {
    let compressed = fs::metadata(archive)
        .map_err(|e| io_error(display, "reading the archive's metadata", e))?
        .len();
    let mut unpacker = Unpacker {
        budget: Budget {
            limits: *limits,
            compressed: compressed.max(1),
            total: 0,
        },
        out_dir,
        members: 0,
        next_id: 0,
        found: Vec::new(),
    };
    unpacker.archive(archive, display, format, 1)?;
    Ok(unpacker.found)
}

/// The byte limits shared by every level of one unpack.
struct Budget {
    limits: Limits,
    /// Size of the submitted archive: the ratio's denominator.
    compressed: u64,
    /// Bytes written so far, all levels.
    total: u64,
}

impl Budget {
    /// Checks whether a member that has `written` bytes may take `more`.
    fn admit(
        &self,
        written: u64,
        more: u64,
        archive: &str,
        member: &str,
    ) -> Result<(), ArchiveError> {
        let too_large = |which, limit| ArchiveError::TooLarge {
            archive: archive.to_owned(),
            member: member.to_owned(),
            which,
            limit,
        };
        let limits = &self.limits;
        if written.saturating_add(more) > limits.max_member_bytes {
            return Err(too_large(SizeLimit::Member, limits.max_member_bytes));
        }
        let total = self.total.saturating_add(more);
        if total > limits.max_total_bytes {
            return Err(too_large(SizeLimit::Total, limits.max_total_bytes));
        }
        ratio_check(total, self.compressed, limits.max_ratio).map_err(|()| ArchiveError::Ratio {
            archive: archive.to_owned(),
            member: member.to_owned(),
            limit: limits.max_ratio,
            compressed: self.compressed,
            decompressed: total,
        })
    }
}

/// Fails once `decompressed` is past the floor and more than `max_ratio` times `compressed`.
fn ratio_check(decompressed: u64, compressed: u64, max_ratio: u64) -> Result<(), ()> {
    if decompressed > RATIO_FLOOR && decompressed > max_ratio.saturating_mul(compressed) {
        Err(())
    } else {
        Ok(())
    }
}

/// State of one call to [`unpack`].
struct Unpacker<'a> {
    budget: Budget,
    out_dir: &'a Path,
    /// File members seen so far, all levels.
    members: u64,
    /// Number for the next extracted file's name.
    next_id: u64,
    /// Leaf members, in archive order.
    found: Vec<Member>,
}

impl Unpacker<'_> {
    /// Unpacks one archive at nesting level `depth` (the submitted archive is level 1).
    fn archive(
        &mut self,
        path: &Path,
        display: &str,
        format: ArchiveFormat,
        depth: u32,
    ) -> Result<(), ArchiveError> {
        let max_depth = self.budget.limits.max_depth.min(HARD_MAX_DEPTH);
        if depth > max_depth {
            return Err(ArchiveError::TooDeep {
                archive: display.to_owned(),
                limit: max_depth,
            });
        }
        let file = File::open(path).map_err(|e| io_error(display, "opening the archive", e))?;
        match format {
            ArchiveFormat::Zip => self.zip(file, display, depth),
            ArchiveFormat::Tar => self.tar(BufReader::new(file), display, depth),
            ArchiveFormat::Gzip => self.gzip(file, display, depth),
        }
    }

    fn zip(&mut self, file: File, display: &str, depth: u32) -> Result<(), ArchiveError> {
        let mut zip =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| zip_error(display, None, e))?;
        for index in 0..zip.len() {
            let entry = zip
                .by_index_raw(index)
                .map_err(|e| zip_error(display, None, e))?;
            let raw_name = entry.name_raw().to_vec();
            let member = kind::display_name(&raw_name);
            let action = zip_action(&raw_name, entry.unix_mode(), entry.encrypted());
            drop(entry);
            match action {
                Action::Skip => continue,
                Action::Refuse(reason) => return Err(unsafe_member(display, &member, reason)),
                Action::Extract => {}
            }
            let mut reader = zip
                .by_index(index)
                .map_err(|e| zip_error(display, Some(&member), e))?;
            self.extract(&mut reader, display, &member, depth)?;
        }
        Ok(())
    }

    fn tar<R: Read>(&mut self, reader: R, display: &str, depth: u32) -> Result<(), ArchiveError> {
        let mut archive = tar::Archive::new(reader);
        // Raw entries: extension headers are read here, with a size cap, rather than by the
        // tar crate, which would read a hostile long-name header of any size into memory.
        let entries = archive
            .entries()
            .map_err(|e| corrupt(display, e.to_string()))?
            .raw(true);
        let mut pending = TarPending::default();
        for entry in entries {
            let mut entry = entry.map_err(|e| corrupt(display, e.to_string()))?;
            let entry_type = entry.header().entry_type();
            match entry_type {
                EntryType::GNULongName => {
                    let mut name = read_tar_extension(&mut entry, display)?;
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                    pending.name = Some(name);
                    continue;
                }
                EntryType::XHeader => {
                    let data = read_tar_extension(&mut entry, display)?;
                    pending.add_pax(&data, display)?;
                    continue;
                }
                EntryType::XGlobalHeader | EntryType::GNULongLink => continue,
                _ => {}
            }
            let current = std::mem::take(&mut pending);
            let raw_name = current
                .name
                .unwrap_or_else(|| entry.path_bytes().into_owned());
            let member = kind::display_name(&raw_name);
            if let Some(reason) = current.refusal {
                return Err(unsafe_member(display, &member, reason));
            }
            check_pax_size(current.size, entry.size(), display, &member)?;
            match tar_action(&raw_name, &entry_type) {
                Action::Skip => continue,
                Action::Refuse(reason) => return Err(unsafe_member(display, &member, reason)),
                Action::Extract => self.extract(&mut entry, display, &member, depth)?,
            }
        }
        Ok(())
    }

    fn gzip(&mut self, file: File, display: &str, depth: u32) -> Result<(), ArchiveError> {
        let compressed = file
            .metadata()
            .map_err(|e| io_error(display, "reading the archive's metadata", e))?
            .len();
        let decoder = MultiGzDecoder::new(BufReader::new(file));
        let mut stream = StreamGuard {
            inner: decoder,
            read: 0,
            compressed: compressed.max(1),
            limits: self.budget.limits,
            archive: display,
            tripped: None,
        };
        let head = read_head(&mut stream, 512);
        let head = match (head, stream.tripped.take()) {
            (_, Some(err)) => return Err(err),
            (Ok(head), None) => head,
            (Err(e), None) => return Err(corrupt(display, e.to_string())),
        };
        let result = if kind::is_tar_header(&head) {
            self.tar(Cursor::new(head).chain(&mut stream), display, depth)
        } else {
            let member = kind::gzip_member_name(display);
            let mut reader = Cursor::new(head).chain(&mut stream);
            self.extract(&mut reader, display, &member, depth)
        };
        // A tripped stream limit is the real cause of whatever error the reader reported.
        match stream.tripped.take() {
            Some(err) => Err(err),
            None => result,
        }
    }

    /// Writes one file member to disk under a fresh name, then either records it as a leaf
    /// or, if it is an archive itself, unpacks it one level deeper.
    fn extract(
        &mut self,
        reader: &mut dyn Read,
        archive: &str,
        member: &str,
        depth: u32,
    ) -> Result<(), ArchiveError> {
        self.members += 1;
        if self.members > self.budget.limits.max_members {
            return Err(ArchiveError::TooManyMembers {
                archive: archive.to_owned(),
                limit: self.budget.limits.max_members,
            });
        }
        let path = self.next_path(member);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(archive, "creating an extracted file", e))?;
        let mut sink = Sink {
            file,
            written: 0,
            head: Vec::new(),
            budget: &mut self.budget,
            archive,
            member,
            failure: None,
        };
        let copied = io::copy(reader, &mut sink).and_then(|_| sink.file.flush());
        let Sink {
            written,
            head,
            failure,
            ..
        } = sink;
        if let Some(err) = failure {
            return Err(err);
        }
        copied.map_err(|e| corrupt(archive, format!("member `{member}`: {e}")))?;
        let name = format!("{archive}!/{member}");
        match kind::detect(member, &head) {
            Kind::Archive(format) => {
                self.archive(&path, &name, format, depth + 1)?;
                // Only its leaves matter from here on.
                fs::remove_file(&path)
                    .map_err(|e| io_error(&name, "removing an unpacked nested archive", e))
            }
            kind => {
                self.found.push(Member {
                    name,
                    path,
                    size: written,
                    kind,
                });
                Ok(())
            }
        }
    }

    /// A fresh path in out_dir, keeping the member's extension when it is a safe one.
    fn next_path(&mut self, member: &str) -> PathBuf {
        let id = self.next_id;
        self.next_id += 1;
        let file_name = match kind::extension(member) {
            Some(ext) => format!("m{id:06}.{ext}"),
            None => format!("m{id:06}"),
        };
        self.out_dir.join(file_name)
    }
}

/// What to do with an archive entry.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Extract,
    Skip,
    Refuse(&'static str),
}

/// Why a member path is unsafe, if it is.
fn path_problem(raw: &[u8]) -> Option<&'static str> {
    if raw.is_empty() {
        return Some("empty name");
    }
    if matches!(raw, [b'/' | b'\\', ..]) {
        return Some("absolute path");
    }
    if matches!(raw, [drive, b':', ..] if drive.is_ascii_alphabetic()) {
        return Some("absolute path (drive letter)");
    }
    let mut components = raw.split(|b| matches!(b, b'/' | b'\\'));
    if components.any(|c| c == b"..") {
        return Some("path has a `..` component");
    }
    None
}

/// Decides a zip entry from its name, Unix mode (if recorded) and encryption flag.
fn zip_action(raw_name: &[u8], unix_mode: Option<u32>, encrypted: bool) -> Action {
    if let Some(reason) = path_problem(raw_name) {
        return Action::Refuse(reason);
    }
    const S_IFMT: u32 = 0o170_000;
    match unix_mode.map(|mode| mode & S_IFMT) {
        None | Some(0 | 0o100_000) => {}
        Some(0o040_000) => return Action::Skip,
        Some(0o120_000) => return Action::Refuse("symbolic link"),
        Some(_) => return Action::Refuse("device, FIFO or socket"),
    }
    if matches!(raw_name.last(), Some(b'/' | b'\\')) {
        Action::Skip
    } else if encrypted {
        Action::Refuse("encrypted (cannot be scanned)")
    } else {
        Action::Extract
    }
}

/// Decides a tar entry (extension headers are handled before this).
fn tar_action(raw_name: &[u8], entry_type: &EntryType) -> Action {
    if let Some(reason) = path_problem(raw_name) {
        return Action::Refuse(reason);
    }
    match entry_type {
        EntryType::Regular | EntryType::Continuous => Action::Extract,
        EntryType::Directory => Action::Skip,
        EntryType::Symlink => Action::Refuse("symbolic link"),
        EntryType::Link => Action::Refuse("hard link"),
        EntryType::Char => Action::Refuse("character device"),
        EntryType::Block => Action::Refuse("block device"),
        EntryType::Fifo => Action::Refuse("FIFO"),
        EntryType::GNUSparse => Action::Refuse("sparse file (not supported)"),
        _ => Action::Refuse("unsupported tar entry type"),
    }
}

/// What extension headers said about the next tar entry.
#[derive(Default)]
struct TarPending {
    name: Option<Vec<u8>>,
    size: Option<u64>,
    refusal: Option<&'static str>,
}

impl TarPending {
    fn add_pax(&mut self, data: &[u8], archive: &str) -> Result<(), ArchiveError> {
        for record in PaxExtensions::new(data) {
            let record = record.map_err(|e| corrupt(archive, format!("bad pax header: {e}")))?;
            let key = record.key_bytes();
            if key == b"path" {
                self.name = Some(record.value_bytes().to_vec());
            } else if key == b"size" {
                let size = record.value().ok().and_then(|v| v.parse().ok());
                let size = size.ok_or_else(|| corrupt(archive, "bad pax size".to_owned()))?;
                self.size = Some(size);
            } else if key.starts_with(b"GNU.sparse") {
                self.refusal = Some("sparse file (not supported)");
            }
        }
        Ok(())
    }
}

/// A pax size different from the header's would desynchronise raw reading; such sizes are
/// only needed for members over 8 GiB.
fn check_pax_size(
    pax: Option<u64>,
    header: u64,
    archive: &str,
    member: &str,
) -> Result<(), ArchiveError> {
    match pax {
        Some(pax) if pax != header => Err(corrupt(
            archive,
            format!("member `{member}`: pax size {pax} differs from header size {header}"),
        )),
        _ => Ok(()),
    }
}

/// Reads a tar extension header's data, refusing oversized ones.
fn read_tar_extension<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    archive: &str,
) -> Result<Vec<u8>, ArchiveError> {
    let size = entry.size();
    if size > MAX_TAR_EXTENSION {
        return Err(corrupt(
            archive,
            format!("extension header of {size} bytes exceeds the {MAX_TAR_EXTENSION}-byte limit"),
        ));
    }
    let mut data = Vec::new();
    entry
        .take(MAX_TAR_EXTENSION)
        .read_to_end(&mut data)
        .map_err(|e| corrupt(archive, format!("extension header: {e}")))?;
    Ok(data)
}

/// Reads up to `len` bytes, fewer only at end of stream.
fn read_head(reader: &mut impl Read, len: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(len);
    reader.take(len as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Counts the bytes a decompressor produces, so that data the unpacker skips over (a tar
/// entry it does not extract) is bounded too. On a limit it records why and fails.
struct StreamGuard<'a, R> {
    inner: R,
    read: u64,
    compressed: u64,
    limits: Limits,
    archive: &'a str,
    tripped: Option<ArchiveError>,
}

impl<R: Read> Read for StreamGuard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        let member = "(decompressed stream)".to_owned();
        let archive = self.archive.to_owned();
        if self.read > self.limits.max_total_bytes {
            self.tripped = Some(ArchiveError::TooLarge {
                archive,
                member,
                which: SizeLimit::Total,
                limit: self.limits.max_total_bytes,
            });
        } else if ratio_check(self.read, self.compressed, self.limits.max_ratio).is_err() {
            self.tripped = Some(ArchiveError::Ratio {
                archive,
                member,
                limit: self.limits.max_ratio,
                compressed: self.compressed,
                decompressed: self.read,
            });
        } else {
            return Ok(n);
        }
        Err(io::Error::other("decompression limit reached"))
    }
}

/// Writes a member to disk, checking the limits before every write and keeping the first
/// bytes for kind detection. On a failure it records why and fails.
struct Sink<'a> {
    file: File,
    written: u64,
    head: Vec<u8>,
    budget: &'a mut Budget,
    archive: &'a str,
    member: &'a str,
    failure: Option<ArchiveError>,
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let more = buf.len() as u64;
        if let Err(err) = self
            .budget
            .admit(self.written, more, self.archive, self.member)
        {
            self.failure = Some(err);
            return Err(io::Error::other("unpack limit reached"));
        }
        if let Err(e) = self.file.write_all(buf) {
            self.failure = Some(io_error(self.archive, "writing an extracted file", e));
            return Err(io::Error::other("writing an extracted file failed"));
        }
        self.written += more;
        self.budget.total += more;
        let room = HEAD_LEN.saturating_sub(self.head.len());
        self.head
            .extend_from_slice(buf.get(..room.min(buf.len())).unwrap_or_default());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn io_error(archive: &str, action: &'static str, source: io::Error) -> ArchiveError {
    ArchiveError::Io {
        archive: archive.to_owned(),
        action,
        source,
    }
}

fn corrupt(archive: &str, message: String) -> ArchiveError {
    ArchiveError::Corrupt {
        archive: archive.to_owned(),
        message,
    }
}

fn unsafe_member(archive: &str, member: &str, reason: &'static str) -> ArchiveError {
    ArchiveError::UnsafeMember {
        archive: archive.to_owned(),
        member: member.to_owned(),
        reason,
    }
}

fn zip_error(archive: &str, member: Option<&str>, err: ZipError) -> ArchiveError {
    match (member, err) {
        (Some(member), ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED)) => {
            unsafe_member(archive, member, "encrypted (cannot be scanned)")
        }
        (Some(member), err) => corrupt(archive, format!("member `{member}`: {err}")),
        (None, err) => corrupt(archive, err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_problem(b"a/b.csv"), None);
        assert_eq!(path_problem(b"a..b/c"), None);
        assert_eq!(path_problem(b"/etc/passwd"), Some("absolute path"));
        assert_eq!(path_problem(b"\\x"), Some("absolute path"));
        assert!(path_problem(b"C:x").is_some());
        assert!(path_problem(b"../evil").is_some());
        assert!(path_problem(b"a/../../evil").is_some());
        assert!(path_problem(b"a\\..\\evil").is_some());
        assert!(path_problem(b"a/..").is_some());
        assert!(path_problem(b"").is_some());
    }

    #[test]
    fn zip_modes() {
        assert_eq!(zip_action(b"a", None, false), Action::Extract);
        assert_eq!(zip_action(b"a", Some(0o100_644), false), Action::Extract);
        assert_eq!(zip_action(b"d/", None, false), Action::Skip);
        assert_eq!(zip_action(b"d", Some(0o040_755), false), Action::Skip);
        assert_eq!(
            zip_action(b"l", Some(0o120_777), false),
            Action::Refuse("symbolic link")
        );
        assert!(matches!(
            zip_action(b"f", Some(0o010_644), false),
            Action::Refuse(_)
        ));
        assert!(matches!(
            zip_action(b"s", Some(0o140_644), false),
            Action::Refuse(_)
        ));
        assert!(matches!(zip_action(b"e", None, true), Action::Refuse(_)));
    }

    #[test]
    fn ratio_floor() {
        assert!(ratio_check(RATIO_FLOOR, 1, 1).is_ok());
        assert!(ratio_check(RATIO_FLOOR + 1, 1, 100).is_err());
        assert!(ratio_check(RATIO_FLOOR + 1, RATIO_FLOOR, 100).is_ok());
    }
}
