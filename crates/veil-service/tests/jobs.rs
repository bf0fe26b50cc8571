//! The job lifecycle end to end on real backends: planning, running, retries, dead letters,
//! cancellation, lease expiry and crash recovery.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use veil_domain::{JobFilter, JobState, NewJob, TaskSpec, TaskState, TaskUpdate};
use veil_metadata::testsuite::{fresh_postgres, fresh_sqlite, postgres_url_from_env, TestDatabase};
use veil_queue::{QueueSettings, SqlQueue, TaskQueue};
use veil_service::{
    task_result_key, JobKind, JobService, Platform, Registry, RunOutcome, ServiceError,
    TaskContext, TaskError, TaskRunner,
};

const LEASE: Duration = Duration::from_millis(600);
const HEARTBEAT: Duration = Duration::from_millis(150);

/// `flaky`: task `i` fails with `params.mode` (`always`, `permanent`) or waits to be cancelled (`hang`).
struct FlakyJob;

#[async_trait]
impl JobKind for FlakyJob {
    fn name(&self) -> &'static str {
        "flaky"
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Vec<TaskSpec>, String> {
        Ok(vec![
            TaskSpec {
                kind: "flaky".into(),
                params: params.clone()
            };
            2
        ])
    }

    async fn run_task(&self, ctx: &TaskContext) -> Result<Bytes, TaskError> {
        match ctx.params["mode"].as_str() {
            Some("always") => Err(TaskError::retryable("boom")),
            Some("permanent") => Err(TaskError::permanent("bad input")),
            Some("hang") => {
                ctx.cancel.cancelled().await;
                Err(TaskError::retryable("stopped"))
            }
            _ => Ok(Bytes::from_static(b"ok")),
        }
    }
}

struct Harness {
    jobs: JobService,
    runner: TaskRunner,
    queue: Arc<dyn TaskQueue>,
    database: TestDatabase,
}

async fn harness(database: TestDatabase) -> Harness {
    let settings = QueueSettings {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
    };
    let queue: Arc<dyn TaskQueue> = Arc::new(SqlQueue::new(&database.database, settings));
    let mut registry = Registry::with_builtin_kinds();
    registry.register(Arc::new(FlakyJob));
    let platform = Platform {
        store: database.database.metadata_store(),
        queue: queue.clone(),
        blobs: veil_blob::open("memory://", &Default::default()).unwrap(),
        registry: Arc::new(registry),
        max_attempts: 3,
    };
    Harness {
        jobs: JobService::new(platform.clone()),
        runner: TaskRunner::new(platform, LEASE, HEARTBEAT),
        queue,
        database,
    }
}

async fn sqlite() -> Harness {
    harness(fresh_sqlite().await).await
}

impl Harness {
    /// Claims and runs deliveries one at a time until the job is finished.
    async fn drive(&self, job: veil_domain::JobId) -> veil_domain::Job {
        for _ in 0..500 {
            let job = self.jobs.get(job).await.unwrap();
            if job.state.is_terminal() {
                return job;
            }
            match self.queue.claim("test-worker", LEASE).await.unwrap() {
                Some(delivery) => {
                    self.runner
                        .run(delivery, CancellationToken::new())
                        .await
                        .unwrap();
                }
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        panic!("job {job} did not finish");
    }

    async fn submit(&self, kind: &str, params: serde_json::Value) -> veil_domain::Job {
        self.jobs
            .submit(NewJob {
                kind: kind.into(),
                params,
                owner: Some("tester".into()),
            })
            .await
            .unwrap()
    }

    async fn events(&self, job: veil_domain::JobId) -> Vec<String> {
        self.jobs
            .describe(job)
            .await
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.message)
            .collect()
    }
}

async fn sleep_job_runs_to_completion(h: Harness) {
    let job = h
        .submit(
            "sleep",
            serde_json::json!({"tasks": 5, "millis": 10, "fail_first_attempt_below": 1}),
        )
        .await;
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.task_count, 5);
    let job = h.drive(job.id).await;
    assert_eq!(job.state, JobState::Succeeded, "{:?}", job.error);
    let result: serde_json::Value =
        serde_json::from_slice(&h.jobs.result(job.id).await.unwrap()).unwrap();
    let indices: Vec<u64> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, vec![0, 1, 2, 3, 4]);
    let description = h.jobs.describe(job.id).await.unwrap();
    assert!(description
        .tasks
        .iter()
        .all(|t| t.state == TaskState::Succeeded));
    assert_eq!(
        description.tasks[0].attempts, 2,
        "task 0 fails its first attempt"
    );
    assert_eq!(description.tasks[0].progress.fraction(), Some(1.0));
    let events = h.events(job.id).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("task 0 failed on attempt 1")),
        "{events:?}"
    );
    assert!(
        events.last().unwrap().starts_with("succeeded"),
        "{events:?}"
    );
    h.database.teardown().await;
}

