//! The one place where errors become HTTP statuses, with RFC 7807 problem-JSON bodies.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::OriginalUri;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use veil_service::ServiceError;

use crate::limits::LimitError;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// What went wrong, naming the field or entity at fault.
    pub detail: String,
}

impl ApiError {
    /// A 400 naming the problem with the request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let status = match &err {
            ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Metadata(_) | ServiceError::Queue(_) | ServiceError::Blob(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        if status.is_server_error() {
            tracing::error!(error = %err, "request failed on a backend");
        }
        Self {
            status,
            detail: err.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl IntoResponse for LimitError {
    fn into_response(self) -> Response {
        let (status, retry_after_seconds) = match &self {
            LimitError::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, None),
            LimitError::Timeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, None),
            LimitError::TooManyUploads { .. } => (StatusCode::SERVICE_UNAVAILABLE, Some(5)),
            LimitError::GloballyThrottled {
                retry_after_seconds,
                ..
            } => (StatusCode::SERVICE_UNAVAILABLE, Some(*retry_after_seconds)),
            // 503 rather than 429: Entity Service clients retry on 503.
            LimitError::TooManyRequests {
                retry_after_seconds,
                ..
            } => (StatusCode::SERVICE_UNAVAILABLE, Some(*retry_after_seconds)),
        };
        let mut response = ApiError {
            status,
            detail: self.to_string(),
        }
        .into_response();
        if let Some(seconds) = retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Extractor rejections keep axum's status and message but are answered as problem JSON, like every
/// other error.
macro_rules! from_rejection {
    ($($rejection:ty),+ $(,)?) => {
        $(
            impl From<$rejection> for ApiError {
                fn from(rejection: $rejection) -> Self {
                    Self {
                        status: rejection.status(),
                        detail: rejection.body_text(),
                    }
                }
            }
        )+
    };
}

from_rejection!(BytesRejection, PathRejection, QueryRejection);

/// Answers any unknown path. `OriginalUri`, because a nested router sees the path without its prefix.
pub(crate) async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        detail: format!("no such endpoint: {}", uri.path()),
    }
}

/// Answers a known path called with a method it does not support (axum adds the `Allow` header).
pub(crate) async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        detail: format!("method {method} is not allowed on {}", uri.path()),
    }
}
