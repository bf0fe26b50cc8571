//! The executor seam: a `TaskRunner` with a `TaskExecutor` delegates each task (never the final step)
//! and keeps the lease, state and retries; `run_task_standalone` runs a stored task elsewhere and
//! commits its result, which the runner then accepts without writing it again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use veil_domain::{JobState, NewJob, QueueItem};
use veil_metadata::testsuite::fresh_sqlite;
use veil_queue::{QueueSettings, SqlQueue, TaskQueue};
use veil_service::{
    run_task_standalone, task_result_key, JobKind, JobService, Platform, Registry, TaskContext,
    TaskError, TaskExecutor, TaskRunner,
};

const LEASE: Duration = Duration::from_millis(600);
const HEARTBEAT: Duration = Duration::from_millis(150);

/// Stands in for a Kubernetes Job: runs the stored task "in another process" via
/// `run_task_standalone`, or fails every attempt.
struct RemoteExecutor {
    platform: Platform,
    calls: AtomicU32,
    fail: bool,
}

#[async_trait]
impl TaskExecutor for RemoteExecutor {
    async fn execute(
        &self,
        _kind: Arc<dyn JobKind>,
        ctx: &TaskContext,
        item: &QueueItem,
    ) -> Result<Option<Bytes>, TaskError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_ne!(item.kind, veil_service::FINALIZE_TASK_KIND);
        if self.fail {
            return Err(TaskError::retryable("Job failed; last log lines: boom"));
        }
        let key = run_task_standalone(&self.platform, item.task_id, ctx.cancel.clone()).await?;
        assert_eq!(key, task_result_key(item.job_id, item.index));
        Ok(None)
    }
}

async fn run_job(fail: bool) -> (veil_domain::Job, Platform, Arc<RemoteExecutor>) {
    let database = fresh_sqlite().await;
    let settings = QueueSettings {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
    };
    let queue: Arc<dyn TaskQueue> = Arc::new(SqlQueue::new(&database.database, settings));
    let platform = Platform {
        store: database.database.metadata_store(),
        queue: queue.clone(),
        blobs: veil_blob::open("memory://", &Default::default()).unwrap(),
        registry: Arc::new(Registry::with_builtin_kinds()),
        max_attempts: 2,
    };
    let executor = Arc::new(RemoteExecutor {
        platform: platform.clone(),
        calls: AtomicU32::new(0),
        fail,
    });
    let runner =
        TaskRunner::new(platform.clone(), LEASE, HEARTBEAT).with_executor(executor.clone());
    let jobs = JobService::new(platform.clone());
    let job = jobs
        .submit(NewJob {
            kind: "sleep".into(),
            params: serde_json::json!({"tasks": 3, "millis": 1}),
            owner: None,
        })
        .await
        .unwrap();
    for _ in 0..500 {
        let current = jobs.get(job.id).await.unwrap();
        if current.state.is_terminal() {
            database.database.close().await;
            return (current, platform, executor);
        }
        match queue.claim("test-worker", LEASE).await.unwrap() {
            Some(delivery) => {
                runner
                    .run(delivery, CancellationToken::new())
                    .await
                    .unwrap();
            }
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    panic!("job did not finish");
}

#[tokio::test]
async fn delegated_tasks_commit_their_results_and_the_job_finishes_here() {
    let (job, platform, executor) = run_job(false).await;
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(
        executor.calls.load(Ordering::SeqCst),
        3,
        "one call per task"
    );
    for index in 0..3 {
        let key = task_result_key(job.id, index);
        assert!(platform.blobs.exists(&key).await.unwrap(), "{key}");
    }
}

#[tokio::test]
async fn a_failing_executor_is_retried_then_fails_the_job_with_its_message() {
    let (job, _, executor) = run_job(true).await;
    assert_eq!(job.state, JobState::Failed);
    assert!(
        job.error
            .as_deref()
            .unwrap_or_default()
            .contains("last log lines: boom"),
        "{:?}",
        job.error
    );
    assert!(executor.calls.load(Ordering::SeqCst) >= 2, "retried");
}