#[tokio::test]
async fn sleep_job_runs_to_completion_on_sqlite() {
    sleep_job_runs_to_completion(sqlite().await).await;
}

#[tokio::test]
async fn sleep_job_runs_to_completion_on_postgres() {
    let Some(url) = postgres_url_from_env() else {
        return;
    };
    sleep_job_runs_to_completion(harness(fresh_postgres(&url).await).await).await;
}

#[tokio::test]
async fn task_failing_after_its_retry_budget_fails_the_job() {
    let h = sqlite().await;
    let job = h
        .submit("flaky", serde_json::json!({"mode": "always"}))
        .await;
    let job = h.drive(job.id).await;
    assert_eq!(job.state, JobState::Failed);
    let error = job.error.unwrap();
    assert!(error.ends_with("failed after 3 attempts: boom"), "{error}");
    let dead = h.queue.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1, "boom");
    let description = h.jobs.describe(job.id).await.unwrap();
    let states: Vec<TaskState> = description.tasks.iter().map(|t| t.state).collect();
    assert!(
        states.contains(&TaskState::Failed) && states.contains(&TaskState::Cancelled),
        "{states:?}"
    );
    assert!(matches!(
        h.jobs.result(job.id).await,
        Err(ServiceError::Conflict(_))
    ));
}

#[tokio::test]
async fn permanent_failure_is_not_retried() {
    let h = sqlite().await;
    let job = h
        .submit("flaky", serde_json::json!({"mode": "permanent"}))
        .await;
    let job = h.drive(job.id).await;
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.error.as_deref(), Some("task 0 failed: bad input"));
    let tasks = h.jobs.describe(job.id).await.unwrap().tasks;
    assert_eq!(tasks[0].attempts, 1);
}

