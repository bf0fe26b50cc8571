//! Error type shared by every [`BlobStore`](crate::BlobStore) implementation.

use std::path::PathBuf;

/// Everything that can go wrong when talking to a blob store.
///
/// Callers usually only need to distinguish [`BlobError::NotFound`] (a normal
/// outcome for reads) and [`BlobError::is_retryable`] (whether trying the same
/// operation again later may succeed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// No object exists under `key`.
    #[error("blob not found: {key}")]
    NotFound {
        /// The key that was looked up (relative to the store's root).
        key: String,
    },

    /// The key (or list prefix) is not a valid relative `/`-separated path.
    #[error("invalid blob key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key, verbatim.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// The store URL could not be parsed or is missing a required part.
    #[error("invalid blob store URL {url:?}: {reason}")]
    InvalidUrl {
        /// The rejected URL, verbatim.
        url: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The store URL uses a scheme this crate does not support.
    #[error("unsupported blob store URL scheme {scheme:?} in {url:?} (supported: file, s3, memory, or a plain path)")]
    UnsupportedScheme {
        /// The rejected URL, verbatim.
        url: String,
        /// The scheme found in it.
        scheme: String,
    },

    /// The backend rejected the store configuration (e.g. incomplete S3
    /// credentials).
    #[error("cannot configure blob store for {url:?}: {source}")]
    Config {
        /// The store URL being opened.
        url: String,
        /// The configuration error from `object_store`.
        #[source]
        source: object_store::Error,
    },

    /// The root directory of a local store could not be created.
    #[error("cannot create blob store directory {}: {source}", path.display())]
    LocalRoot {
        /// The directory that could not be created or resolved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The caller's input stream failed during [`put_stream`](crate::BlobStore::put_stream).
    ///
    /// The upload was aborted: no new object was written under `key`.
    #[error("input stream for blob {key} failed; upload aborted: {source}")]
    Source {
        /// The key that was being written.
        key: String,
        /// The error yielded by the input stream.
        #[source]
        source: std::io::Error,
    },

    /// The storage backend reported an error.
    #[error("blob store backend error during {op} of {key:?}: {source}")]
    Backend {
        /// The operation that failed, e.g. `"put"` or `"list"`.
        op: &'static str,
        /// The key (or prefix, for `list`) the operation was about.
        key: String,
        /// The error from `object_store`.
        #[source]
        source: object_store::Error,
    },
}

impl BlobError {
    /// Wraps an `object_store` error, mapping its not-found case to
    /// [`BlobError::NotFound`].
    pub(crate) fn backend(op: &'static str, key: &str, source: object_store::Error) -> Self {
        match source {
            object_store::Error::NotFound { .. } => Self::NotFound {
                key: key.to_owned(),
            },
            source => Self::Backend {
                op,
                key: key.to_owned(),
                source,
            },
        }
    }

    /// Returns `true` if this is [`BlobError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Returns `true` if repeating the same operation later may succeed.
    ///
    /// Only backend failures that are not a definite answer from the store
    /// count: `object_store` reports network failures, timeouts and server
    /// errors (after its own internal retries) as `Generic`, and task join
    /// failures as `JoinError`. Missing objects, bad keys/URLs, permission and
    /// precondition failures, and failures of the caller's own input stream
    /// (which cannot be replayed) are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Backend { source, .. } => matches!(
                source,
                object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
            ),
            Self::LocalRoot { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_not_found_maps_to_not_found() {
        let err = BlobError::backend(
            "get",
            "a/b",
            object_store::Error::NotFound {
                path: "x/a/b".into(),
                source: "gone".into(),
            },
        );
        assert!(matches!(err, BlobError::NotFound { ref key } if key == "a/b"));
        assert!(err.is_not_found());
        assert!(!err.is_retryable());
    }

    #[test]
    fn retryable_classification() {
        let generic = BlobError::backend(
            "put",
            "k",
            object_store::Error::Generic {
                store: "S3",
                source: "connection reset".into(),
            },
        );
        assert!(generic.is_retryable());
        let denied = BlobError::backend(
            "put",
            "k",
            object_store::Error::PermissionDenied {
                path: "k".into(),
                source: "no".into(),
            },
        );
        assert!(!denied.is_retryable());
        let invalid = BlobError::InvalidKey {
            key: "/x".into(),
            reason: "absolute",
        };
        assert!(!invalid.is_retryable());
    }
}
