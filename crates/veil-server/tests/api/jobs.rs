//! Submitting, running, describing, fetching results and listing jobs.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use veil_domain::{JobFilter, JobId, JobState};
use veil_metadata::testsuite::{fresh_postgres, fresh_sqlite, postgres_url_from_env, TestDatabase};

use crate::common::{content_type, TestApp};

const TASKS: u64 = 4;

/// Submit → 201, run to success on the in-process workers, then describe and fetch the result.
///
/// The workers start only after the submission is answered, so the 201 shows the job exactly as
/// queued (with workers already polling, a fast worker may have started it by then).
async fn sleep_job_runs_to_completion(database: TestDatabase) {
    let mut app = TestApp::start_without_workers(database).await;
    let params = serde_json::json!({"tasks": TASKS, "millis": 20, "fail_first_attempt_below": 1});
    let response = app
        .post_json(
            "/api/jobs",
            &serde_json::json!({"kind": "sleep", "params": params, "owner": "tester"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(content_type(&response), "application/json");
    let submitted: serde_json::Value = response.json().await.unwrap();
    assert_eq!(submitted["state"], "queued", "{submitted}");
    assert_eq!(submitted["task_count"], TASKS, "{submitted}");
    assert_eq!(submitted["kind"], "sleep", "{submitted}");
    // The owner is the signed-in submitter, whatever the body claims.
    assert_eq!(submitted["owner"], "test-admin", "{submitted}");
    assert_eq!(submitted["params"], params, "{submitted}");
    assert!(submitted["finished_at"].is_null(), "{submitted}");
    let id: JobId = submitted["id"].as_str().unwrap().parse().unwrap();
    app.start_workers();

    let job = app.wait_for_success(id).await;
    assert_eq!(job.task_count, TASKS as u32);
    assert!(job.started_at.is_some() && job.finished_at.is_some());
    assert_eq!(job.error, None);

    // The raw description: every task succeeded, with its attempts, progress and result key.
    let response = app.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let described: serde_json::Value = response.json().await.unwrap();
    assert_eq!(described["job"]["id"], id.to_string());
    assert_eq!(described["job"]["state"], "succeeded");
    let tasks = described["tasks"].as_array().unwrap();
    assert_eq!(tasks.len() as u64, TASKS);
    for (index, task) in tasks.iter().enumerate() {
        assert_eq!(task["index"], index as u64, "{task}");
        assert_eq!(task["state"], "succeeded", "{task}");
        let expected_attempts = if index == 0 { 2 } else { 1 };
        assert_eq!(
            task["attempts"], expected_attempts,
            "task 0 fails its first attempt on purpose: {task}"
        );
        assert_eq!(task["progress"]["current"], 10, "{task}");
        assert_eq!(task["progress"]["total"], 10, "{task}");
        assert!(
            task["result_key"]
                .as_str()
                .is_some_and(|key| key.contains(&id.to_string())),
            "{task}"
        );
    }
    let events: Vec<&str> = described["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        events.first().copied(),
        Some("created by test-admin with 4 tasks"),
        "{events:?}"
    );
    assert_eq!(events.get(1).copied(), Some("queued 4 tasks"), "{events:?}");
    for expected in ["started", "all 4 tasks succeeded; running the final step"] {
        assert!(events.contains(&expected), "{expected:?} in {events:?}");
    }
    assert!(
        events
            .iter()
            .any(|event| event.starts_with("task 0 failed on attempt 1")),
        "{events:?}"
    );
    // Exactly once, however many tasks finished at the same moment.
    assert_eq!(
        events
            .iter()
            .filter(|event| event.starts_with("succeeded in "))
            .count(),
        1,
        "{events:?}"
    );
    let seqs: Vec<i64> = described["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");

    // The typed client sees the same.
    let description = app.client.describe_job(id).await.unwrap();
    assert_eq!(description.tasks.len() as u64, TASKS);
    assert_eq!(description.events.len(), events.len());

    // The result: every task's index exactly once.
    let response = app.get(&format!("/api/jobs/{id}/result")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), "application/octet-stream");
    let result: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap())
        .expect("the sleep job's result is JSON");
    let mut seen = BTreeMap::new();
    for entry in result["results"].as_array().expect("a results array") {
        *seen.entry(entry["index"].as_u64().unwrap()).or_insert(0) += 1;
    }
    let expected: BTreeMap<u64, i32> = (0..TASKS).map(|index| (index, 1)).collect();
    assert_eq!(seen, expected, "{result}");
    let through_client = app.client.job_result(id).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&through_client).unwrap(),
        result
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_job_runs_to_completion_on_sqlite() {
    sleep_job_runs_to_completion(fresh_sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_job_runs_to_completion_on_postgres() {
    let Some(url) = postgres_url_from_env() else {
        return;
    };
    sleep_job_runs_to_completion(fresh_postgres(&url).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_job_result_is_the_message() {
    let app = TestApp::start().await;
    let job = app
        .submit("echo", serde_json::json!({"message": "hello, veil"}))
        .await;
    assert_eq!(job.task_count, 1);
    app.wait_for_success(job.id).await;
    // `echo` has no final step of its own, so it stores no job result.
    let result = app.get(&format!("/api/jobs/{}/result", job.id)).await;
    crate::common::expect_problem(result, StatusCode::NOT_FOUND, &["result of job"]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_is_newest_first_and_filters_by_state_kind_and_limit() {
    let app = TestApp::start().await;
    let first = app
        .submit("echo", serde_json::json!({"message": "one"}))
        .await;
    let second = app
        .submit("sleep", serde_json::json!({"tasks": 1, "millis": 10}))
        .await;
    let third = app
        .submit("echo", serde_json::json!({"message": "three"}))
        .await;
    for job in [&first, &second, &third] {
        app.wait_for_success(job.id).await;
    }
    let fourth = app
        .submit("sleep", serde_json::json!({"tasks": 1, "millis": 600_000}))
        .await;
    assert_eq!(
        app.client.cancel_job(fourth.id).await.unwrap().state,
        JobState::Cancelled
    );

    let ids = |jobs: Vec<veil_domain::Job>| jobs.into_iter().map(|job| job.id).collect::<Vec<_>>();
    let list = |filter: JobFilter| {
        let client = app.client.clone();
        async move { ids(client.list_jobs(&filter).await.unwrap()) }
    };
    assert_eq!(
        list(JobFilter::default()).await,
        vec![fourth.id, third.id, second.id, first.id]
    );
    assert_eq!(
        list(JobFilter {
            state: Some(JobState::Succeeded),
            ..JobFilter::default()
        })
        .await,
        vec![third.id, second.id, first.id]
    );
    assert_eq!(
        list(JobFilter {
            state: Some(JobState::Cancelled),
            ..JobFilter::default()
        })
        .await,
        vec![fourth.id]
    );
    assert_eq!(
        list(JobFilter {
            state: Some(JobState::Running),
            ..JobFilter::default()
        })
        .await,
        Vec::<JobId>::new()
    );
    assert_eq!(
        list(JobFilter {
            kind: Some("echo".into()),
            ..JobFilter::default()
        })
        .await,
        vec![third.id, first.id]
    );
    assert_eq!(
        list(JobFilter {
            owner: None,
            state: Some(JobState::Succeeded),
            kind: Some("sleep".into()),
            limit: None,
        })
        .await,
        vec![second.id]
    );
    assert_eq!(
        list(JobFilter {
            kind: Some("nope".into()),
            ..JobFilter::default()
        })
        .await,
        Vec::<JobId>::new()
    );
    assert_eq!(
        list(JobFilter {
            limit: Some(2),
            ..JobFilter::default()
        })
        .await,
        vec![fourth.id, third.id]
    );
    assert_eq!(
        list(JobFilter {
            kind: Some("echo".into()),
            limit: Some(1),
            ..JobFilter::default()
        })
        .await,
        vec![third.id]
    );

    // The raw answer is a JSON array of jobs.
    let response = app.get("/api/jobs?state=succeeded&kind=echo&limit=5").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), "application/json");
    let raw: serde_json::Value = response.json().await.unwrap();
    let raw_ids: Vec<&str> = raw
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        raw_ids,
        vec![third.id.to_string(), first.id.to_string()],
        "{raw}"
    );
    app.stop().await;
}
