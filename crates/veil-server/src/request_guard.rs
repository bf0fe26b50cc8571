//! Per-request limits that depend on what the request is: uploads (the Entity Service's `/clks` and
//! `/binaryclks`) may be large and slow but only a few run at once; every other request must be small
//! and quick. On top, an optional global rate over all clients together.
//!
//! Each refusal is a [`LimitError`] naming the config key to change; probes and scrapes are exempt from
//! the global rate like they are from the per-client one.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::limits::{LimitError, Limits};
use crate::rate_limit::EXEMPT_PATHS;

/// What kind of request, for its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestClass {
    /// A party's encodings: `POST /api/v1/projects/{id}/clks` or `…/binaryclks`.
    Upload,
    /// Anything else.
    Other,
}

/// Classifies a request by method and path; empty path segments are ignored, as the Entity Service
/// API accepts doubled slashes.
pub(crate) fn classify(method: &Method, path: &str) -> RequestClass {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let upload = method == Method::POST
        && matches!(
            segments.as_slice(),
            ["api", "v1", "projects", _, "clks" | "binaryclks"]
        );
    if upload {
        RequestClass::Upload
    } else {
        RequestClass::Other
    }
}

/// The limits' runtime state, shared by every request.
pub(crate) struct RequestGuard {
    limits: Limits,
    uploads: Option<Arc<Semaphore>>,
    global: Option<DefaultDirectRateLimiter>,
}

impl RequestGuard {
    pub(crate) fn new(limits: &Limits) -> Self {
        let uploads = (limits.max_concurrent_uploads > 0)
            .then(|| Arc::new(Semaphore::new(limits.max_concurrent_uploads as usize)));
        let global = std::num::NonZeroU32::new(limits.global_rate_limit_per_second)
            .map(|rate| RateLimiter::direct(Quota::per_second(rate)));
        Self {
            limits: *limits,
            uploads,
            global,
        }
    }

    fn body_limit(&self, class: RequestClass) -> (u64, &'static str) {
        match class {
            RequestClass::Upload => (self.limits.max_body_bytes, "server.max_body_mib"),
            RequestClass::Other => (self.limits.max_request_bytes, "server.max_request_kib"),
        }
    }

    fn timeout(&self, class: RequestClass) -> (Duration, &'static str) {
        match class {
            RequestClass::Upload => (self.limits.upload_timeout, "server.upload_timeout_seconds"),
            RequestClass::Other => (
                self.limits.request_timeout,
                "server.request_timeout_seconds",
            ),
        }
    }
}

/// Applies the request's limits: the global rate, the upload slots, the body size and the time.
pub(crate) async fn guard(
    State(guard): State<Arc<RequestGuard>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if EXEMPT_PATHS.contains(&path) {
        return next.run(request).await;
    }
    if let Some(global) = &guard.global {
        if let Err(not_until) = global.check() {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return LimitError::GloballyThrottled {
                per_second: guard.limits.global_rate_limit_per_second,
                retry_after_seconds: wait.as_secs().max(1),
            }
            .into_response();
        }
    }
    let class = classify(request.method(), path);
    let _upload_slot = match (&guard.uploads, class) {
        (Some(slots), RequestClass::Upload) => match Arc::clone(slots).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                return LimitError::TooManyUploads {
                    limit: guard.limits.max_concurrent_uploads,
                }
                .into_response()
            }
        },
        _ => None,
    };
    let (limit_bytes, limit_key) = guard.body_limit(class);
    let too_large = || LimitError::BodyTooLarge {
        limit_bytes,
        key: limit_key,
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit_bytes) {
        return too_large().into_response();
    }
    let limit = usize::try_from(limit_bytes).unwrap_or(usize::MAX);
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    let (duration, key) = guard.timeout(class);
    match tokio::time::timeout(duration, next.run(request)).await {
        // Whatever the handler made of a body cut off by the limit, the answer names the limit.
        Ok(response) if response.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            too_large().into_response()
        }
        Ok(response) => response,
        Err(_) => LimitError::Timeout {
            seconds: duration.as_secs(),
            key,
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests;
