//! Operations endpoints: liveness, readiness, the redacted configuration and Prometheus metrics.

use reqwest::StatusCode;

use crate::common::{content_type, TestApp, REDACTED_CONFIG};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_follow_the_database() {
    let app = TestApp::start().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    app.client.health().await.unwrap();

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ready");

    app.database.database.close().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.text().await.unwrap();
    assert!(body.contains("metadata store not ready"), "{body}");

    // The process itself is still up.
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    // Backend failures are answered as problem JSON with 503.
    let response = app.get("/api/jobs").await;
    crate::common::expect_problem(response, StatusCode::SERVICE_UNAVAILABLE, &[]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_is_the_redacted_text_of_the_state() {
    let app = TestApp::start().await;
    let response = app.get("/api/config").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), "application/toml");
    assert_eq!(response.text().await.unwrap(), REDACTED_CONFIG);
    assert_eq!(app.client.config().await.unwrap(), REDACTED_CONFIG);
    app.stop().await;
}

/// The sum of the samples of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, label_text) = series.split_once('{').unwrap_or((series, ""));
        if metric != name {
            continue;
        }
        if labels
            .iter()
            .all(|(key, value)| label_text.contains(&format!("{key}=\"{value}\"")))
        {
            let value: f64 = value.parse().expect("a numeric sample");
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// Scrapes `/metrics`, checking the content type.
async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        content_type(&response).starts_with("text/plain"),
        "{}",
        content_type(&response)
    );
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_requests_queue_and_tasks() {
    let app = TestApp::start().await;
    // The recorder is process-global and other tests run in this binary too: only presence and growth
    // are checked, never exact counts.
    let job = app
        .submit(
            "sleep",
            serde_json::json!({"tasks": 3, "millis": 10, "fail_first_attempt_below": 2}),
        )
        .await;
    app.wait_for_success(job.id).await;
    app.client.list_jobs(&Default::default()).await.unwrap();
    assert_eq!(app.get("/nope/123").await.status(), StatusCode::NOT_FOUND);

    let before = scrape(&app).await;
    let list_requests = [("method", "GET"), ("route", "/api/jobs"), ("status", "200")];
    let listed_before = sample(&before, "veil_http_requests_total", &list_requests)
        .unwrap_or_else(|| panic!("no GET /api/jobs requests counted:\n{before}"));
    assert!(listed_before >= 1.0);
    let submitted = [
        ("method", "POST"),
        ("route", "/api/jobs"),
        ("status", "201"),
    ];
    assert!(
        sample(&before, "veil_http_requests_total", &submitted).is_some_and(|n| n >= 1.0),
        "{before}"
    );
    // Routes are labelled by template, never by the concrete path.
    assert!(
        sample(
            &before,
            "veil_http_requests_total",
            &[("route", "/api/jobs/{id}")]
        )
        .is_some_and(|n| n >= 1.0),
        "{before}"
    );
    assert!(
        sample(
            &before,
            "veil_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .is_some_and(|n| n >= 1.0),
        "{before}"
    );
    assert!(!before.contains(&job.id.to_string()), "{before}");
    assert!(!before.contains("/nope/123"), "{before}");

    for series in [
        "veil_http_request_duration_seconds_bucket",
        "veil_http_request_duration_seconds_sum",
        "veil_http_request_duration_seconds_count",
    ] {
        assert!(
            sample(&before, series, &[("route", "/api/jobs")]).is_some(),
            "{series} missing:\n{before}"
        );
    }
    assert!(
        sample(
            &before,
            "veil_http_request_duration_seconds_bucket",
            &[("route", "/api/jobs"), ("le", "+Inf")]
        )
        .is_some_and(|n| n >= 1.0),
        "{before}"
    );
    assert!(
        sample(
            &before,
            "veil_http_request_duration_seconds_bucket",
            &[("le", "0.005")]
        )
        .is_some(),
        "latency buckets are the configured ones:\n{before}"
    );

    for condition in ["ready", "delayed", "leased", "dead"] {
        assert!(
            sample(&before, "veil_queue_depth", &[("condition", condition)]).is_some(),
            "veil_queue_depth{{condition={condition:?}}} missing:\n{before}"
        );
    }
    assert!(
        sample(
            &before,
            "veil_tasks_total",
            &[("kind", "sleep"), ("outcome", "succeeded")]
        )
        .is_some_and(|n| n >= 3.0),
        "{before}"
    );
    assert!(
        sample(
            &before,
            "veil_tasks_total",
            &[("kind", "veil.finalize"), ("outcome", "succeeded")]
        )
        .is_some_and(|n| n >= 1.0),
        "{before}"
    );
    assert!(
        sample(
            &before,
            "veil_tasks_total",
            &[("kind", "sleep"), ("outcome", "retrying")]
        )
        .is_some_and(|n| n >= 2.0),
        "{before}"
    );
    assert!(
        sample(
            &before,
            "veil_task_duration_seconds_bucket",
            &[("kind", "sleep"), ("le", "+Inf")]
        )
        .is_some_and(|n| n >= 3.0),
        "{before}"
    );
    assert!(
        sample(&before, "veil_task_retries_total", &[("kind", "sleep")]).is_some_and(|n| n >= 2.0),
        "tasks 0 and 1 are retried once each:\n{before}"
    );

    // Counters only grow.
    app.client.list_jobs(&Default::default()).await.unwrap();
    let after = scrape(&app).await;
    let listed_after = sample(&after, "veil_http_requests_total", &list_requests).unwrap();
    assert!(
        listed_after > listed_before,
        "{listed_after} > {listed_before}"
    );
    assert!(
        sample(&after, "veil_http_requests_total", &[("route", "/metrics")])
            .is_some_and(|n| n >= 1.0),
        "{after}"
    );
    app.stop().await;
}
