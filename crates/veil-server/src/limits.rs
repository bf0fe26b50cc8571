//! Request limits: how large and how slow a request may be, how many uploads run at once, and how
//! often one client (and all clients together) may ask.
//!
//! [`Limits`] are applied to every route, the nested Entity Service API included, inside the metrics
//! and tracing layers, so refused requests are counted and traced like any other. Size, time, upload
//! slots and the global rate live in `request_guard.rs`; the per-client rate in `rate_limit.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::rate_limit::ClientRateLimiter;
use crate::request_guard::{guard, RequestGuard};

const MIB: u64 = 1024 * 1024;

/// How large and slow a request may be, how many uploads run at once and how often clients may ask;
/// the `[server]` config section's keys of the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest upload body accepted, in bytes; a larger one is answered 413.
    pub max_body_bytes: u64,
    /// The largest body of any other request, in bytes; a larger one is answered 413.
    pub max_request_bytes: u64,
    /// How long a request other than an upload may take; answered 503 after that.
    pub request_timeout: Duration,
    /// How long an upload may take; answered 503 after that.
    pub upload_timeout: Duration,
    /// Uploads served at once, 0 for no limit; one more is answered 503 with `Retry-After`.
    pub max_concurrent_uploads: u32,
    /// Requests per second one client IP may make on average, answered 503 with `Retry-After` above
    /// it; 0 turns the rate limit off.
    pub rate_limit_per_second: u32,
    /// Requests one client IP may make in a burst above the average rate; 0 counts as 1.
    pub rate_limit_burst: u32,
    /// Requests per second accepted from all clients together; 0 turns this limit off.
    pub global_rate_limit_per_second: u32,
}

impl Default for Limits {
    /// The embedded defaults: uploads up to 1 GiB and an hour, four at once; other requests up to
    /// 1 MiB and a minute; 100 requests per second per client with bursts of 200; no global limit.
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * MIB,
            max_request_bytes: MIB,
            request_timeout: Duration::from_secs(60),
            upload_timeout: Duration::from_secs(3600),
            max_concurrent_uploads: 4,
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            global_rate_limit_per_second: 0,
        }
    }
}

/// Why a request was refused before it reached its handler. Statuses are mapped in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitError {
    /// The body is larger than its limit.
    #[error(
        "the request body is larger than the limit of {} ({key})",
        describe_size(*.limit_bytes)
    )]
    BodyTooLarge {
        /// The limit in bytes.
        limit_bytes: u64,
        /// The config key that sets it.
        key: &'static str,
    },
    /// Every upload slot is taken.
    #[error(
        "{limit} uploads are in progress, the most this server takes at once \
         (server.max_concurrent_uploads); retry shortly"
    )]
    TooManyUploads {
        /// The number of slots.
        limit: u32,
    },
    /// The request took longer than its limit.
    #[error("the request took longer than {seconds} s ({key})")]
    Timeout {
        /// The limit.
        seconds: u64,
        /// The config key that sets it.
        key: &'static str,
    },
    /// All clients together are over the global rate.
    #[error(
        "the server is over its limit of {per_second} requests per second from all clients \
         (server.global_rate_limit_per_second); retry in {retry_after_seconds} s"
    )]
    GloballyThrottled {
        /// The rate allowed.
        per_second: u32,
        /// Whole seconds until a request will be accepted, at least 1.
        retry_after_seconds: u64,
    },
    /// The client's bucket is empty.
    #[error(
        "too many requests from this client: the limit is {per_second} per second with bursts of \
         {burst} (server.rate_limit_per_second, server.rate_limit_burst); retry in \
         {retry_after_seconds} s"
    )]
    TooManyRequests {
        /// The average rate allowed.
        per_second: u32,
        /// The burst allowed.
        burst: u32,
        /// Whole seconds until the client's next request will be accepted, at least 1.
        retry_after_seconds: u64,
    },
}

