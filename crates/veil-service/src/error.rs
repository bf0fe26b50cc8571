//! Errors of the service layer. The HTTP layer maps them to status codes in one place.

use veil_blob::BlobError;
use veil_metadata::MetadataError;
use veil_queue::QueueError;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The job (or other entity) does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked up.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The request is malformed or its parameters are invalid.
    #[error("{0}")]
    InvalidRequest(String),
    /// The request conflicts with the current state (e.g. cancelling a finished job).
    #[error("{0}")]
    Conflict(String),
    /// No valid credential: missing, malformed, expired, revoked or badly signed.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid credential without the right to do this.
    #[error("{0}")]
    Forbidden(String),
    /// A service the request depends on (the OpenID Connect issuer) cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// The metadata store failed.
    #[error(transparent)]
    Metadata(MetadataError),
    /// The task queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The blob store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl From<MetadataError> for ServiceError {
    fn from(err: MetadataError) -> Self {
        match err {
            MetadataError::NotFound { what, id } => ServiceError::NotFound { what, id },
            other => ServiceError::Metadata(other),
        }
    }
}