#[tokio::test]
async fn invalid_submissions_store_nothing() {
    let h = sqlite().await;
    let unknown = h
        .jobs
        .submit(NewJob {
            kind: "nope".into(),
            params: serde_json::Value::Null,
            owner: None,
        })
        .await;
    let Err(ServiceError::InvalidRequest(message)) = unknown else {
        panic!("{unknown:?}")
    };
    assert!(
        message.contains("unknown job kind `nope`") && message.contains("sleep"),
        "{message}"
    );
    let bad = h
        .jobs
        .submit(NewJob {
            kind: "sleep".into(),
            params: serde_json::json!({"tasks": 0}),
            owner: None,
        })
        .await;
    let Err(ServiceError::InvalidRequest(message)) = bad else {
        panic!("{bad:?}")
    };
    assert!(message.contains("params.tasks"), "{message}");
    assert!(h.jobs.list(JobFilter::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn cancelling_stops_running_tasks_and_empties_the_queue() {
    let h = sqlite().await;
    let job = h.submit("flaky", serde_json::json!({"mode": "hang"})).await;
    let delivery = h.queue.claim("w", LEASE).await.unwrap().unwrap();
    let runner = h.runner.clone();
    let running = tokio::spawn(async move { runner.run(delivery, CancellationToken::new()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cancelled = h.jobs.cancel(job.id, "tester").await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    let outcome = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(outcome, RunOutcome::Skipped);
    assert!(h.queue.claim("w", LEASE).await.unwrap().is_none());
    let tasks = h.jobs.describe(job.id).await.unwrap().tasks;
    assert!(
        tasks.iter().all(|t| t.state == TaskState::Cancelled),
        "{tasks:?}"
    );
    assert!(matches!(
        h.jobs.cancel(job.id, "tester").await,
        Err(ServiceError::Conflict(_))
    ));
}

#[tokio::test]
async fn task_of_a_dead_worker_is_redelivered_after_its_lease_expires() {
    let h = sqlite().await;
    let job = h.submit("echo", serde_json::json!({"message": "hi"})).await;
    let abandoned = h.queue.claim("dead-worker", LEASE).await.unwrap().unwrap();
    assert!(h.queue.claim("live-worker", LEASE).await.unwrap().is_none());
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let job = h.drive(job.id).await;
    assert_eq!(job.state, JobState::Succeeded);
    let events = h.events(job.id).await;
    assert!(
        events
            .iter()
            .any(|e| e == "task 0 retried after lease expired (attempt 2)"),
        "{events:?}"
    );
    assert!(
        h.queue.complete(&abandoned).await.is_err(),
        "a stale delivery cannot be acknowledged"
    );
}

#[tokio::test]
async fn task_committed_before_a_crash_is_not_run_twice() {
    let h = sqlite().await;
    let job = h
        .submit("echo", serde_json::json!({"message": "once"}))
        .await;
    let delivery = h
        .queue
        .claim("crashing-worker", LEASE)
        .await
        .unwrap()
        .unwrap();
    // The worker commits the result and the task row, then dies before acknowledging.
    let key = task_result_key(job.id, 0);
    h.jobs
        .platform()
        .blobs
        .put(&key, Bytes::from_static(b"once"))
        .await
        .unwrap();
    let mut done = TaskUpdate::new(&[TaskState::Queued], TaskState::Succeeded);
    done.result_key = Some(key.clone());
    assert!(h
        .jobs
        .platform()
        .store
        .update_task(delivery.item.task_id, &done)
        .await
        .unwrap());
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let job = h.drive(job.id).await;
    assert_eq!(job.state, JobState::Succeeded);
    let keys = h
        .jobs
        .platform()
        .blobs
        .list(&format!("jobs/{}/tasks", job.id))
        .await
        .unwrap();
    assert_eq!(keys, vec![key]);
    let tasks = h.jobs.describe(job.id).await.unwrap().tasks;
    assert_eq!(
        tasks[0].attempts, 0,
        "the redelivery was acknowledged without running the task again"
    );
}

#[tokio::test]
async fn jobs_stored_but_not_queued_are_recovered() {
    let h = sqlite().await;
    let job = veil_domain::Job {
        id: veil_domain::JobId::new_random(),
        kind: "echo".into(),
        params: serde_json::json!({"message": "late"}),
        owner: "tester".into(),
        state: JobState::Pending,
        created_at: veil_domain::now(),
        started_at: None,
        finished_at: None,
        error: None,
        task_count: 1,
    };
    let spec = TaskSpec {
        kind: "echo".into(),
        params: job.params.clone(),
    };
    let task = veil_domain::Task::planned(job.id, 0, spec);
    h.jobs
        .platform()
        .store
        .create_job(&job, &[task])
        .await
        .unwrap();
    assert!(h.queue.claim("w", LEASE).await.unwrap().is_none());
    assert_eq!(h.jobs.recover_unqueued().await.unwrap(), 1);
    assert_eq!(h.queue.stats().await.unwrap().ready, 1);
    // Running recovery again (every start does) queues nothing twice.
    h.jobs.recover_unqueued().await.unwrap();
    assert_eq!(h.queue.stats().await.unwrap().ready, 1);
    assert_eq!(h.drive(job.id).await.state, JobState::Succeeded);
    assert_eq!(
        h.jobs.result(job.id).await.unwrap_err().to_string(),
        format!("result of job {} not found", job.id)
    );
}
