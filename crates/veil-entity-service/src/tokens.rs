//! Identifiers and tokens: 48 lowercase hex characters from 24 random bytes, compared in constant time.

use rand::RngCore;
use subtle::ConstantTimeEq;

/// How many random bytes make an id or token (48 hex characters).
pub const TOKEN_BYTES: usize = 24;

/// A fresh project id, result, update or receipt token: 48 lowercase hex characters.
pub fn generate() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `presented` equals `expected`, in time independent of where they differ.
pub fn matches(presented: &str, expected: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// The position of the token in `candidates` equal to `presented`, checking every candidate in constant
/// time (no early exit on a match).
pub fn position<'a>(
    presented: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<usize> {
    let mut found = None;
    for (index, candidate) in candidates.into_iter().enumerate() {
        if matches(presented, candidate) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_48_lowercase_hex_and_distinct() {
        let a = generate();
        assert_eq!(a.len(), 48);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, generate());
    }

    #[test]
    fn position_finds_the_matching_token() {
        assert_eq!(position("b", ["a", "b", "c"]), Some(1));
        assert_eq!(position("x", ["a", "b"]), None);
        assert!(!matches("ab", "abc"));
    }
}
