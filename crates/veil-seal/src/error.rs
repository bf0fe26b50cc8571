//! The crate's errors. Every message is written to be shown to a user as it
//! is: it says what went wrong and, where there is one, what to do.

use std::path::PathBuf;

use crate::key::KeyId;

/// Why a root key's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// The text is empty (or only whitespace).
    #[error("no root key: the text is empty")]
    Empty,
    /// The text does not start with the `veil-root-key-v1:` prefix.
    #[error(
        "not a Veil root key: expected a line starting with `{expected}` (create one with `veil keygen -o ROOT.key`)"
    )]
    WrongPrefix {
        /// The prefix that was expected.
        expected: &'static str,
    },
    /// The part after the prefix is not valid base64.
    #[error("the root key is not valid base64: {reason}")]
    BadBase64 {
        /// What the base64 decoder objected to.
        reason: String,
    },
    /// The key decodes to the wrong number of bytes.
    #[error("the root key is {actual} bytes long; a root key is exactly 32 bytes")]
    WrongLength {
        /// How many bytes the key decoded to.
        actual: usize,
    },
}

/// Everything that can go wrong loading keys, sealing or opening.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The bytes do not start with the sealed-file magic.
    #[error("this file is not a Veil sealed file")]
    NotSealed,
    /// The envelope was written by a newer (or unknown) format version.
    #[error("this sealed file uses format version {0}, which this version of Veil cannot read")]
    UnsupportedVersion(u8),
    /// The envelope is shorter than its header and authentication tag.
    #[error("this sealed file is truncated")]
    Truncated,
    /// The envelope names a root key the ring does not hold.
    #[error(
        "sealed with root key {key_id}, which is not in the key ring (have: {})",
        join_ids(.known)
    )]
    UnknownKey {
        /// The id in the envelope's header.
        key_id: KeyId,
        /// The ids the ring holds, primary first.
        known: Vec<KeyId>,
    },
    /// Unwrapping the data key failed its authentication check.
    #[error("the root key does not open this file or the file is corrupt")]
    WrongKeyOrCorrupt,
    /// The data key unwrapped, but the payload failed its authentication check.
    #[error(
        "this sealed file is corrupt, or it was not sealed as a {context} (integrity check failed)"
    )]
    Corrupt {
        /// The context (purpose) the caller expected, e.g. `model`.
        context: String,
    },
    /// A root key given directly (not from a file) could not be read.
    #[error("{source_name}: {error}")]
    KeyText {
        /// Where the text came from, e.g. `VEIL_ROOT_KEY`.
        source_name: String,
        /// What was wrong with it.
        #[source]
        error: KeyParseError,
    },
    /// A line of a root key file could not be read.
    #[error("{}, line {line}: {error}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What was wrong with the line.
        #[source]
        error: KeyParseError,
    },
    /// A root key file (or a `VEIL_ROOT_KEY` value) holds no key at all.
    #[error("{source_name} holds no root key")]
    NoKeyInSource {
        /// The file path or variable name.
        source_name: String,
    },
    /// No root key was given.
    #[error(
        "no root key: set VEIL_ROOT_KEY_FILE (or VEIL_ROOT_KEY) or pass --root-key-file; create a key with `veil keygen -o ROOT.key`"
    )]
    NoRootKey,
    /// Both `VEIL_ROOT_KEY` and a key file were given, so which is primary is ambiguous.
    #[error("both VEIL_ROOT_KEY and a root key file are set: give only one")]
    ConflictingKeySources,
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `cannot read`.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("cannot get random bytes from the operating system: {0}")]
    Randomness(String),
}

impl SealError {
    /// Builds an [`SealError::Io`] for `path`.
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        SealError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Joins key ids as `a, b, c` for messages.
fn join_ids(ids: &[KeyId]) -> String {
    let shown: Vec<String> = ids.iter().map(KeyId::to_string).collect();
    shown.join(", ")
}

/// The crate's result type.
pub type Result<T, E = SealError> = std::result::Result<T, E>;
