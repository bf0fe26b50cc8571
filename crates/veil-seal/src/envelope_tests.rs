use proptest::prelude::*;

use super::*;
use crate::key::RootKey;

fn ring(byte: u8) -> KeyRing {
    KeyRing::new(RootKey::from_bytes([byte; 32]))
}

#[test]
fn round_trip() {
    let ring = ring(1);
    for plaintext in [&b""[..], b"x", b"a model of some size".as_slice()] {
        let sealed = seal(plaintext, &ring, "model").unwrap();
        assert!(is_sealed(&sealed));
        assert_eq!(sealed.len(), MIN_SEALED_LEN + plaintext.len());
        assert_eq!(open(&sealed, &ring, "model").unwrap(), plaintext);
    }
}

#[test]
fn layout_matches_the_documented_format() {
    let ring = ring(1);
    let sealed = seal(b"hello", &ring, "report").unwrap();
    assert_eq!(&sealed[..8], b"VEILSEAL");
    assert_eq!(sealed[8], 1);
    assert_eq!(&sealed[9..17], ring.primary().id().as_bytes());
    assert_eq!(HEADER_LEN, 8 + 1 + 8 + 12 + 48 + 12);
}

#[test]
fn each_seal_uses_fresh_randomness() {
    let ring = ring(1);
    let first = seal(b"same", &ring, "model").unwrap();
    let second = seal(b"same", &ring, "model").unwrap();
    assert_eq!(first[..WRAP_NONCE_AT], second[..WRAP_NONCE_AT]);
    assert_ne!(
        first[WRAP_NONCE_AT..WRAPPED_KEY_AT],
        second[WRAP_NONCE_AT..WRAPPED_KEY_AT]
    );
    assert_ne!(
        first[WRAPPED_KEY_AT..PAYLOAD_NONCE_AT],
        second[WRAPPED_KEY_AT..PAYLOAD_NONCE_AT]
    );
    assert_ne!(first[PAYLOAD_NONCE_AT..], second[PAYLOAD_NONCE_AT..]);
}

#[test]
fn a_ring_without_the_key_names_both_ids() {
    let sealed = seal(b"secret", &ring(1), "model").unwrap();
    let other = ring(2);
    let error = open(&sealed, &other, "model").unwrap_err();
    let SealError::UnknownKey { key_id, known } = &error else {
        panic!("expected UnknownKey, got {error:?}");
    };
    assert_eq!(*key_id, ring(1).primary().id());
    assert_eq!(*known, other.key_ids());
    let message = error.to_string();
    assert!(
        message.contains(&format!(
            "sealed with root key {}, which is not in the key ring (have: {})",
            ring(1).primary().id(),
            other.primary().id()
        )),
        "{message}"
    );
}

#[test]
fn a_tampered_wrapped_key_is_wrong_key_or_corrupt() {
    let ring = ring(1);
    let mut sealed = seal(b"secret", &ring, "model").unwrap();
    sealed[WRAPPED_KEY_AT + 3] ^= 0x10;
    let error = open(&sealed, &ring, "model").unwrap_err();
    assert!(matches!(error, SealError::WrongKeyOrCorrupt), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the root key does not open this file or the file is corrupt"
    );
}

#[test]
fn a_wrong_context_fails() {
    let ring = ring(1);
    let sealed = seal(b"a report", &ring, "report").unwrap();
    let error = open(&sealed, &ring, "model").unwrap_err();
    assert!(matches!(&error, SealError::Corrupt { context } if context == "model"));
    assert!(
        error.to_string().contains("not sealed as a model"),
        "{error}"
    );
    assert!(open(&sealed, &ring, "").is_err());
    assert!(open(&sealed, &ring, "report ").is_err());
}

#[test]
fn rotation_opens_with_an_old_key() {
    let old = RootKey::from_bytes([1; 32]);
    let new = RootKey::from_bytes([2; 32]);
    let sealed_before = seal(b"before", &KeyRing::new(old.clone()), "model").unwrap();
    let rotated = KeyRing::new(new.clone()).with_old_key(old.clone());
    assert_eq!(open(&sealed_before, &rotated, "model").unwrap(), b"before");
    let sealed_after = seal(b"after", &rotated, "model").unwrap();
    assert_eq!(&sealed_after[9..17], new.id().as_bytes());
    assert!(matches!(
        open(&sealed_after, &KeyRing::new(old), "model"),
        Err(SealError::UnknownKey { .. })
    ));
}

#[test]
fn header_errors_are_specific() {
    let ring = ring(1);
    assert!(matches!(
        open(b"plain csv,data\n", &ring, "model"),
        Err(SealError::NotSealed)
    ));
    assert!(matches!(
        open(b"", &ring, "model"),
        Err(SealError::NotSealed)
    ));
    assert!(matches!(
        open(b"VEIL", &ring, "model"),
        Err(SealError::Truncated)
    ));
    assert!(matches!(
        open(b"VEILSEAL", &ring, "model"),
        Err(SealError::Truncated)
    ));
    let mut sealed = seal(b"x", &ring, "model").unwrap();
    sealed[VERSION_AT] = 2;
    let error = open(&sealed, &ring, "model").unwrap_err();
    assert!(matches!(error, SealError::UnsupportedVersion(2)));
    assert!(error.to_string().contains("format version 2"), "{error}");
    assert_eq!(
        SealError::NotSealed.to_string(),
        "this file is not a Veil sealed file"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_plaintext_round_trips(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        context in "[a-z]{0,12}",
    ) {
        let ring = ring(7);
        let sealed = seal(&plaintext, &ring, &context).unwrap();
        prop_assert_eq!(open(&sealed, &ring, &context).unwrap(), plaintext);
    }

    #[test]
    fn every_single_bit_flip_fails(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let ring = ring(7);
        let mut sealed = seal(&plaintext, &ring, "model").unwrap();
        let at = position.index(sealed.len());
        sealed[at] ^= 1 << bit;
        prop_assert!(open(&sealed, &ring, "model").is_err());
    }

    #[test]
    fn every_truncation_fails(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        cut in any::<prop::sample::Index>(),
    ) {
        let ring = ring(7);
        let sealed = seal(&plaintext, &ring, "model").unwrap();
        let keep = cut.index(sealed.len());
        prop_assert!(open(&sealed[..keep], &ring, "model").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let ring = ring(7);
        let _ = open(&bytes, &ring, "model");
        let mut with_header = MAGIC.to_vec();
        with_header.push(FORMAT_VERSION);
        with_header.extend_from_slice(ring.primary().id().as_bytes());
        with_header.extend_from_slice(&bytes);
        prop_assert!(open(&with_header, &ring, "model").is_err());
    }
}

#[test]
fn every_bit_flip_of_one_envelope_fails_exhaustively() {
    let ring = ring(3);
    let sealed = seal(b"exhaustive", &ring, "model").unwrap();
    for at in 0..sealed.len() {
        for bit in 0..8 {
            let mut flipped = sealed.clone();
            flipped[at] ^= 1 << bit;
            assert!(
                open(&flipped, &ring, "model").is_err(),
                "byte {at} bit {bit}"
            );
        }
    }
    for keep in 0..sealed.len() {
        assert!(open(&sealed[..keep], &ring, "model").is_err(), "{keep}");
    }
}
