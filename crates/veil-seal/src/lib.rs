//! Encryption at rest for Veil's synthetic-data models and reports.
//!
//! Each file is sealed with AES-256-GCM under a fresh random data key; the
//! data key is itself encrypted ("wrapped") with AES-256-GCM under a root key
//! the operator holds, given as `VEIL_ROOT_KEY` or `VEIL_ROOT_KEY_FILE`
//! ([`KeyRing::from_sources`], [`KeyRing::from_env_map`]). The root key's id
//! is in the header, so keys can rotate: a [`KeyRing`] seals with its primary
//! key and opens with any key it holds. Without the right root key nothing is
//! readable, and a wrong or missing key is a clear error ([`SealError`]).
//!
//! # Root keys
//!
//! `veil-root-key-v1:` followed by the standard base64 of 32 random bytes,
//! on one line ([`RootKey::to_file_contents`], [`write_root_key_file`]). A
//! key's [`KeyId`] is the first 8 bytes of SHA-256 over a fixed label and the
//! key, shown as 16 hex digits. A key file may list several keys, one per
//! line: the first seals, the others only open (see [`ring`]).
//!
//! # Envelope format, version 1
//!
//! | offset | length | field |
//! |-------:|-------:|-------|
//! | 0  | 8  | magic `VEILSEAL` |
//! | 8  | 1  | format version, `1` |
//! | 9  | 8  | id of the root key that wrapped the data key |
//! | 17 | 12 | nonce of the key wrapping |
//! | 29 | 48 | wrapped data key: 32 bytes of AES-256-GCM ciphertext, 16-byte tag |
//! | 77 | 12 | nonce of the payload |
//! | 89 | n + 16 | payload: AES-256-GCM ciphertext of the n plaintext bytes, 16-byte tag |
//!
//! Both encryptions authenticate the header as associated data, so changing
//! any bit anywhere makes [`open`] fail:
//!
//! * key wrapping, under the root key: AAD is bytes 0..17 (magic, version,
//!   key id) followed by the payload nonce; the wrap nonce and wrapped key
//!   are covered by the wrapping itself;
//! * payload, under the data key: AAD is the whole 89-byte header, then the
//!   caller's context string (e.g. `model`, `report`) as its length in bytes
//!   (u64, big-endian) and its UTF-8 bytes. The context is not stored: a
//!   report opened as a model fails its integrity check.
//!
//! Data keys and nonces come from the operating system's random number
//! generator for every seal; key bytes are wiped from memory once dropped.
//!
//! ```
//! use veil_seal::{open, seal, KeyRing, RootKey};
//! let ring = KeyRing::new(RootKey::generate().unwrap());
//! let sealed = seal(b"model bytes", &ring, "model").unwrap();
//! assert_eq!(open(&sealed, &ring, "model").unwrap(), b"model bytes");
//! assert!(open(&sealed, &ring, "report").is_err());
//! ```

mod envelope;
mod error;
mod file;
mod key;
pub mod ring;

pub use envelope::{is_sealed, open, seal, FORMAT_VERSION, HEADER_LEN, MAGIC, MIN_SEALED_LEN};
pub use error::{KeyParseError, Result, SealError};
pub use file::{read_sealed_file, write_root_key_file, write_sealed_file};
pub use key::{KeyId, RootKey, KEY_ID_LEN, ROOT_KEY_LEN, ROOT_KEY_PREFIX};
pub use ring::{KeyRing, ROOT_KEY_ENV, ROOT_KEY_FILE_ENV};
