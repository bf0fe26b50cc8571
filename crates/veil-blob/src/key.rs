//! Validation of blob keys and list prefixes.
//!
//! A key is a relative, `/`-separated path such as `runs/42/input.csv`. The
//! rules are deliberately stricter than what any single backend accepts so
//! that a key valid for one backend is valid for all of them:
//!
//! * not empty and at most [`MAX_KEY_LEN`] bytes (the S3 limit);
//! * not absolute (no leading `/`) and no trailing `/`;
//! * no empty segments (`a//b`) and no `.` or `..` segments;
//! * no ASCII control characters and none of the characters
//!   [`RESERVED_CHARS`] (`` \ { } ^ % ` [ ] " < > ~ # | * ? ``): AWS and GCS
//!   advise against them, `object_store` percent-encodes them (so they would
//!   not round-trip through `list` on every backend), and the local backend
//!   reserves `<name>#<digits>` for its staging files.

use crate::BlobError;

/// Maximum length of a key in bytes (S3's limit for object keys).
pub const MAX_KEY_LEN: usize = 1024;

/// Characters that may not appear in a key (besides ASCII control characters).
pub const RESERVED_CHARS: &str = "\\{}^%`[]\"<>~#|*?";

/// Checks that `key` is a valid blob key, returning [`BlobError::InvalidKey`]
/// describing the first rule it breaks.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    check(key).map_err(|reason| BlobError::InvalidKey {
        key: key.to_owned(),
        reason,
    })
}

/// Checks a list prefix: the empty string (everything) or a valid key.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), BlobError> {
    if prefix.is_empty() {
        Ok(())
    } else {
        validate_key(prefix)
    }
}

fn check(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Err("key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return Err("key must be relative (no leading '/')");
    }
    if key.ends_with('/') {
        return Err("key must not end with '/'");
    }
    for segment in key.split('/') {
        check_segment(segment)?;
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), &'static str> {
    match segment {
        "" => return Err("key contains an empty segment ('//')"),
        "." => return Err("key contains a '.' segment"),
        ".." => return Err("key contains a '..' segment"),
        _ => {}
    }
    if segment.chars().any(|c| c.is_ascii_control()) {
        return Err("key contains an ASCII control character");
    }
    if segment.contains(|c| RESERVED_CHARS.contains(c)) {
        return Err("key contains a reserved character (one of \\ { } ^ % ` [ ] \" < > ~ # | * ?)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "a/b/c.csv",
            "runs/2024-01-01/part-0001.parquet",
            "with space/ünïcode",
            "a=1,b+c@d;e&f$g!h'i(j)k:l",
            "...",
            ".hidden",
        ] {
            assert!(validate_key(key).is_ok(), "{key:?} should be valid");
        }
    }

    #[test]
    fn rejects_invalid_keys() {
        for key in [
            "",
            "/abs",
            "trailing/",
            "a//b",
            ".",
            "a/./b",
            "..",
            "a/../b",
            "../escape",
            "a\\b",
            "ctl\u{7}",
            "new\nline",
            "staged#1",
            "dir#22/file",
            "x#tag",
            "a~b",
            "50%",
            "glob*",
            "q?",
        ] {
            let err = validate_key(key).expect_err(key);
            assert!(
                matches!(err, BlobError::InvalidKey { key: ref k, .. } if k == key),
                "{key:?}: {err}"
            );
        }
        let long = "a".repeat(MAX_KEY_LEN + 1);
        assert!(validate_key(&long).is_err());
        assert!(validate_key(&"a".repeat(MAX_KEY_LEN)).is_ok());
    }

    #[test]
    fn prefix_may_be_empty() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("a/b").is_ok());
        assert!(validate_prefix("/a").is_err());
    }
}
