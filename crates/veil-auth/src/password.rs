//! Local users' passwords: argon2id hashes in the PHC string format (algorithm, parameters and salt
//! travel with the hash, so parameters can be raised without invalidating stored hashes).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::AuthError;

/// The shortest password accepted.
pub const MIN_PASSWORD_LENGTH: usize = 12;

/// Hashes `password` with argon2id and a fresh random salt; refuses passwords shorter than
/// [`MIN_PASSWORD_LENGTH`] characters.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(AuthError::WeakPassword(format!(
            "passwords need at least {MIN_PASSWORD_LENGTH} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| AuthError::Settings(format!("argon2: {err}")))
}

/// Whether `password` matches the stored `hash`. A hash that cannot be parsed is an error, not a
/// mismatch, so a corrupt user row is noticed.
pub fn verify_password(password: &str, hash: &str) -> Result<bool, AuthError> {
    let parsed = PasswordHash::new(hash).map_err(|err| AuthError::CorruptHash(err.to_string()))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let first = hash_password("correct horse battery").unwrap();
        let second = hash_password("correct horse battery").unwrap();
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second, "a fresh salt each time");
        assert!(verify_password("correct horse battery", &first).unwrap());
        assert!(!verify_password("correct horse battery!", &first).unwrap());
    }

    #[test]
    fn short_passwords_and_corrupt_hashes_are_errors() {
        assert!(matches!(
            hash_password("short"),
            Err(AuthError::WeakPassword(_))
        ));
        assert!(matches!(
            verify_password("whatever", "not-a-hash"),
            Err(AuthError::CorruptHash(_))
        ));
    }
}
