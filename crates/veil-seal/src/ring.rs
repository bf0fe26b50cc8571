//! Key rings: the primary root key that seals, and older keys kept only to
//! open what they sealed, so root keys can be rotated.
//!
//! Keys come from `VEIL_ROOT_KEY` (the key's text, or bare base64) or from a
//! file named by `VEIL_ROOT_KEY_FILE` / `--root-key-file`. A key file holds
//! one key per line: the first is the primary, any further lines are old
//! keys. Blank lines and lines starting with `#` are skipped. So rotating is:
//! put the new key on the first line of the Secret, keep the old one below
//! it, and drop it once everything has been re-sealed.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{KeyParseError, Result, SealError};
use crate::key::{KeyId, RootKey};

/// The environment variable holding a root key's text.
pub const ROOT_KEY_ENV: &str = "VEIL_ROOT_KEY";

/// The environment variable naming a root key file.
pub const ROOT_KEY_FILE_ENV: &str = "VEIL_ROOT_KEY_FILE";

/// A primary root key (used to seal) and older keys (used only to open).
#[derive(Clone, Debug)]
pub struct KeyRing {
    primary: RootKey,
    old: Vec<RootKey>,
}

impl KeyRing {
    /// A ring holding just `primary`.
    pub fn new(primary: RootKey) -> Self {
        KeyRing {
            primary,
            old: Vec::new(),
        }
    }

    /// Adds an old key, used only to open. A key already in the ring is ignored.
    pub fn with_old_key(mut self, key: RootKey) -> Self {
        self.add_old_key(key);
        self
    }

    /// Adds an old key, used only to open. A key already in the ring is ignored.
    pub fn add_old_key(&mut self, key: RootKey) {
        if self.find(key.id()).is_none() {
            self.old.push(key);
        }
    }

    /// Builds a ring from a list of keys: the first is primary, the rest old.
    /// Returns `None` for an empty list.
    pub fn from_keys(keys: impl IntoIterator<Item = RootKey>) -> Option<Self> {
        let mut keys = keys.into_iter();
        let mut ring = KeyRing::new(keys.next()?);
        for key in keys {
            ring.add_old_key(key);
        }
        Some(ring)
    }

    /// The key that seals.
    pub fn primary(&self) -> &RootKey {
        &self.primary
    }

    /// The ids of every key in the ring, primary first.
    pub fn key_ids(&self) -> Vec<KeyId> {
        std::iter::once(&self.primary)
            .chain(&self.old)
            .map(RootKey::id)
            .collect()
    }

    /// The key with id `id`, if the ring holds it.
    pub fn find(&self, id: KeyId) -> Option<&RootKey> {
        std::iter::once(&self.primary)
            .chain(&self.old)
            .find(|key| key.id() == id)
    }

    /// Loads a ring from the values a CLI or server has gathered:
    /// `root_key` is the value of `VEIL_ROOT_KEY`, `root_key_file` the path
    /// from `VEIL_ROOT_KEY_FILE` or `--root-key-file`, and `old_key_files`
    /// further files whose keys are added as old keys. Exactly one of
    /// `root_key` and `root_key_file` must be given; a caller whose flag
    /// overrides the environment passes `None` for the variable.
    pub fn from_sources(
        root_key: Option<&str>,
        root_key_file: Option<&Path>,
        old_key_files: &[&Path],
    ) -> Result<Self> {
        let keys = match (root_key, root_key_file) {
            (Some(_), Some(_)) => return Err(SealError::ConflictingKeySources),
            (None, None) => return Err(SealError::NoRootKey),
            (Some(text), None) => parse_key_text(text, ROOT_KEY_ENV)?,
            (None, Some(path)) => read_key_file(path)?,
        };
        let mut ring = KeyRing::from_keys(keys).ok_or_else(|| SealError::NoKeyInSource {
            source_name: source_name(root_key_file),
        })?;
        for path in old_key_files {
            for key in read_key_file(path)? {
                ring.add_old_key(key);
            }
        }
        Ok(ring)
    }

    /// Loads a ring from `VEIL_ROOT_KEY` / `VEIL_ROOT_KEY_FILE` in `env`
    /// (a snapshot of the environment, so tests need not touch the real one).
    /// Empty values count as unset.
    pub fn from_env_map(env: &HashMap<String, String>) -> Result<Self> {
        let value = |name: &str| env.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let file = value(ROOT_KEY_FILE_ENV).map(Path::new);
        KeyRing::from_sources(value(ROOT_KEY_ENV), file, &[])
    }

    /// Loads a ring from the process environment; see [`KeyRing::from_env_map`].
    pub fn from_environment() -> Result<Self> {
        let env: HashMap<String, String> = [ROOT_KEY_ENV, ROOT_KEY_FILE_ENV]
            .into_iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
            .collect();
        KeyRing::from_env_map(&env)
    }
}

/// How a missing key is named in [`SealError::NoKeyInSource`].
fn source_name(file: Option<&Path>) -> String {
    match file {
        Some(path) => path.display().to_string(),
        None => ROOT_KEY_ENV.to_string(),
    }
}

/// The lines of a key text that hold keys, with their 1-based numbers.
fn key_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// Parses the keys in a `VEIL_ROOT_KEY` value (bare base64 accepted).
fn parse_key_text(text: &str, source_name: &str) -> Result<Vec<RootKey>> {
    let lines: Vec<(usize, &str)> = key_lines(text).collect();
    let single = lines.len() == 1;
    lines
        .into_iter()
        .map(|(line, content)| {
            RootKey::parse_lenient(content).map_err(|error| SealError::KeyText {
                source_name: if single {
                    source_name.to_string()
                } else {
                    format!("{source_name}, line {line}")
                },
                error,
            })
        })
        .collect()
}

