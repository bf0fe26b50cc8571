//! [`EntityError`]: every failure of the compatibility API, and its problem-JSON answer.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use veil_blob::BlobError;

/// What the Entity Service answers when a project id is unknown or a token does not fit: the original
/// does not tell the two apart (both are 403).
pub const INVALID_ACCESS: &str =
    "Invalid access token or project doesn't exist, or the token is not valid for this operation";

/// An error of the Entity Service compatibility API, answered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    /// The request is malformed or invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// Unknown project, missing or wrong token, or an operation the token may not do (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such route (404).
    #[error("{0}")]
    NotFound(String),
    /// The request body is over the server's limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The route exists but not for this method (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A feature this deployment does not offer, answered as the original does (500).
    #[error("{0}")]
    FeatureDisabled(String),
    /// The run ended in error, so it has no result; answered as the original does (500).
    #[error("{0}")]
    RunFailed(String),
    /// The metadata database failed (503).
    #[error("metadata database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The blob store failed (503).
    #[error("blob store error: {0}")]
    Blob(#[from] BlobError),
    /// The platform's job service failed (503).
    #[error("job service error: {0}")]
    Service(#[from] veil_service::ServiceError),
    /// Stored data could not be read back (500).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl EntityError {
    /// A 400 naming the problem.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    /// The 403 for an unknown project or a token that does not fit.
    pub fn invalid_access() -> Self {
        Self::Forbidden(INVALID_ACCESS.to_string())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::FeatureDisabled(_) | Self::RunFailed(_) | Self::Corrupt(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Database(_) | Self::Blob(_) | Self::Service(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for EntityError {
    fn into_response(self) -> Response {
        let status = self.status();
        // 500s that answer as the original does (a disabled feature, a failed run) are not faults.
        if matches!(
            self,
            Self::Database(_) | Self::Blob(_) | Self::Service(_) | Self::Corrupt(_)
        ) {
            tracing::error!(error = %self, "entity service request failed");
        }
        let title = match &self {
            Self::FeatureDisabled(_) => "Feature Disabled",
            _ => status.canonical_reason().unwrap_or("Error"),
        };
        let body = serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// Result of the compatibility API's operations.
pub type EntityResult<T> = Result<T, EntityError>;
