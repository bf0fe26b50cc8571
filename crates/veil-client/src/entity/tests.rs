use std::sync::atomic::{AtomicU32, Ordering};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use super::*;

#[test]
fn base_urls_end_in_api_v1_once() {
    let base = |server: &str| api_base_url(server).unwrap().to_string();
    assert_eq!(base("http://host:8851"), "http://host:8851/api/v1/");
    assert_eq!(base("http://host:8851/"), "http://host:8851/api/v1/");
    assert_eq!(base("http://host:8851/api/v1"), "http://host:8851/api/v1/");
    assert_eq!(base("https://host/es/api/v1/"), "https://host/es/api/v1/");
    assert_eq!(base("http://host/prefix"), "http://host/prefix/api/v1/");
    assert!(api_base_url("ftp://host").is_err());
    assert!(api_base_url("not a url").is_err());
    assert!(api_base_url("http://host/?x=1").is_err());
}

#[test]
fn paths_are_encoded_segments_below_the_base() {
    let client = EntityClient::new("http://host:1/api/v1").unwrap();
    assert_eq!(
        client.url(&["projects", "a/b", "runs"]).as_str(),
        "http://host:1/api/v1/projects/a%2Fb/runs"
    );
}

#[test]
fn backoff_doubles_and_honours_retry_after_up_to_the_cap() {
    let policy = RetryPolicy {
        attempts: 5,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
    };
    assert_eq!(policy.delay(1, None), Duration::from_millis(100));
    assert_eq!(policy.delay(3, None), Duration::from_millis(400));
    assert_eq!(policy.delay(9, None), Duration::from_secs(1));
    assert_eq!(
        policy.delay(1, Some(Duration::from_secs(60))),
        Duration::from_secs(1)
    );
}

#[test]
fn problems_carry_the_detail_or_the_text() {
    let err = problem(
        StatusCode::FORBIDDEN,
        br#"{"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "bad token"}"#,
        1,
    );
    assert_eq!(err.to_string(), "bad token (403 Forbidden)");
    let err = problem(StatusCode::BAD_GATEWAY, b"upstream down", 3);
    assert_eq!(
        err.to_string(),
        "upstream down (502 Bad Gateway, after 3 attempts)"
    );
    assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
}

/// Serves `router` on a free port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn rate_limited_calls_are_retried_until_they_pass() {
    async fn flaky(State(calls): State<Arc<AtomicU32>>) -> axum::response::Response {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            return (StatusCode::SERVICE_UNAVAILABLE, "slow down").into_response();
        }
        axum::Json(
            serde_json::json!({"project_id": "p", "result_token": "r", "update_tokens": ["u"]}),
        )
        .into_response()
    }
    let calls = Arc::new(AtomicU32::new(0));
    let router = Router::new()
        .route("/api/v1/projects", post(flaky))
        .with_state(calls.clone());
    let client = EntityClient::new(&serve(router).await)
        .unwrap()
        .with_retry(quick_retry());
    let project = NewProject {
        schema: serde_json::json!({}),
        result_type: ResultType::Groups,
        number_parties: 2,
        name: String::new(),
        notes: String::new(),
        uses_blocking: false,
    };
    let credentials = client.create_project(&project).await.unwrap();
    assert_eq!(credentials.project_id, "p");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_server_that_stays_unavailable_is_reported_with_the_attempts() {
    let router = Router::new().route(
        "/api/v1/status",
        get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy") }),
    );
    let client = EntityClient::new(&serve(router).await)
        .unwrap()
        .with_retry(quick_retry());
    let err = client.service_status().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "busy (503 Service Unavailable, after 4 attempts)"
    );
}

#[tokio::test]
async fn binary_uploads_stream_with_headers_and_are_resent_on_503() {
    async fn receive(
        State(calls): State<Arc<AtomicU32>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert_eq!(header("authorization"), "update-token");
        assert_eq!(header("hash-count"), "3");
        assert_eq!(header("hash-size"), "2");
        assert_eq!(header("content-length"), "6");
        assert_eq!(&body[..], b"abcdef");
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return (StatusCode::SERVICE_UNAVAILABLE, "again").into_response();
        }
        (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({"receipt_token": "rt", "message": "Updated"})),
        )
            .into_response()
    }
    let calls = Arc::new(AtomicU32::new(0));
    let router = Router::new()
        .route("/api/v1/projects/p1/binaryclks", post(receive))
        .with_state(calls.clone());
    let client = EntityClient::new(&(serve(router).await + "/api/v1"))
        .unwrap()
        .with_retry(quick_retry());
    let sent = Arc::new(AtomicU32::new(0));
    let seen = sent.clone();
    let body = UploadBody::from_chunks(6, || {
        [b"ab", b"cd", b"ef"]
            .into_iter()
            .map(|c| Bytes::from_static(c))
    })
    .with_progress(Arc::new(move |bytes| {
        seen.store(bytes as u32, Ordering::SeqCst)
    }));
    let receipt = client
        .upload_binary("p1", "update-token", 3, 2, &body)
        .await
        .unwrap();
    assert_eq!(receipt.receipt_token, "rt");
    assert_eq!(receipt.other["message"], "Updated");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(sent.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn an_unreadable_upload_file_is_a_body_error_naming_it() {
    let router = Router::new().route(
        "/api/v1/projects/p/clks",
        post(|_body: Bytes| async { StatusCode::CREATED }),
    );
    let client = EntityClient::new(&serve(router).await).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clks.json");
    std::fs::write(&path, b"{}").unwrap();
    let body = UploadBody::from_file(&path).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    let err = client.upload_json("p", "t", &body).await.unwrap_err();
    assert!(matches!(err, EntityClientError::Body { .. }), "{err:?}");
    assert!(err.to_string().contains("clks.json"), "{err}");
}
