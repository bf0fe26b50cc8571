//! Cancelling a running job over HTTP.

use std::time::Duration;

use reqwest::StatusCode;
use veil_domain::{JobState, TaskState};

use crate::common::{content_type, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_it_for_good() {
    let app = TestApp::start().await;
    // Far longer than the test: no task can finish before it is cancelled.
    let job = app
        .submit("sleep", serde_json::json!({"tasks": 20, "millis": 600_000}))
        .await;
    assert_eq!(job.task_count, 20);

    // Waits for a running task rather than for the job to say `running`: a task claimed before its job
    // is marked queued leaves the job `queued` while the task runs (a service-layer race).
    app.eventually("a task of the job to run", async || {
        let description = app.client.describe_job(job.id).await.unwrap();
        description
            .tasks
            .iter()
            .any(|task| task.state == TaskState::Running)
            .then_some(())
    })
    .await;
    let leased_before = app.client.queue_stats().await.unwrap().leased;
    assert!(leased_before >= 1, "a running task holds a lease");

    let response = app
        .http
        .post(app.url(&format!("/api/jobs/{}/cancel", job.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), "application/json");
    let cancelled: serde_json::Value = response.json().await.unwrap();
    assert_eq!(cancelled["id"], job.id.to_string());
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert!(!cancelled["finished_at"].is_null(), "{cancelled}");

    // Nothing of the job is left to deliver or held under lease.
    let stats = app.client.queue_stats().await.unwrap();
    assert_eq!((stats.ready, stats.leased), (0, 0), "{stats:?}");

    // Give the workers time to notice (several heartbeats, longer than a lease), then prove they are
    // still working by running another job to completion.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let echo = app
        .submit("echo", serde_json::json!({"message": "after"}))
        .await;
    app.wait_for_success(echo.id).await;

    let description = app.client.describe_job(job.id).await.unwrap();
    assert_eq!(description.job.state, JobState::Cancelled);
    assert_eq!(description.tasks.len(), 20);
    assert!(
        description
            .tasks
            .iter()
            .all(|task| task.state == TaskState::Cancelled),
        "{:?}",
        description
            .tasks
            .iter()
            .map(|task| task.state)
            .collect::<Vec<_>>()
    );
    let messages: Vec<&str> = description
        .events
        .iter()
        .map(|event| event.message.as_str())
        .collect();
    let cancel_event = messages
        .iter()
        .position(|message| {
            message.starts_with("cancelled by test-admin: 20 unfinished tasks cancelled")
        })
        .unwrap_or_else(|| panic!("no cancellation event in {messages:?}"));
    assert!(
        messages[cancel_event + 1..]
            .iter()
            .all(|message| !message.starts_with("succeeded") && !message.starts_with("started")),
        "nothing may restart the job after its cancellation: {messages:?}"
    );

    let response = app.get("/api/queue").await;
    assert_eq!(response.status(), StatusCode::OK);
    let raw: serde_json::Value = response.json().await.unwrap();
    assert_eq!(raw["ready"], 0, "{raw}");
    assert_eq!(raw["leased"], 0, "{raw}");
    assert_eq!(raw["delayed"], 0, "{raw}");
    assert_eq!(raw["dead"], 0, "{raw}");

    app.stop().await;
}