/// Wraps every route of `router` in the body limit and, unless it is off, the rate limit. The rate
/// limit is outermost so that a throttled request is refused before any of its body is read.
pub(crate) fn apply<S>(router: Router<S>, limits: &Limits) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let router = router
        // The guard's limits are the only body limits; axum's default per extractor (2 MiB) would
        // undercut the upload limit.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(RequestGuard::new(limits)),
            guard,
        ));
    match ClientRateLimiter::new(limits) {
        Some(limiter) => crate::rate_limit::apply(router, limiter),
        None => router,
    }
}

/// `bytes` in MiB, as the config key `server.max_body_mib` counts them; exact bytes too when the
/// figure is not whole.
fn describe_size(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        return format!("{} MiB", bytes / MIB);
    }
    format!("{:.3} MiB ({bytes} bytes)", bytes as f64 / MIB as f64)
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, Bytes};
    use axum::http::{header, Request, StatusCode};
    use axum::response::Response;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    const LIMIT: u64 = 1024;

    fn limits() -> Limits {
        Limits {
            max_request_bytes: LIMIT,
            rate_limit_per_second: 0,
            ..Limits::default()
        }
    }

    /// A router that echoes the body's length, with the same handler nested as a service that sets
    /// no limit of its own, like the Entity Service API.
    fn echo_router() -> Router {
        let echo = || post(|body: Bytes| async move { body.len().to_string() });
        let nested = Router::new()
            .route("/echo", echo())
            .layer(DefaultBodyLimit::disable());
        let router = Router::new()
            .route("/echo", echo())
            .nest_service("/nested", nested);
        apply(router, &limits())
    }

    async fn post_body(path: &str, body: Body, content_length: Option<u64>) -> Response {
        let mut request = Request::post(path);
        if let Some(length) = content_length {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        echo_router()
            .oneshot(request.body(body).expect("valid request"))
            .await
            .expect("the router is infallible")
    }

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("response body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
    }

    /// A body of `total` bytes in chunks of 100, without a length, as a chunked upload arrives.
    fn streamed(total: usize) -> Body {
        let chunks = (0..total).step_by(100).map(move |start| {
            Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 100.min(total - start)]))
        });
        Body::from_stream(futures::stream::iter(chunks))
    }

    async fn expect_too_large(response: Response) {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let problem: serde_json::Value =
            serde_json::from_str(&body_text(response).await).expect("JSON body");
        assert_eq!(problem["status"], 413);
        assert_eq!(problem["title"], "Payload Too Large");
        let detail = problem["detail"].as_str().expect("a detail");
        assert!(detail.contains("0.001 MiB (1024 bytes)"), "{detail}");
        assert!(detail.contains("server.max_request_kib"), "{detail}");
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_pass() {
        for path in ["/echo", "/nested/echo"] {
            let exact = Body::from(vec![b'x'; LIMIT as usize]);
            let response = post_body(path, exact, Some(LIMIT)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(body_text(response).await, LIMIT.to_string());

            let response = post_body(path, streamed(LIMIT as usize), None).await;
            assert_eq!(body_text(response).await, LIMIT.to_string());
        }
    }

    #[tokio::test]
    async fn announced_bodies_over_the_limit_are_refused_as_problem_json() {
        for path in ["/echo", "/nested/echo"] {
            let body = Body::from(vec![b'x'; LIMIT as usize + 1]);
            expect_too_large(post_body(path, body, Some(LIMIT + 1)).await).await;
        }
    }

    #[tokio::test]
    async fn streamed_bodies_over_the_limit_are_refused_as_problem_json() {
        for path in ["/echo", "/nested/echo"] {
            expect_too_large(post_body(path, streamed(LIMIT as usize + 1), None).await).await;
        }
    }

    #[tokio::test]
    async fn other_answers_are_left_alone() {
        let response = post_body("/nowhere", Body::empty(), None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn sizes_are_described_in_mib() {
        assert_eq!(describe_size(1024 * MIB), "1024 MiB");
        assert_eq!(describe_size(MIB), "1 MiB");
        assert_eq!(describe_size(MIB / 2), "0.500 MiB (524288 bytes)");
    }
}
