//! Unpacking archives built here with the zip, tar and flate2 writers, including hostile
//! ones: escaping paths, links, bombs, deep nesting, corrupt data and odd names.

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::sync::OnceLock;

use deid_gate::archive::{ArchiveError, Limits, Member, SizeLimit, unpack};
use deid_gate::kind::{ArchiveFormat, Kind};
use flate2::Compression;
use flate2::write::GzEncoder;
use tempfile::TempDir;
use zip::write::SimpleFileOptions;

const MIB: u64 = 1024 * 1024;

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(*name, deflated()).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

/// A tar header written byte by byte, bypassing the builder's path checks.
fn raw_tar_entry(name: &[u8], entry_type: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    header.set_entry_type(entry_type);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut tar = tar::Builder::new(Vec::new());
    tar.append(&header, data).unwrap();
    tar.into_inner().unwrap()
}

/// An unpack into a fresh directory: the archive is written next to it.
struct Run {
    dir: TempDir,
}

impl Run {
    fn new() -> Run {
        Run {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn out(&self) -> std::path::PathBuf {
        self.dir.path().join("out")
    }

    fn unpack(
        &self,
        display: &str,
        bytes: &[u8],
        format: ArchiveFormat,
        limits: &Limits,
    ) -> Result<Vec<Member>, ArchiveError> {
        let archive = self.dir.path().join("submitted");
        fs::write(&archive, bytes).unwrap();
        fs::create_dir_all(self.out()).unwrap();
        unpack(&archive, display, format, limits, &self.out())
    }

    fn out_bytes(&self) -> u64 {
        fs::read_dir(self.out())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    }
}

fn unpack_ok(display: &str, bytes: &[u8], format: ArchiveFormat) -> (Run, Vec<Member>) {
    let run = Run::new();
    let members = run
        .unpack(display, bytes, format, &Limits::default())
        .unwrap();
    (run, members)
}

fn unpack_err(display: &str, bytes: &[u8], format: ArchiveFormat, limits: &Limits) -> ArchiveError {
    match Run::new().unpack(display, bytes, format, limits) {
        Ok(members) => panic!("{display}: expected an error, got {members:?}"),
        Err(err) => err,
    }
}

fn names(members: &[Member]) -> Vec<&str> {
    members.iter().map(|m| m.name.as_str()).collect()
}

#[test]
fn zip_with_two_csvs() {
    let a = b"name,dob\nAnn,1970-01-01\n";
    let b = b"id,mrn\n1,12345\n2,67890\n";
    let zip = zip_of(&[("a.csv", a), ("dir/b.CSV", b)]);
    let (run, members) = unpack_ok("sub.zip", &zip, ArchiveFormat::Zip);
    assert_eq!(names(&members), ["sub.zip!/a.csv", "sub.zip!/dir/b.CSV"]);
    assert_eq!(members[0].size, a.len() as u64);
    assert_eq!(members[1].size, b.len() as u64);
    for (member, data) in members.iter().zip([&a[..], &b[..]]) {
        assert_eq!(member.kind, Kind::Scannable);
        assert!(member.path.starts_with(run.out()));
        assert_eq!(member.path.extension().unwrap(), "csv");
        assert_eq!(fs::read(&member.path).unwrap(), data);
    }
}

#[test]
fn directories_are_skipped_and_empty_zip_is_fine() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.add_directory("d/", deflated()).unwrap();
    zip.start_file("d/x.txt", deflated()).unwrap();
    zip.write_all(b"hello").unwrap();
    let zip = zip.finish().unwrap().into_inner();
    let (_run, members) = unpack_ok("d.zip", &zip, ArchiveFormat::Zip);
    assert_eq!(names(&members), ["d.zip!/d/x.txt"]);

    let (_run, members) = unpack_ok("empty.zip", &zip_of(&[]), ArchiveFormat::Zip);
    assert!(members.is_empty());
}

#[test]
fn tar_gz_with_nested_zip() {
    let inner = zip_of(&[("x.txt", b"inner text"), ("y.jsonl", b"{\"a\":1}\n")]);
    let tar = tar_of(&[("a/inner.zip", &inner), ("a/top.txt", b"top")]);
    let (run, members) = unpack_ok("outer.tar.gz", &gzip(&tar), ArchiveFormat::Gzip);
    assert_eq!(
        names(&members),
        [
            "outer.tar.gz!/a/inner.zip!/x.txt",
            "outer.tar.gz!/a/inner.zip!/y.jsonl",
            "outer.tar.gz!/a/top.txt",
        ]
    );
    assert!(members.iter().all(|m| m.kind == Kind::Scannable));
    assert_eq!(fs::read(&members[0].path).unwrap(), b"inner text");
    // The nested archive itself is gone: only leaves remain.
    assert_eq!(fs::read_dir(run.out()).unwrap().count(), 3);
}

#[test]
fn plain_tar_and_plain_gzip() {
    let tar = tar_of(&[("notes.txt", b"some notes")]);
    let (_run, members) = unpack_ok("x.tar", &tar, ArchiveFormat::Tar);
    assert_eq!(names(&members), ["x.tar!/notes.txt"]);

    let (_run, members) = unpack_ok("notes.txt.gz", &gzip(b"gzipped notes"), ArchiveFormat::Gzip);
    assert_eq!(names(&members), ["notes.txt.gz!/notes.txt"]);
    assert_eq!(members[0].size, 13);
    assert_eq!(members[0].path.extension().unwrap(), "txt");
}

#[test]
fn long_tar_names_are_followed() {
    let long = format!("{}/data.csv", "d".repeat(150));
    let tar = tar_of(&[(&long, b"a,b\n")]);
    let (_run, members) = unpack_ok("x.tar", &tar, ArchiveFormat::Tar);
    assert_eq!(names(&members), [format!("x.tar!/{long}")]);
}

fn assert_unsafe(err: ArchiveError, expected_member: &str) {
    match &err {
        ArchiveError::UnsafeMember { member, .. } => assert_eq!(member, expected_member),
        other => panic!("expected UnsafeMember for {expected_member}, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(expected_member), "{message}");
}

#[test]
fn escaping_paths_are_refused() {
    let limits = Limits::default();
    for name in ["../evil", "/etc/passwd", "a/../../evil"] {
        let tar = raw_tar_entry(name.as_bytes(), tar::EntryType::Regular, b"", b"x");
        assert_unsafe(unpack_err("t.tar", &tar, ArchiveFormat::Tar, &limits), name);
        let zip = zip_of(&[("ok.txt", b"fine"), (name, b"x")]);
        assert_unsafe(unpack_err("z.zip", &zip, ArchiveFormat::Zip, &limits), name);
    }
    // A pax header naming `..` is caught too, though the plain header name is harmless.
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_pax_extensions([("path", b"../pax-evil".as_slice())])
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    tar.append_data(&mut header, "harmless", b"x".as_slice())
        .unwrap();
    let tar = tar.into_inner().unwrap();
    assert_unsafe(
        unpack_err("p.tar", &tar, ArchiveFormat::Tar, &limits),
        "../pax-evil",
    );
}

#[test]
fn links_and_devices_are_refused() {
    let limits = Limits::default();
    let cases = [
        (tar::EntryType::Symlink, "symbolic link"),
        (tar::EntryType::Link, "hard link"),
        (tar::EntryType::Char, "character device"),
        (tar::EntryType::Block, "block device"),
        (tar::EntryType::Fifo, "FIFO"),
    ];
    for (entry_type, expected) in cases {
        let tar = raw_tar_entry(b"link", entry_type, b"/etc/shadow", b"");
        match unpack_err("t.tar", &tar, ArchiveFormat::Tar, &limits) {
            ArchiveError::UnsafeMember { reason, .. } => assert_eq!(reason, expected),
            other => panic!("{expected}: got {other:?}"),
        }
    }
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.add_symlink("link", "/etc/shadow", SimpleFileOptions::default())
        .unwrap();
    let zip = zip.finish().unwrap().into_inner();
    match unpack_err("z.zip", &zip, ArchiveFormat::Zip, &limits) {
        ArchiveError::UnsafeMember { reason, .. } => assert_eq!(reason, "symbolic link"),
        other => panic!("zip symlink: got {other:?}"),
    }
}

/// 200 MB of zeros deflated in a zip, written chunk by chunk into the encoder.
fn zero_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = deflated().large_file(true);
        zip.start_file("zeros.csv", options).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..200 {
            zip.write_all(&chunk).unwrap();
        }
        zip.finish().unwrap().into_inner()
    })
}

