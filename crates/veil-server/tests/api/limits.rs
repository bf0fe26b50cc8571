//! The request limits over real connections: bodies over the limit are refused with 413, clients over
//! their rate with 503 and `Retry-After`, and the server goes on serving everyone else.
//!
//! Over-limit bodies are sent on a raw TCP connection, so that the test controls exactly what is on
//! the wire: the client never sends more than the server reads before it answers and closes, which
//! would otherwise make the socket reset and the answer race it.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veil_server::Limits;

use crate::common::{expect_problem, TestApp, PATIENCE};

const MIB: u64 = 1024 * 1024;

fn body_limit_only() -> Limits {
    Limits {
        max_request_bytes: MIB,
        rate_limit_per_second: 0,
        ..Limits::default()
    }
}

/// One response read off a raw connection.
struct RawResponse {
    status: u16,
    content_type: String,
    body: String,
}

/// Sends `request` on a new connection and reads one response, whose length the server announces.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> RawResponse {
    tokio::time::timeout(PATIENCE, async {
        let address = app.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect to the server");
        stream.write_all(request).await.expect("send the request");
        let mut received = Vec::new();
        let head_end = loop {
            if let Some(at) = received.windows(4).position(|window| window == b"\r\n\r\n") {
                break at + 4;
            }
            let mut buffer = [0u8; 4096];
            let read = stream.read(&mut buffer).await.expect("read the response");
            assert!(read > 0, "connection closed before the response head");
            received.extend_from_slice(&buffer[..read]);
        };
        let head = String::from_utf8(received[..head_end].to_vec()).expect("UTF-8 head");
        let header = |name: &str| {
            head.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.trim().to_string())
                .unwrap_or_default()
        };
        let content_length: usize = header("content-length").parse().expect("a content-length");
        let mut body = received[head_end..].to_vec();
        while body.len() < content_length {
            let mut buffer = [0u8; 4096];
            let read = stream
                .read(&mut buffer)
                .await
                .expect("read the response body");
            assert!(read > 0, "connection closed before the response body ended");
            body.extend_from_slice(&buffer[..read]);
        }
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        RawResponse {
            status,
            content_type: header("content-type"),
            body: String::from_utf8(body).expect("UTF-8 body"),
        }
    })
    .await
    .expect("the exchange finishes in time")
}

fn expect_body_too_large(response: RawResponse) {
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.content_type, "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&response.body).expect("JSON body");
    assert_eq!(problem["type"], "about:blank");
    assert_eq!(problem["title"], "Payload Too Large");
    assert_eq!(problem["status"], 413);
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.contains("limit of 1 MiB"), "{detail}");
    assert!(detail.contains("server.max_request_kib"), "{detail}");
}

async fn expect_still_serving(app: &TestApp) {
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let job = app
        .submit("echo", serde_json::json!({"message": "still here"}))
        .await;
    app.wait_for_success(job.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_bodies_over_the_limit_get_413_before_they_are_sent() {
    let app = TestApp::start_with_limits(body_limit_only()).await;
    let head = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: veil\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        MIB + 1
    );
    expect_body_too_large(raw_exchange(&app, head.as_bytes()).await);
    expect_still_serving(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_bodies_over_the_limit_get_413() {
    let app = TestApp::start_with_limits(body_limit_only()).await;
    // Signed in: the gate answers 401 before any body is read.
    let mut request = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: veil\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.admin_token
    )
    .into_bytes();
    // Exactly the limit in 64 KiB chunks, then one byte too many; the body is left unterminated.
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..16 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"1\r\n \r\n");
    expect_body_too_large(raw_exchange(&app, &request).await);
    expect_still_serving(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_limit_replaces_axums_default() {
    let app = TestApp::start_with_limits(Limits {
        max_request_bytes: 3 * MIB,
        ..body_limit_only()
    })
    .await;
    // A valid job padded with whitespace past axum's 2 MiB default, up to the configured limit.
    let job = br#"{"kind": "echo", "params": {"message": "padded"}}"#;
    let mut body = job.to_vec();
    body.resize(3 * MIB as usize, b' ');
    let response = app.post_raw("/api/jobs", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_over_their_rate_get_503_until_their_bucket_refills() {
    let app = TestApp::start_with_limits(Limits {
        rate_limit_per_second: 5,
        rate_limit_burst: 5,
        ..body_limit_only()
    })
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/jobs").await.status(), StatusCode::OK);
    }
    // The bucket refills by one request every 200 ms; asking faster than that empties it.
    let mut refused = None;
    for _ in 0..100 {
        let response = app.get("/api/jobs").await;
        if response.status() != StatusCode::OK {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("a burst over the rate is refused");
    let retry_after: u64 = refused.headers()[RETRY_AFTER]
        .to_str()
        .expect("ASCII Retry-After")
        .parse()
        .expect("Retry-After in whole seconds");
    assert_eq!(retry_after, 1);
    expect_problem(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        &[
            "5 per second with bursts of 5",
            "server.rate_limit_per_second",
        ],
    )
    .await;

    // Probes and scrapes are never throttled, and other clients have buckets of their own.
    for path in ["/healthz", "/readyz", "/metrics"] {
        for _ in 0..10 {
            assert_eq!(app.get(path).await.status(), StatusCode::OK, "{path}");
        }
    }
    let other_client = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().expect("an address"))
        .timeout(PATIENCE)
        .build()
        .expect("build HTTP client");
    let response = other_client
        .get(app.url("/api/jobs"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("GET from another address reaches the server");
    assert_eq!(response.status(), StatusCode::OK);

    // After the advertised wait the bucket holds a request again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(app.get("/api/jobs").await.status(), StatusCode::OK);
    app.stop().await;
}
