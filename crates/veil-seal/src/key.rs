//! Root keys: 32 secret bytes and the public id derived from them.
//!
//! A root key is written as one line of text, `veil-root-key-v1:` followed by
//! the standard base64 (with padding) of its 32 bytes, so it fits a Kubernetes
//! Secret or an environment variable. Its [`KeyId`] is the first 8 bytes of
//! SHA-256 over a domain-separation label and the key: stable, needing no
//! registry, and revealing nothing useful about the key.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::{KeyParseError, Result, SealError};

/// The prefix of a root key's text form.
pub const ROOT_KEY_PREFIX: &str = "veil-root-key-v1:";

/// The length of a root key in bytes.
pub const ROOT_KEY_LEN: usize = 32;

/// The length of a [`KeyId`] in bytes.
pub const KEY_ID_LEN: usize = 8;

/// Domain-separation label hashed before the key to derive its id.
const KEY_ID_LABEL: &[u8] = b"veil-seal root key id v1\0";

/// The public id of a root key, written in sealed files so the right key can
/// be found after rotation. Shown as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// Wraps raw id bytes (as read from a sealed file's header).
    pub fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        KeyId(bytes)
    }

    /// The raw id bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte root key. Its bytes are wiped from memory when it is dropped,
/// and neither `Debug` nor any other formatting shows them.
#[derive(Clone)]
pub struct RootKey {
    bytes: Zeroizing<[u8; ROOT_KEY_LEN]>,
    id: KeyId,
}

impl RootKey {
    /// Generates a new key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; ROOT_KEY_LEN]);
        fill_random(bytes.as_mut())?;
        Ok(Self::from_bytes(*bytes))
    }

    /// Builds a key from its raw bytes.
    pub fn from_bytes(bytes: [u8; ROOT_KEY_LEN]) -> Self {
        let bytes = Zeroizing::new(bytes);
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update(bytes.as_ref())
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        RootKey {
            bytes,
            id: KeyId(id),
        }
    }

    /// Reads a key from its text form, `veil-root-key-v1:<base64>`, ignoring
    /// surrounding whitespace (such as a trailing newline).
    pub fn parse(text: &str) -> Result<Self, KeyParseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyParseError::Empty);
        }
        let Some(encoded) = text.strip_prefix(ROOT_KEY_PREFIX) else {
            return Err(KeyParseError::WrongPrefix {
                expected: ROOT_KEY_PREFIX,
            });
        };
        decode_key(encoded.trim())
    }

    /// Like [`RootKey::parse`], but also accepts the bare base64 of the 32
    /// bytes, for keys given in `VEIL_ROOT_KEY`.
    pub fn parse_lenient(text: &str) -> Result<Self, KeyParseError> {
        let trimmed = text.trim();
        if trimmed.contains(':') || trimmed.is_empty() {
            return Self::parse(trimmed);
        }
        decode_key(trimmed)
    }

    /// The key's text form: one line with a trailing newline, as
    /// `veil keygen` writes it.
    pub fn to_file_contents(&self) -> Zeroizing<String> {
        let encoded = Zeroizing::new(STANDARD.encode(self.bytes.as_ref()));
        Zeroizing::new(format!("{ROOT_KEY_PREFIX}{}\n", encoded.as_str()))
    }

    /// The key's public id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The raw key bytes, for the envelope code.
    pub(crate) fn secret_bytes(&self) -> &[u8; ROOT_KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Decodes base64 into exactly [`ROOT_KEY_LEN`] bytes.
fn decode_key(encoded: &str) -> Result<RootKey, KeyParseError> {
    let decoded =
        Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|error| KeyParseError::BadBase64 {
                    reason: error.to_string(),
                })?,
        );
    let bytes: [u8; ROOT_KEY_LEN] =
        decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyParseError::WrongLength {
                actual: decoded.len(),
            })?;
    Ok(RootKey::from_bytes(bytes))
}

/// Fills `buffer` from the operating system's random number generator.
pub(crate) fn fill_random(buffer: &mut [u8]) -> Result<()> {
    OsRng
        .try_fill_bytes(buffer)
        .map_err(|error| SealError::Randomness(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_contents_parse_back_to_the_same_key() {
        let key = RootKey::generate().unwrap();
        let text = key.to_file_contents();
        assert!(text.starts_with(ROOT_KEY_PREFIX));
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 1);
        let parsed = RootKey::parse(&text).unwrap();
        assert_eq!(parsed.id(), key.id());
        assert_eq!(parsed.secret_bytes(), key.secret_bytes());
    }

    #[test]
    fn generated_keys_differ() {
        let first = RootKey::generate().unwrap();
        let second = RootKey::generate().unwrap();
        assert_ne!(first.secret_bytes(), second.secret_bytes());
        assert_ne!(first.id(), second.id());
    }

    #[test]
    fn id_is_stable_and_shown_as_hex() {
        let key = RootKey::from_bytes([7; 32]);
        let again = RootKey::from_bytes([7; 32]);
        assert_eq!(key.id(), again.id());
        let shown = key.id().to_string();
        assert_eq!(shown.len(), 16);
        assert!(shown
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn debug_does_not_show_key_bytes() {
        let key = RootKey::from_bytes([0xab; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.id().to_string()));
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.contains(&STANDARD.encode([0xab; 32])), "{shown}");
    }

    #[test]
    fn parse_errors_are_specific() {
        assert_eq!(RootKey::parse("  \n").unwrap_err(), KeyParseError::Empty);
        assert_eq!(
            RootKey::parse("veil-root-key-v2:AAAA").unwrap_err(),
            KeyParseError::WrongPrefix {
                expected: ROOT_KEY_PREFIX
            }
        );
        assert!(matches!(
            RootKey::parse("veil-root-key-v1:not base64!").unwrap_err(),
            KeyParseError::BadBase64 { .. }
        ));
        let short = format!("{ROOT_KEY_PREFIX}{}", STANDARD.encode([1u8; 16]));
        assert_eq!(
            RootKey::parse(&short).unwrap_err(),
            KeyParseError::WrongLength { actual: 16 }
        );
    }

    #[test]
    fn strict_parse_rejects_bare_base64_but_lenient_accepts_it() {
        let bare = STANDARD.encode([9u8; 32]);
        assert!(matches!(
            RootKey::parse(&bare).unwrap_err(),
            KeyParseError::WrongPrefix { .. }
        ));
        let key = RootKey::parse_lenient(&format!("{bare}\n")).unwrap();
        assert_eq!(key.id(), RootKey::from_bytes([9; 32]).id());
        let prefixed = RootKey::from_bytes([9; 32]).to_file_contents();
        assert_eq!(RootKey::parse_lenient(&prefixed).unwrap().id(), key.id());
        assert!(matches!(
            RootKey::parse_lenient("other:AAAA").unwrap_err(),
            KeyParseError::WrongPrefix { .. }
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,200}") {
            let _ = RootKey::parse(&text);
            let _ = RootKey::parse_lenient(&text);
        }

        #[test]
        fn any_key_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let key = RootKey::from_bytes(bytes);
            let parsed = RootKey::parse(&key.to_file_contents()).unwrap();
            prop_assert_eq!(parsed.secret_bytes(), &bytes);
        }
    }
}
