//! Per-feature key derivation, as clkhash's `generate_key_lists`.
//!
//! HKDF (RFC 5869) with the schema's hash, salt and info derives `2 * features * keySize` bytes
//! from the secret in one call: every feature — ignored ones included — gets two consecutive
//! keys of `keySize` bytes. Blake hashing uses the first key; double hashing uses the first for
//! HMAC-SHA1 and the second for HMAC-MD5.

use hkdf::Hkdf;
use sha2::{Sha256, Sha512};

use crate::schema::{Kdf, KdfHash};

/// Keys derived for each hashing method of a feature (clkhash derives two).
pub const KEYS_PER_FEATURE: usize = 2;

/// Key derivation failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HKDF cannot derive {requested} bytes of keys (at most {max} with this hash); use fewer features or a smaller keySize")]
pub struct KeyDerivationError {
    /// Bytes requested.
    pub requested: usize,
    /// Maximum HKDF output for the hash (255 × digest size).
    pub max: usize,
}

/// Derives `KEYS_PER_FEATURE` keys for each of `num_features` features.
pub fn derive_keys(
    secret: &[u8],
    num_features: usize,
    kdf: &Kdf,
) -> Result<Vec<[Vec<u8>; 2]>, KeyDerivationError> {
    let requested = num_features * KEYS_PER_FEATURE * kdf.key_size;
    let salt = kdf.salt.as_deref();
    let info = kdf.info.as_deref().unwrap_or(&[]);
    let mut okm = vec![0u8; requested];
    let result = match kdf.hash {
        KdfHash::Sha256 => Hkdf::<Sha256>::new(salt, secret).expand(info, &mut okm),
        KdfHash::Sha512 => Hkdf::<Sha512>::new(salt, secret).expand(info, &mut okm),
    };
    if result.is_err() {
        let max = 255 * if kdf.hash == KdfHash::Sha256 { 32 } else { 64 };
        return Err(KeyDerivationError { requested, max });
    }
    Ok(okm
        .chunks_exact(KEYS_PER_FEATURE * kdf.key_size)
        .map(|c| [c[..kdf.key_size].to_vec(), c[kdf.key_size..].to_vec()])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5869_test_case_1() {
        // RFC 5869 A.1, split into keys of 21 bytes: 1 "feature" × 2 keys = 42 bytes.
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let kdf = Kdf {
            hash: KdfHash::Sha256,
            salt: Some(salt),
            info: Some(info),
            key_size: 21,
        };
        let keys = derive_keys(&ikm, 1, &kdf).unwrap();
        let hex: String = keys[0]
            .concat()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn too_much_output_is_an_error() {
        let kdf = Kdf {
            hash: KdfHash::Sha256,
            salt: None,
            info: None,
            key_size: 64,
        };
        assert!(derive_keys(b"s", 63, &kdf).is_ok());
        let err = derive_keys(b"s", 64, &kdf).unwrap_err();
        assert_eq!(err.max, 8160);
    }
}