#[test]
fn zero_bomb_is_stopped_by_ratio() {
    let limits = Limits {
        max_member_bytes: 50 * MIB,
        ..Limits::default()
    };
    let run = Run::new();
    let err = run
        .unpack("bomb.zip", zero_bomb(), ArchiveFormat::Zip, &limits)
        .unwrap_err();
    assert!(
        matches!(err, ArchiveError::Ratio { limit: 100, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("zip bomb"), "{err}");
    let compressed = zero_bomb().len() as u64;
    assert!(run.out_bytes() <= 100 * compressed);
    assert!(run.out_bytes() < limits.max_member_bytes);
}

#[test]
fn zero_bomb_is_stopped_by_member_size() {
    let limits = Limits {
        max_member_bytes: 10 * MIB,
        max_ratio: u64::MAX,
        ..Limits::default()
    };
    let run = Run::new();
    let err = run
        .unpack("bomb.zip", zero_bomb(), ArchiveFormat::Zip, &limits)
        .unwrap_err();
    assert!(
        matches!(err, ArchiveError::TooLarge { which: SizeLimit::Member, limit, .. } if limit == 10 * MIB),
        "{err:?}"
    );
    assert!(run.out_bytes() <= limits.max_member_bytes);
}

#[test]
fn total_limit_spans_members_and_levels() {
    let data = vec![b'a'; 600];
    let inner = zip_of(&[("x.txt", &data), ("y.txt", &data)]);
    let outer = zip_of(&[("a.txt", &data), ("inner.zip", &inner)]);
    let limits = Limits {
        max_total_bytes: 1500,
        ..Limits::default()
    };
    let err = unpack_err("o.zip", &outer, ArchiveFormat::Zip, &limits);
    assert!(
        matches!(
            err,
            ArchiveError::TooLarge {
                which: SizeLimit::Total,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn gzip_bomb_is_stopped() {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..20 {
        gz.write_all(&chunk).unwrap();
    }
    let gz = gz.finish().unwrap();
    let run = Run::new();
    let err = run
        .unpack("zeros.csv.gz", &gz, ArchiveFormat::Gzip, &Limits::default())
        .unwrap_err();
    assert!(matches!(err, ArchiveError::Ratio { .. }), "{err:?}");
    // Nothing past the ratio limit (or its 1 MiB floor) reached the disk.
    assert!(run.out_bytes() <= MIB.max(100 * gz.len() as u64));
}

fn nested_zip(levels: usize) -> Vec<u8> {
    let mut bytes = zip_of(&[("leaf.txt", b"deep down")]);
    for level in 1..levels {
        bytes = zip_of(&[(&format!("level{level}.zip"), &bytes)]);
    }
    bytes
}

#[test]
fn nesting_depth_is_limited() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let run = Run::new();
    let members = run
        .unpack("n.zip", &nested_zip(3), ArchiveFormat::Zip, &limits)
        .unwrap();
    assert_eq!(names(&members), ["n.zip!/level2.zip!/level1.zip!/leaf.txt"]);

    let err = unpack_err("n.zip", &nested_zip(5), ArchiveFormat::Zip, &limits);
    match &err {
        ArchiveError::TooDeep { archive, limit } => {
            assert_eq!(*limit, 3);
            assert_eq!(archive, "n.zip!/level4.zip!/level3.zip!/level2.zip");
        }
        other => panic!("got {other:?}"),
    }
}

#[test]
fn member_count_is_limited_across_levels() {
    let limits = Limits {
        max_members: 4,
        ..Limits::default()
    };
    let flat = zip_of(&[
        ("1", b"1"),
        ("2", b"2"),
        ("3", b"3"),
        ("4", b"4"),
        ("5", b"5"),
    ]);
    let err = unpack_err("f.zip", &flat, ArchiveFormat::Zip, &limits);
    assert!(
        matches!(err, ArchiveError::TooManyMembers { limit: 4, .. }),
        "{err:?}"
    );

    let inner = zip_of(&[("1", b"1"), ("2", b"2"), ("3", b"3")]);
    let outer = zip_of(&[("a", b"a"), ("inner.zip", &inner)]);
    let err = unpack_err("o.zip", &outer, ArchiveFormat::Zip, &limits);
    assert!(
        matches!(err, ArchiveError::TooManyMembers { .. }),
        "{err:?}"
    );
}

fn assert_corrupt(display: &str, bytes: &[u8], format: ArchiveFormat) {
    match unpack_err(display, bytes, format, &Limits::default()) {
        ArchiveError::Corrupt { archive, .. } => assert!(archive.starts_with(display)),
        other => panic!("{display}: expected Corrupt, got {other:?}"),
    }
}

#[test]
fn corrupt_archives_are_errors() {
    let text: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("{i},row\n").into_bytes())
        .collect();
    let zip = zip_of(&[("a.csv", &text)]);
    assert_corrupt("cut.zip", &zip[..zip.len() / 2], ArchiveFormat::Zip);
    assert_corrupt(
        "junk.zip",
        b"PK\x03\x04 this is not a zip",
        ArchiveFormat::Zip,
    );
    // Damaged compressed data behind an intact directory.
    let mut damaged = zip.clone();
    for byte in &mut damaged[100..400] {
        *byte ^= 0x55;
    }
    assert_corrupt("damaged.zip", &damaged, ArchiveFormat::Zip);

    let gz = gzip(&text);
    assert_corrupt("cut.csv.gz", &gz[..gz.len() / 2], ArchiveFormat::Gzip);
    assert_corrupt("junk.gz", b"\x1f\x8b\x08\0garbage", ArchiveFormat::Gzip);
    let tgz = gzip(&tar_of(&[("a.csv", &text)]));
    assert_corrupt("cut.tgz", &tgz[..tgz.len() / 2], ArchiveFormat::Gzip);
    let tar = tar_of(&[("a.csv", &text)]);
    assert_corrupt("cut.tar", &tar[..tar.len() / 2], ArchiveFormat::Tar);
}

#[test]
fn odd_member_names_are_escaped() {
    let tar = raw_tar_entry(
        b"bad\x1b[2J\xff\nname.csv",
        tar::EntryType::Regular,
        b"",
        b"a,b\n",
    );
    let (_run, members) = unpack_ok("t.tar", &tar, ArchiveFormat::Tar);
    assert_eq!(
        names(&members),
        ["t.tar!/bad\\u{1b}[2J\u{fffd}\\u{a}name.csv"]
    );
    assert_eq!(members[0].path.extension().unwrap(), "csv");

    // The zip writer only takes strings: patch a placeholder into raw bytes.
    let mut zip = zip_of(&[("a\u{7}b_XX_.txt", b"text")]);
    let placeholder = b"_XX_";
    let mut at = 0;
    while let Some(pos) = zip[at..].windows(4).position(|w| w == placeholder) {
        zip[at + pos..at + pos + 4].copy_from_slice(b"\xff\xfe\x01\x02");
        at += pos + 4;
    }
    let (_run, members) = unpack_ok("z.zip", &zip, ArchiveFormat::Zip);
    assert_eq!(
        names(&members),
        ["z.zip!/a\\u{7}b\u{fffd}\u{fffd}\\u{1}\\u{2}.txt"]
    );
}

#[test]
fn pickles_inside_zips_are_found() {
    let pickle = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.";
    let zip = zip_of(&[
        ("archive/data.pkl", pickle),
        ("archive/data/0", b"\x01\0\x02\0\x03\0"),
        ("archive/version", b"3\n"),
    ]);
    let (_run, members) = unpack_ok("model.pt", &zip, ArchiveFormat::Zip);
    let kinds: Vec<Kind> = members.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::Pickle,
            Kind::Unscannable("binary data"),
            Kind::Scannable
        ]
    );
    assert_eq!(members[0].name, "model.pt!/archive/data.pkl");
}

#[test]
fn extracted_files_stay_in_out_dir() {
    let zip = zip_of(&[("x/../../y.csv", b"a"), ("z.csv", b"b")]);
    let err = unpack_err("z.zip", &zip, ArchiveFormat::Zip, &Limits::default());
    assert!(matches!(err, ArchiveError::UnsafeMember { .. }));

    let zip = zip_of(&[("z.csv", b"b"), ("sub/z.csv", b"c"), ("noext", b"d")]);
    let (run, members) = unpack_ok("z.zip", &zip, ArchiveFormat::Zip);
    let files: Vec<_> = members
        .iter()
        .map(|m| {
            m.path
                .strip_prefix(run.out())
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(files, ["m000000.csv", "m000001.csv", "m000002"]);
    assert!(!Path::new(&run.out()).join("z.csv").exists());
}

#[test]
fn skipped_tar_data_counts_towards_the_ratio() {
    // A directory entry carrying 30 MiB of zeros: never extracted, but still decompressed.
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_path("d/").unwrap();
    header.set_size(30 * MIB);
    header.set_cksum();
    tar.append(&header, std::io::repeat(0).take(30 * MIB))
        .unwrap();
    let tgz = tar.into_inner().unwrap().finish().unwrap();
    let err = unpack_err("dir.tgz", &tgz, ArchiveFormat::Gzip, &Limits::default());
    assert!(matches!(err, ArchiveError::Ratio { .. }), "{err:?}");
}

#[test]
fn pax_size_overrides_are_refused() {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_pax_extensions([("size", b"5".as_slice())])
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    tar.append_data(&mut header, "a.txt", b"x".as_slice())
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let err = unpack_err("p.tar", &tar, ArchiveFormat::Tar, &Limits::default());
    assert!(matches!(err, ArchiveError::Corrupt { .. }), "{err:?}");
}
