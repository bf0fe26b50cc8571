use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, Request as HttpRequest, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::*;
use crate::limits::apply;

const UPLOAD: &str = "/api/v1/projects/abc/clks";

fn limits() -> Limits {
    Limits {
        max_body_bytes: 4096,
        max_request_bytes: 1024,
        request_timeout: Duration::from_millis(200),
        upload_timeout: Duration::from_secs(5),
        max_concurrent_uploads: 1,
        rate_limit_per_second: 0,
        global_rate_limit_per_second: 0,
        ..Limits::default()
    }
}

/// Echoes body lengths on an upload path and a plain path; `/api/slow` sleeps a second; the upload
/// path answers only once its whole body has arrived.
fn app(limits: &Limits) -> Router {
    let echo = || post(|body: Bytes| async move { body.len().to_string() });
    let router = Router::new()
        .route("/api/v1/projects/{id}/clks", echo())
        .route("/api/jobs", echo())
        .route(
            "/api/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                "late"
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    apply(router, limits)
}

async fn send(app: &Router, method: &str, path: &str, body: Body) -> Response {
    let request = HttpRequest::builder()
        .method(method)
        .uri(path)
        .body(body)
        .expect("valid request");
    app.clone().oneshot(request).await.expect("infallible")
}

async fn detail(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let problem: serde_json::Value = serde_json::from_slice(&bytes).expect("problem JSON");
    problem["detail"].as_str().expect("detail").to_string()
}

#[test]
fn uploads_are_recognised_with_or_without_doubled_slashes() {
    assert_eq!(classify(&Method::POST, UPLOAD), RequestClass::Upload);
    assert_eq!(
        classify(&Method::POST, "/api/v1//projects/abc/binaryclks"),
        RequestClass::Upload
    );
    assert_eq!(classify(&Method::GET, UPLOAD), RequestClass::Other);
    assert_eq!(
        classify(&Method::POST, "/api/v1/projects/abc/runs"),
        RequestClass::Other
    );
    assert_eq!(classify(&Method::POST, "/api/jobs"), RequestClass::Other);
}

#[tokio::test]
async fn uploads_get_the_large_limit_and_everything_else_the_small_one() {
    let app = app(&limits());
    let response = send(&app, "POST", UPLOAD, Body::from(vec![b'x'; 4096])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(&app, "POST", UPLOAD, Body::from(vec![b'x'; 4097])).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(detail(response).await.contains("server.max_body_mib"));

    let response = send(&app, "POST", "/api/jobs", Body::from(vec![b'x'; 1024])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(&app, "POST", "/api/jobs", Body::from(vec![b'x'; 1025])).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(detail(response).await.contains("server.max_request_kib"));
}

#[tokio::test]
async fn a_second_upload_waits_for_a_free_slot_while_others_are_served() {
    let app = app(&limits());
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let slow_body = Body::from_stream(tokio_stream_from(receiver));
    let first = tokio::spawn({
        let app = app.clone();
        async move { send(&app, "POST", UPLOAD, slow_body).await }
    });
    sender.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let second = send(&app, "POST", UPLOAD, Body::from("x")).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()[header::RETRY_AFTER], "5");
    assert!(detail(second)
        .await
        .contains("server.max_concurrent_uploads"));
    let other = send(&app, "POST", "/api/jobs", Body::from("x")).await;
    assert_eq!(other.status(), StatusCode::OK, "other requests are served");

    drop(sender);
    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
    let third = send(&app, "POST", UPLOAD, Body::from("x")).await;
    assert_eq!(third.status(), StatusCode::OK, "the slot is free again");
}

#[tokio::test]
async fn slow_requests_time_out_with_the_key_named() {
    let app = app(&limits());
    let response = send(&app, "GET", "/api/slow", Body::empty()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(detail(response)
        .await
        .contains("server.request_timeout_seconds"));
    let healthy = send(&app, "GET", "/healthz", Body::empty()).await;
    assert_eq!(healthy.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_global_rate_covers_all_clients_but_not_probes() {
    let app = app(&Limits {
        global_rate_limit_per_second: 1,
        ..limits()
    });
    let first = send(&app, "POST", "/api/jobs", Body::from("x")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = send(&app, "POST", "/api/jobs", Body::from("x")).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(second.headers().contains_key(header::RETRY_AFTER));
    assert!(detail(second)
        .await
        .contains("server.global_rate_limit_per_second"));
    for _ in 0..3 {
        let probe = send(&app, "GET", "/healthz", Body::empty()).await;
        assert_eq!(probe.status(), StatusCode::OK);
    }
}

fn tokio_stream_from(
    mut receiver: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