/// Parses the keys of a key file's contents; errors name `path` and the line.
pub fn parse_key_file(text: &str, path: &Path) -> Result<Vec<RootKey>> {
    key_lines(text)
        .map(|(line, content)| {
            RootKey::parse(content).map_err(|error| SealError::KeyFile {
                path: path.to_path_buf(),
                line,
                error,
            })
        })
        .collect()
}

/// Reads the keys of a key file; errors name `path` and the line.
pub fn read_key_file(path: &Path) -> Result<Vec<RootKey>> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path)
            .map_err(|error| SealError::io("cannot read root key file", path, error))?,
    );
    let text = std::str::from_utf8(&bytes).map_err(|_| SealError::KeyFile {
        path: path.to_path_buf(),
        line: 1,
        error: KeyParseError::WrongPrefix {
            expected: crate::key::ROOT_KEY_PREFIX,
        },
    })?;
    let keys = parse_key_file(text, path)?;
    if keys.is_empty() {
        return Err(SealError::NoKeyInSource {
            source_name: path.display().to_string(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> RootKey {
        RootKey::from_bytes([byte; 32])
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn key_file_lines_give_primary_then_old_keys() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "# rotated 2026-12\n{}\n{}",
            key(1).to_file_contents().as_str(),
            key(2).to_file_contents().as_str()
        );
        let path = write(dir.path(), "root.key", &text);
        let ring = KeyRing::from_sources(None, Some(&path), &[]).unwrap();
        assert_eq!(ring.primary().id(), key(1).id());
        assert_eq!(ring.key_ids(), vec![key(1).id(), key(2).id()]);
    }

    #[test]
    fn key_file_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}veil-root-key-v1:AAAA\n",
            key(1).to_file_contents().as_str()
        );
        let path = write(dir.path(), "bad.key", &text);
        let error = KeyRing::from_sources(None, Some(&path), &[]).unwrap_err();
        assert!(
            matches!(error, SealError::KeyFile { line: 2, .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("bad.key, line 2"), "{message}");
        assert!(message.contains("3 bytes long"), "{message}");
    }

    #[test]
    fn empty_or_missing_key_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(dir.path(), "empty.key", "\n# nothing\n");
        let error = KeyRing::from_sources(None, Some(&empty), &[]).unwrap_err();
        assert!(error.to_string().contains("holds no root key"), "{error}");
        let missing = dir.path().join("missing.key");
        let error = KeyRing::from_sources(None, Some(&missing), &[]).unwrap_err();
        assert!(
            error.to_string().starts_with("cannot read root key file"),
            "{error}"
        );
        let binary = dir.path().join("binary.key");
        std::fs::write(&binary, [0xff, 0xfe]).unwrap();
        assert!(KeyRing::from_sources(None, Some(&binary), &[]).is_err());
    }

    #[test]
    fn env_value_accepts_text_form_and_bare_base64() {
        let text_form = key(3).to_file_contents();
        let ring = KeyRing::from_sources(Some(&text_form), None, &[]).unwrap();
        assert_eq!(ring.primary().id(), key(3).id());
        use base64::Engine as _;
        let bare = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
        let ring = KeyRing::from_sources(Some(&bare), None, &[]).unwrap();
        assert_eq!(ring.primary().id(), key(3).id());
        let error = KeyRing::from_sources(Some("nonsense!"), None, &[]).unwrap_err();
        assert!(error.to_string().starts_with("VEIL_ROOT_KEY: "), "{error}");
        let error = KeyRing::from_sources(Some("   "), None, &[]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("VEIL_ROOT_KEY holds no root key"),
            "{error}"
        );
    }

    #[test]
    fn sources_must_be_exactly_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "k", &key(1).to_file_contents());
        assert!(matches!(
            KeyRing::from_sources(None, None, &[]),
            Err(SealError::NoRootKey)
        ));
        assert!(matches!(
            KeyRing::from_sources(Some(&key(1).to_file_contents()), Some(&path), &[]),
            Err(SealError::ConflictingKeySources)
        ));
    }

    #[test]
    fn old_key_files_are_added_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let primary = write(dir.path(), "new.key", &key(1).to_file_contents());
        let old_text = format!(
            "{}{}",
            key(2).to_file_contents().as_str(),
            key(1).to_file_contents().as_str()
        );
        let old = write(dir.path(), "old.key", &old_text);
        let ring = KeyRing::from_sources(None, Some(&primary), &[&old]).unwrap();
        assert_eq!(ring.key_ids(), vec![key(1).id(), key(2).id()]);
    }

    #[test]
    fn env_map_reads_both_variables() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "k", &key(4).to_file_contents());
        let mut env = HashMap::new();
        env.insert(ROOT_KEY_FILE_ENV.to_string(), path.display().to_string());
        env.insert(ROOT_KEY_ENV.to_string(), String::new());
        let ring = KeyRing::from_env_map(&env).unwrap();
        assert_eq!(ring.primary().id(), key(4).id());
        assert!(matches!(
            KeyRing::from_env_map(&HashMap::new()),
            Err(SealError::NoRootKey)
        ));
    }

    #[test]
    fn ring_debug_shows_ids_only() {
        let ring = KeyRing::new(key(5)).with_old_key(key(6));
        let shown = format!("{ring:?}");
        assert!(shown.contains(&key(6).id().to_string()), "{shown}");
        assert!(!shown.contains("5, 5"), "{shown}");
    }
}
