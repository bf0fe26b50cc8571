//! File helpers shared by the `veil link` subcommands: inputs opened with errors naming the
//! file, and outputs written atomically.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::usage;

/// Opens an input file; failure is a usage error naming it.
pub(crate) fn open_input(path: &Path) -> anyhow::Result<File> {
    let file = File::open(path).map_err(|err| usage(format!("{}: {err}", path.display())))?;
    // Opening a directory succeeds on Unix; reading it fails later with a vaguer message.
    if file.metadata().is_ok_and(|meta| meta.is_dir()) {
        return Err(usage(format!("{}: is a directory", path.display())));
    }
    Ok(file)
}

/// A library error about an input file, as a usage error naming the file.
pub(crate) fn bad_input(path: &Path, err: impl std::fmt::Display) -> anyhow::Error {
    usage(format!("{}: {err}", path.display()))
}

/// Writes `path` atomically: `write` fills a temporary file created beside `path` (so the
/// rename stays on one file system), which then replaces `path`. When `write` fails, the
/// temporary file is removed and an existing `path` is left untouched.
pub(crate) fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut output = AtomicFile::create(path)?;
    let value = write(output.writer())?;
    output.commit()?;
    Ok(value)
}

/// An output file written under a temporary name beside its final path and renamed there by
/// [`AtomicFile::commit`]; dropped without a commit, it is removed.
///
/// A new file is readable and writable by its owner only (outputs may hold CLKs); a replaced
/// file keeps its permissions.
pub(crate) struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    /// Creates the temporary file beside `path`; failure is a usage error naming `path`.
    pub(crate) fn create(path: &Path) -> anyhow::Result<AtomicFile> {
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| usage(format!("{}: not a file name", path.display())))?;
        if path.is_dir() {
            return Err(usage(format!("{}: is a directory", path.display())));
        }
        if !parent.is_dir() {
            return Err(usage(format!(
                "{}: cannot create the output file: directory {} does not exist",
                path.display(),
                parent.display()
            )));
        }
        let temporary = tempfile::Builder::new()
            .prefix(&format!(".{}.", file_name.to_string_lossy()))
            .suffix(".tmp")
            .tempfile_in(parent)
            .map_err(|err| {
                usage(format!(
                    "{}: cannot create the output file: {}",
                    path.display(),
                    std::io::Error::from(err.kind())
                ))
            })?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            writer: BufWriter::with_capacity(1 << 16, temporary),
        })
    }

    /// Where the data goes until [`AtomicFile::commit`].
    pub(crate) fn writer(&mut self) -> &mut (dyn Write + Send) {
        &mut self.writer
    }

    /// Flushes, syncs and renames the temporary file to the final path.
    pub(crate) fn commit(self) -> anyhow::Result<()> {
        let path = self.path;
        let cannot_write =
            |err: std::io::Error| anyhow::anyhow!("{}: cannot write: {err}", path.display());
        let temporary = self
            .writer
            .into_inner()
            .map_err(|err| cannot_write(err.into_error()))?;
        if let Ok(existing) = std::fs::metadata(&path) {
            temporary
                .as_file()
                .set_permissions(existing.permissions())
                .map_err(cannot_write)?;
        }
        temporary.as_file().sync_all().map_err(cannot_write)?;
        temporary
            .persist(&path)
            .map_err(|err| anyhow::anyhow!("{}: cannot replace: {}", path.display(), err.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_existing_output_untouched_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        std::fs::write(&out, "old").unwrap();
        let result: anyhow::Result<()> = write_atomically(&out, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("boom")
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically(&out, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
