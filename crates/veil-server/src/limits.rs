//! Request limits: the largest body a request may carry and how often one client may ask.
//!
//! [`Limits`] are applied to every route, the nested Entity Service API included, inside the metrics
//! and tracing layers, so refused requests are counted and traced like any other. The body limit is
//! tower-http's [`RequestBodyLimitLayer`]; the rate limit lives in `rate_limit.rs`.

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;

use crate::rate_limit::ClientRateLimiter;

const MIB: u64 = 1024 * 1024;

/// How large a request may be and how often one client may make one; the `[server]` config section's
/// `max_body_mib`, `rate_limit_per_second` and `rate_limit_burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body accepted, in bytes; a larger one is answered 413.
    pub max_body_bytes: u64,
    /// Requests per second one client IP may make on average, answered 503 with `Retry-After` above
    /// it; 0 turns the rate limit off.
    pub rate_limit_per_second: u32,
    /// Requests one client IP may make in a burst above the average rate; 0 counts as 1.
    pub rate_limit_burst: u32,
}

/// Why a request was refused before it reached its handler. Statuses are mapped in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitError {
    /// The body is larger than [`Limits::max_body_bytes`].
    #[error(
        "the request body is larger than the limit of {} (server.max_body_mib)",
        describe_size(*.limit_bytes)
    )]
    BodyTooLarge {
        /// The limit in bytes.
        limit_bytes: u64,
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
    let limit_bytes = limits.max_body_bytes;
    let router =
        router
            // The layer below is the one body limit; axum's default per extractor (2 MiB) would undercut it.
            .layer(DefaultBodyLimit::disable())
            .layer(RequestBodyLimitLayer::new(
                usize::try_from(limit_bytes).unwrap_or(usize::MAX),
            ))
            .layer(axum::middleware::map_response(
                move |response: Response| async move {
                    uniform_payload_too_large(response, limit_bytes)
                },
            ));
    match ClientRateLimiter::new(limits) {
        Some(limiter) => crate::rate_limit::apply(router, limiter),
        None => router,
    }
}

/// A 413 comes only from the body limit, but in several shapes: tower-http's plain text when
/// `Content-Length` announces too much, and, when a streamed body runs past the limit, whatever the
/// handler makes of the failed read (axum's plain-text rejection, the native API's problem JSON). Each
/// is replaced by the same problem JSON naming the limit and its config key.
fn uniform_payload_too_large(response: Response, limit_bytes: u64) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    LimitError::BodyTooLarge { limit_bytes }.into_response()
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
    use axum::http::{header, Request};
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    const LIMIT: u64 = 1024;

    fn limits() -> Limits {
        Limits {
            max_body_bytes: LIMIT,
            rate_limit_per_second: 0,
            rate_limit_burst: 0,
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
        assert!(detail.contains("server.max_body_mib"), "{detail}");
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
