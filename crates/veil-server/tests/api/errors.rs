//! Every error is a problem-JSON answer with the right status and a detail naming the problem.

use reqwest::header::ALLOW;
use reqwest::StatusCode;
use veil_client::ClientError;
use veil_domain::{JobId, NewJob};

use crate::common::{expect_problem, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_submissions_are_bad_requests() {
    let app = TestApp::start().await;
    let bad_request = StatusCode::BAD_REQUEST;

    let unknown_kind = serde_json::json!({"kind": "teleport", "params": {}});
    let response = app.post_json("/api/jobs", &unknown_kind).await;
    expect_problem(
        response,
        bad_request,
        &["unknown job kind `teleport`", "known kinds: echo, sleep"],
    )
    .await;

    let invalid_params = serde_json::json!({"kind": "sleep", "params": {"tasks": 0}});
    let response = app.post_json("/api/jobs", &invalid_params).await;
    expect_problem(response, bad_request, &["params.tasks"]).await;

    let wrong_type = serde_json::json!({"kind": "sleep", "params": {"tasks": "many"}});
    let response = app.post_json("/api/jobs", &wrong_type).await;
    expect_problem(response, bad_request, &["invalid `sleep` parameters"]).await;

    let response = app.post_raw("/api/jobs", r#"{"kind": "sleep", "#).await;
    expect_problem(response, bad_request, &["invalid job request body"]).await;

    let response = app.post_raw("/api/jobs", "").await;
    expect_problem(response, bad_request, &["invalid job request body"]).await;

    let unknown_field =
        serde_json::json!({"kind": "echo", "params": {"message": "hi"}, "colour": "red"});
    let response = app.post_json("/api/jobs", &unknown_field).await;
    expect_problem(
        response,
        bad_request,
        &["invalid job request body", "unknown field `colour`"],
    )
    .await;

    let missing_kind = serde_json::json!({"params": {}});
    let response = app.post_json("/api/jobs", &missing_kind).await;
    expect_problem(response, bad_request, &["missing field `kind`"]).await;

    // Bodies over axum's default limit are refused before they are parsed, still as problem JSON.
    let oversized = vec![b' '; 3 * 1024 * 1024];
    let response = app.post_raw("/api/jobs", oversized).await;
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE, &["length limit"]).await;

    // The typed client surfaces the detail.
    let refused = app
        .client
        .submit_job(&NewJob {
            kind: "teleport".into(),
            params: serde_json::Value::Null,
            owner: None,
        })
        .await;
    match refused {
        Err(ClientError::Api { status, detail }) => {
            assert_eq!(status, bad_request);
            assert!(detail.contains("unknown job kind `teleport`"), "{detail}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }

    // Nothing was stored.
    assert!(app
        .client
        .list_jobs(&Default::default())
        .await
        .unwrap()
        .is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_ids_and_queries_are_refused() {
    let app = TestApp::start().await;

    for path in ["/api/jobs/not-a-uuid", "/api/jobs/not-a-uuid/result"] {
        let response = app.get(path).await;
        expect_problem(
            response,
            StatusCode::BAD_REQUEST,
            &["`not-a-uuid` is not a valid job id"],
        )
        .await;
    }
    let response = app
        .post_json("/api/jobs/not-a-uuid/cancel", &serde_json::json!({}))
        .await;
    expect_problem(
        response,
        StatusCode::BAD_REQUEST,
        &["`not-a-uuid` is not a valid job id"],
    )
    .await;

    let unknown = JobId::new_random();
    for path in [
        format!("/api/jobs/{unknown}"),
        format!("/api/jobs/{unknown}/result"),
    ] {
        let response = app.get(&path).await;
        expect_problem(
            response,
            StatusCode::NOT_FOUND,
            &["not found", &unknown.to_string()],
        )
        .await;
    }
    let response = app
        .post_json(
            &format!("/api/jobs/{unknown}/cancel"),
            &serde_json::json!({}),
        )
        .await;
    expect_problem(
        response,
        StatusCode::NOT_FOUND,
        &["not found", &unknown.to_string()],
    )
    .await;
    match app.client.describe_job(unknown).await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status, StatusCode::NOT_FOUND),
        other => panic!("expected a 404, got {other:?}"),
    }

    for path in ["/api/nope", "/api/jobs/a/b/c", "/nope", "/"] {
        let response = app.get(path).await;
        expect_problem(
            response,
            StatusCode::NOT_FOUND,
            &[&format!("no such endpoint: {path}")],
        )
        .await;
    }

    let response = app.get("/api/jobs?state=bogus").await;
    expect_problem(
        response,
        StatusCode::BAD_REQUEST,
        &["query parameter state", "`bogus` is not a valid job state"],
    )
    .await;
    let response = app.get("/api/jobs?limit=lots").await;
    expect_problem(response, StatusCode::BAD_REQUEST, &["limit"]).await;
    let response = app.get("/api/jobs?colour=red").await;
    expect_problem(
        response,
        StatusCode::BAD_REQUEST,
        &["unknown field `colour`"],
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_methods_are_refused_with_allow() {
    let app = TestApp::start().await;
    for (method, path, allowed) in [
        (reqwest::Method::DELETE, "/api/jobs", "GET,HEAD,POST"),
        (reqwest::Method::POST, "/api/queue", "GET,HEAD"),
        (reqwest::Method::GET, "/api/jobs/x/cancel", "POST"),
        (reqwest::Method::POST, "/healthz", "GET,HEAD"),
    ] {
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get(ALLOW)
            .map(|value| value.to_str().unwrap().replace(' ', ""));
        assert_eq!(allow.as_deref(), Some(allowed), "{method} {path}");
        expect_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            &[&format!("method {method} is not allowed on {path}")],
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_cancellation_conflict_with_the_job_state() {
    let app = TestApp::start().await;

    // Still running: no result yet.
    let slow = app
        .submit("sleep", serde_json::json!({"tasks": 1, "millis": 600_000}))
        .await;
    let response = app.get(&format!("/api/jobs/{}/result", slow.id)).await;
    expect_problem(
        response,
        StatusCode::CONFLICT,
        &[&slow.id.to_string(), "not succeeded: no result yet"],
    )
    .await;

    // Cancelled: cancelling again conflicts, and there never will be a result.
    app.client.cancel_job(slow.id).await.unwrap();
    let response = app
        .post_json(
            &format!("/api/jobs/{}/cancel", slow.id),
            &serde_json::json!({}),
        )
        .await;
    expect_problem(response, StatusCode::CONFLICT, &["is already cancelled"]).await;
    let response = app.get(&format!("/api/jobs/{}/result", slow.id)).await;
    expect_problem(
        response,
        StatusCode::CONFLICT,
        &["is cancelled, not succeeded"],
    )
    .await;

    // Succeeded: it cannot be cancelled any more.
    let done = app
        .submit("echo", serde_json::json!({"message": "done"}))
        .await;
    app.wait_for_success(done.id).await;
    let response = app
        .post_json(
            &format!("/api/jobs/{}/cancel", done.id),
            &serde_json::json!({}),
        )
        .await;
    expect_problem(
        response,
        StatusCode::CONFLICT,
        &[&done.id.to_string(), "is already succeeded"],
    )
    .await;
    match app.client.cancel_job(done.id).await {
        Err(ClientError::Api { status, detail }) => {
            assert_eq!(status, StatusCode::CONFLICT);
            assert!(detail.contains("already succeeded"), "{detail}");
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    app.stop().await;
}
