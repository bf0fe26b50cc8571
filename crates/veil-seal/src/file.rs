//! Sealed files and root key files on disk, written atomically: the bytes go
//! to a temporary file in the target's directory, are flushed to disk, and
//! the file is renamed into place, so a failure never leaves a half-written
//! file behind.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use tempfile::NamedTempFile;

use crate::envelope::{open, seal};
use crate::error::{Result, SealError};
use crate::key::RootKey;
use crate::ring::KeyRing;

/// Seals `plaintext` (see [`seal`]) and writes it to `path` atomically,
/// replacing any file there.
pub fn write_sealed_file(
    path: &Path,
    plaintext: &[u8],
    ring: &KeyRing,
    context: &str,
) -> Result<()> {
    let sealed = seal(plaintext, ring, context)?;
    let temp = write_temp_beside(path, &sealed)?;
    temp.persist(path)
        .map_err(|error| SealError::io("cannot write", path, error.error))?;
    sync_parent(path);
    Ok(())
}

/// Reads `path` and opens it (see [`open`]).
pub fn read_sealed_file(path: &Path, ring: &KeyRing, context: &str) -> Result<Vec<u8>> {
    let sealed = std::fs::read(path).map_err(|error| SealError::io("cannot read", path, error))?;
    open(&sealed, ring, context)
}

/// Writes `key` in its text form to a new file at `path`, readable only by
/// its owner on Unix, as `veil keygen -o PATH` does. Refuses to replace an
/// existing file, so a key cannot be lost by accident.
pub fn write_root_key_file(path: &Path, key: &RootKey) -> Result<()> {
    let contents = key.to_file_contents();
    let temp = write_temp_beside(path, contents.as_bytes())?;
    temp.persist_noclobber(path)
        .map_err(|error| SealError::io("cannot create root key file", path, error.error))?;
    sync_parent(path);
    Ok(())
}

/// Writes `bytes` to a new temporary file in `path`'s directory and flushes
/// it to disk. The file is deleted if it is dropped without being persisted.
/// `tempfile` creates it with mode 0600 on Unix.
fn write_temp_beside(path: &Path, bytes: &[u8]) -> Result<NamedTempFile> {
    let directory = parent_directory(path);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(directory)
        .map_err(|error| SealError::io("cannot create a temporary file beside", path, error))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|error| SealError::io("cannot write", path, error))?;
    Ok(temp)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Flushes the rename to disk where the platform allows; best effort, since
/// the file itself is already complete.
fn sync_parent(path: &Path) {
    if cfg!(unix) {
        if let Ok(directory) = File::open(parent_directory(path)) {
            let _ = directory.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(RootKey::from_bytes([1; 32]))
    }

    fn entries(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn sealed_file_round_trips_and_replaces() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("model.veil");
        write_sealed_file(&path, b"first", &ring(), "model").unwrap();
        write_sealed_file(&path, b"second", &ring(), "model").unwrap();
        assert_eq!(
            read_sealed_file(&path, &ring(), "model").unwrap(),
            b"second"
        );
        assert_eq!(entries(directory.path()), vec!["model.veil"]);
        let on_disk = std::fs::read(&path).unwrap();
        assert!(crate::is_sealed(&on_disk));
        assert!(!on_disk.windows(6).any(|window| window == b"second"));
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let directory = tempfile::tempdir().unwrap();
        // Renaming a file over a non-empty directory fails after the temporary file is written.
        let target = directory.path().join("occupied");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"x").unwrap();
        let error = write_sealed_file(&target, b"payload", &ring(), "model").unwrap_err();
        assert!(error.to_string().starts_with("cannot write"), "{error}");
        assert_eq!(entries(directory.path()), vec!["occupied"]);

        let missing_directory = directory.path().join("no/such/dir/model.veil");
        assert!(write_sealed_file(&missing_directory, b"payload", &ring(), "model").is_err());
        assert_eq!(entries(directory.path()), vec!["occupied"]);
    }

    #[test]
    fn reading_a_missing_file_names_it() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("absent.veil");
        let error = read_sealed_file(&path, &ring(), "model").unwrap_err();
        assert!(error.to_string().contains("absent.veil"), "{error}");
    }

    #[test]
    fn root_key_file_is_private_and_never_overwritten() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("ROOT.key");
        let key = RootKey::generate().unwrap();
        write_root_key_file(&path, &key).unwrap();
        let ring = KeyRing::from_sources(None, Some(&path), &[]).unwrap();
        assert_eq!(ring.primary().id(), key.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
        let other = RootKey::generate().unwrap();
        assert!(write_root_key_file(&path, &other).is_err());
        let ring = KeyRing::from_sources(None, Some(&path), &[]).unwrap();
        assert_eq!(ring.primary().id(), key.id());
        assert_eq!(entries(directory.path()), vec!["ROOT.key"]);
    }
}
