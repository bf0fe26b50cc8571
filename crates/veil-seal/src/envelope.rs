//! Sealing and opening envelopes (the byte layout is in the crate docs).

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use zeroize::Zeroizing;

use crate::error::{Result, SealError};
use crate::key::{fill_random, KeyId, KEY_ID_LEN, ROOT_KEY_LEN};
use crate::ring::KeyRing;

/// The bytes every sealed file starts with.
pub const MAGIC: &[u8; 8] = b"VEILSEAL";

/// The envelope format version this crate writes (and the only one it reads).
pub const FORMAT_VERSION: u8 = 1;

/// Length of an AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// Length of an AES-GCM authentication tag.
const TAG_LEN: usize = 16;
/// Length of the wrapped data key: its ciphertext and tag.
const WRAPPED_KEY_LEN: usize = ROOT_KEY_LEN + TAG_LEN;

/// Where each header field starts.
const VERSION_AT: usize = MAGIC.len();
const KEY_ID_AT: usize = VERSION_AT + 1;
const WRAP_NONCE_AT: usize = KEY_ID_AT + KEY_ID_LEN;
const WRAPPED_KEY_AT: usize = WRAP_NONCE_AT + NONCE_LEN;
const PAYLOAD_NONCE_AT: usize = WRAPPED_KEY_AT + WRAPPED_KEY_LEN;

/// Length of the whole header; the payload ciphertext follows it.
pub const HEADER_LEN: usize = PAYLOAD_NONCE_AT + NONCE_LEN;

/// The shortest possible envelope: a header and the tag of an empty payload.
pub const MIN_SEALED_LEN: usize = HEADER_LEN + TAG_LEN;

/// Whether `bytes` start with the sealed-file magic. Says nothing about
/// whether they are intact or which key opens them.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Seals `plaintext` under a fresh data key wrapped by the ring's primary
/// key. `context` names what is sealed (e.g. `model`, `report`); [`open`]
/// must be given the same one, so one kind of file cannot pass for another.
pub fn seal(plaintext: &[u8], ring: &KeyRing, context: &str) -> Result<Vec<u8>> {
    let root = ring.primary();
    let mut data_key = Zeroizing::new([0u8; ROOT_KEY_LEN]);
    fill_random(data_key.as_mut())?;
    let mut wrap_nonce = [0u8; NONCE_LEN];
    fill_random(&mut wrap_nonce)?;
    let mut payload_nonce = [0u8; NONCE_LEN];
    fill_random(&mut payload_nonce)?;

    let mut sealed = Vec::with_capacity(MIN_SEALED_LEN + plaintext.len());
    sealed.extend_from_slice(MAGIC);
    sealed.push(FORMAT_VERSION);
    sealed.extend_from_slice(root.id().as_bytes());
    sealed.extend_from_slice(&wrap_nonce);
    let wrapped = cipher(root.secret_bytes())
        .encrypt(
            Nonce::from_slice(&wrap_nonce),
            Payload {
                msg: data_key.as_ref(),
                aad: &wrap_aad(&sealed[..WRAP_NONCE_AT], &payload_nonce),
            },
        )
        .map_err(|_| SealError::WrongKeyOrCorrupt)?;
    debug_assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
    sealed.extend_from_slice(&wrapped);
    sealed.extend_from_slice(&payload_nonce);
    debug_assert_eq!(sealed.len(), HEADER_LEN);

    let ciphertext = cipher(&data_key)
        .encrypt(
            Nonce::from_slice(&payload_nonce),
            Payload {
                msg: plaintext,
                aad: &payload_aad(&sealed, context),
            },
        )
        .map_err(|_| SealError::Corrupt {
            context: context.to_string(),
        })?;
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Opens an envelope made by [`seal`] with the key its header names, which
/// must be in `ring`, checking that it was sealed for `context`. Any change
/// to any byte makes this fail; it never panics, whatever the input.
pub fn open(sealed: &[u8], ring: &KeyRing, context: &str) -> Result<Vec<u8>> {
    if !is_sealed(sealed) {
        if !sealed.is_empty() && MAGIC.starts_with(sealed) {
            return Err(SealError::Truncated);
        }
        return Err(SealError::NotSealed);
    }
    let Some(&version) = sealed.get(VERSION_AT) else {
        return Err(SealError::Truncated);
    };
    if version != FORMAT_VERSION {
        return Err(SealError::UnsupportedVersion(version));
    }
    if sealed.len() < MIN_SEALED_LEN {
        return Err(SealError::Truncated);
    }
    let (header, ciphertext) = sealed.split_at(HEADER_LEN);
    let key_id = KeyId::from_bytes(field(header, KEY_ID_AT));
    let root = ring.find(key_id).ok_or_else(|| SealError::UnknownKey {
        key_id,
        known: ring.key_ids(),
    })?;
    let wrap_nonce: [u8; NONCE_LEN] = field(header, WRAP_NONCE_AT);
    let wrapped: [u8; WRAPPED_KEY_LEN] = field(header, WRAPPED_KEY_AT);
    let payload_nonce: [u8; NONCE_LEN] = field(header, PAYLOAD_NONCE_AT);

    let unwrapped = Zeroizing::new(
        cipher(root.secret_bytes())
            .decrypt(
                Nonce::from_slice(&wrap_nonce),
                Payload {
                    msg: &wrapped,
                    aad: &wrap_aad(&header[..WRAP_NONCE_AT], &payload_nonce),
                },
            )
            .map_err(|_| SealError::WrongKeyOrCorrupt)?,
    );
    let data_key: Zeroizing<[u8; ROOT_KEY_LEN]> = Zeroizing::new(
        unwrapped
            .as_slice()
            .try_into()
            .map_err(|_| SealError::WrongKeyOrCorrupt)?,
    );
    cipher(&data_key)
        .decrypt(
            Nonce::from_slice(&payload_nonce),
            Payload {
                msg: ciphertext,
                aad: &payload_aad(header, context),
            },
        )
        .map_err(|_| SealError::Corrupt {
            context: context.to_string(),
        })
}

/// An AES-256-GCM cipher under `key`.
fn cipher(key: &[u8; ROOT_KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// Copies the `N` header bytes starting at `at`. The caller has checked the
/// header's length, and every field lies within it.
fn field<const N: usize>(header: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&header[at..at + N]);
    out
}

/// The AAD of the key wrapping: magic, version and key id (the header up to
/// the wrap nonce), then the payload nonce. The wrap nonce and wrapped key
/// are authenticated by the wrapping itself.
fn wrap_aad(header_start: &[u8], payload_nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    debug_assert_eq!(header_start.len(), WRAP_NONCE_AT);
    let mut aad = Vec::with_capacity(WRAP_NONCE_AT + NONCE_LEN);
    aad.extend_from_slice(header_start);
    aad.extend_from_slice(payload_nonce);
    aad
}

/// The AAD of the payload: the whole header, then the context's length
/// (u64, big-endian) and bytes.
fn payload_aad(header: &[u8], context: &str) -> Vec<u8> {
    debug_assert_eq!(header.len(), HEADER_LEN);
    let mut aad = Vec::with_capacity(HEADER_LEN + 8 + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(&(context.len() as u64).to_be_bytes());
    aad.extend_from_slice(context.as_bytes());
    aad
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
