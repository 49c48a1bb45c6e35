//! Atomic output files: write to a temporary file beside the target, rename on success.
//!
//! A run that fails, panics or is killed leaves either the previous file or nothing — never
//! a half-written file that looks complete.
//!
//! A target that exists and is no regular file (`/dev/null`, a FIFO, `/dev/stdout`) is
//! written in place: renaming a temporary file onto it would replace the device itself (as
//! root, `-o /dev/null` left a regular file at `/dev/null` that later programs read), and a
//! stream has no half-written state to hide.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written; it appears at its path only on [`AtomicFile::commit`].
pub struct AtomicFile {
    target: PathBuf,
    writer: Writer,
}

enum Writer {
    /// A temporary file beside the target, renamed onto it on commit.
    Temporary(BufWriter<NamedTempFile>),
    /// A device, FIFO or socket, written directly.
    Stream(BufWriter<File>),
}

const BUFFER_BYTES: usize = 1 << 16;

impl AtomicFile {
    /// Starts writing `target`: a temporary file in the same directory, or the target
    /// itself when it exists and is no regular file or directory.
    ///
    /// # Errors
    /// When the directory does not exist or is not writable.
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        if std::fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
            let stream = OpenOptions::new().write(true).open(target)?;
            return Ok(AtomicFile {
                target: target.to_owned(),
                writer: Writer::Stream(BufWriter::with_capacity(BUFFER_BYTES, stream)),
            });
        }
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".deid-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        Ok(AtomicFile {
            target: target.to_owned(),
            writer: Writer::Temporary(BufWriter::with_capacity(BUFFER_BYTES, temp)),
        })
    }

    /// The path the file will have.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes, syncs and renames the file into place (a stream is only flushed).
    ///
    /// # Errors
    /// When flushing or renaming fails; the temporary file is then removed.
    pub fn commit(self) -> io::Result<()> {
        match self.writer {
            Writer::Temporary(writer) => {
                let temp = writer
                    .into_inner()
                    .map_err(io::IntoInnerError::into_error)?;
                temp.as_file().sync_all()?;
                temp.persist(&self.target).map_err(|e| e.error)?;
            }
            Writer::Stream(mut writer) => writer.flush()?,
        }
        Ok(())
    }

    fn writer(&mut self) -> &mut dyn Write {
        match &mut self.writer {
            Writer::Temporary(writer) => writer,
            Writer::Stream(writer) => writer,
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"partial").unwrap();
        assert!(!target.exists());
        drop(file);
        assert!(!target.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temp file removed"
        );
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"whole").unwrap();
        file.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_target_is_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let mut file = AtomicFile::create(&fifo).unwrap();
        file.write_all(b"streamed").unwrap();
        file.commit().unwrap();
        // Checked before joining: a reader of a replaced FIFO would wait for ever.
        let kind = std::fs::metadata(&fifo).unwrap().file_type();
        assert!(
            kind.is_fifo(),
            "the FIFO is still a FIFO, not a renamed file"
        );
        assert_eq!(reader.join().unwrap(), b"streamed");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
