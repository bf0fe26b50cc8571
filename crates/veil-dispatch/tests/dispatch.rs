//! A hub (job service, queue, workers with the dispatch executor) and dispatchers in "secure
//! environments", end to end: on embedded queues, through a dispatcher killed mid-task, and on the
//! RabbitMQ broker when `VEIL_TEST_AMQP_URL` is set.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use veil_blob::BlobStore;
use veil_dispatch::{
    DispatchContext, DispatchExecutor, DispatchHandlers, DispatchMessage, DispatchTask, Dispatcher,
    DispatcherSettings, EnvironmentQueues, LocalStatusChannel, MessageRunner, RabbitStatusChannel,
    Source, SourceProfileJob, SourceProfileTask, Sources, StatusChannel,
};
use veil_domain::{JobId, JobState, NewJob, TaskSpec};
use veil_metadata::testsuite::{fresh_sqlite, TestDatabase};
use veil_queue::testsuite::amqp_url_from_env;
use veil_queue::{QueueSettings, RabbitQueue, SqlQueue, TaskQueue};
use veil_service::{JobKind, JobService, Platform, Registry, TaskContext, TaskError, TaskRunner};
use veil_worker::{WorkerPool, WorkerSettings};

const SLOW: &str = "slow.test";

fn quick_retries() -> QueueSettings {
    QueueSettings {
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
    }
}

fn dispatcher_settings(lease: Duration) -> DispatcherSettings {
    DispatcherSettings {
        environment: "test".into(),
        concurrency: 2,
        lease,
        heartbeat: lease / 4,
        poll_interval: Duration::from_millis(20),
    }
}

/// A hub job that runs one slow task in an environment and returns its result.
struct SlowJob;

#[async_trait]
impl JobKind for SlowJob {
    fn name(&self) -> &'static str {
        SLOW
    }
    fn plan(&self, params: &Value) -> Result<Vec<TaskSpec>, String> {
        Ok(vec![TaskSpec {
            kind: SLOW.into(),
            params: params.clone(),
        }])
    }
    async fn run_task(&self, _ctx: &TaskContext) -> Result<Bytes, TaskError> {
        Err(TaskError::permanent("runs in an environment only"))
    }
    async fn finalize(
        &self,
        ctx: &TaskContext,
        results: &[String],
    ) -> Result<Option<Bytes>, TaskError> {
        Ok(Some(ctx.blobs.get(&results[0]).await.unwrap()))
    }
}

/// The dispatcher's slow task: reports progress for `millis`, then answers with its attempt.
struct SlowTask;

#[async_trait]
impl DispatchTask for SlowTask {
    fn kind(&self) -> &'static str {
        SLOW
    }
    async fn run(&self, ctx: &DispatchContext) -> Result<Bytes, TaskError> {
        let millis = ctx.message.params["millis"].as_u64().unwrap_or(0);
        for step in 0..10 {
            ctx.report_progress(step, Some(10), Some("slow"));
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(TaskError::retryable("cancelled")),
                _ = tokio::time::sleep(Duration::from_millis(millis / 10)) => {}
            }
        }
        Ok(Bytes::from(json!({"attempt": ctx.attempt}).to_string()))
    }
}

struct Hub {
    jobs: JobService,
    blobs: Arc<dyn BlobStore>,
    shutdown: CancellationToken,
    platform: Platform,
    queues: Arc<EnvironmentQueues>,
    status: Arc<dyn StatusChannel>,
    workers: tokio::task::JoinHandle<()>,
    _database: TestDatabase,
}

/// A worker pool of the hub with the dispatch executor; in-flight tasks get 100 ms on shutdown.
fn spawn_pool(
    platform: &Platform,
    queues: &Arc<EnvironmentQueues>,
    status: &Arc<dyn StatusChannel>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let executor = DispatchExecutor::new(
        Arc::clone(queues),
        Arc::clone(status),
        platform.blobs.clone(),
        platform.store.clone(),
        None,
        3,
    );
    let runner = TaskRunner::new(
        platform.clone(),
        Duration::from_secs(10),
        Duration::from_secs(2),
    )
    .with_executor(Arc::new(executor));
    let mut settings = WorkerSettings::new(2, Duration::from_millis(20));
    settings.shutdown_grace = Duration::from_millis(100);
    tokio::spawn(WorkerPool::new(runner, settings).run(shutdown.clone()))
}

async fn start_hub(queues: EnvironmentQueues, status: Arc<dyn StatusChannel>) -> Hub {
    let database = fresh_sqlite().await;
    let blobs = veil_blob::open("memory://", &Default::default()).unwrap();
    let mut registry = Registry::new();
    registry.register(Arc::new(SourceProfileJob::default()));
    registry.register(Arc::new(SlowJob));
    let platform = Platform {
        store: database.database.metadata_store(),
        queue: Arc::new(SqlQueue::new(&database.database, quick_retries())),
        blobs: blobs.clone(),
        registry: Arc::new(registry),
        max_attempts: 3,
    };
    let queues = Arc::new(queues);
    let shutdown = CancellationToken::new();
    let workers = spawn_pool(&platform, &queues, &status, &shutdown);
    Hub {
        jobs: JobService::new(platform.clone()),
        blobs,
        shutdown,
        platform,
        queues,
        status,
        workers,
        _database: database,
    }
}

impl Hub {
    /// Stops the hub's workers (as a process shutting down would) and starts new ones.
    async fn restart_workers(&mut self) {
        self.shutdown.cancel();
        let old = std::mem::replace(&mut self.workers, tokio::spawn(async {}));
        old.await.unwrap();
        self.shutdown = CancellationToken::new();
        self.workers = spawn_pool(&self.platform, &self.queues, &self.status, &self.shutdown);
    }

    async fn run(&self, kind: &str, params: Value) -> (JobState, Option<Value>, Option<String>) {
        let job = self
            .jobs
            .submit(NewJob {
                kind: kind.into(),
                params,
                owner: None,
            })
            .await
            .unwrap();
        self.wait(job.id).await
    }

    async fn wait(&self, id: JobId) -> (JobState, Option<Value>, Option<String>) {
        for _ in 0..600 {
            let job = self.jobs.get(id).await.unwrap();
            if job.state.is_terminal() {
                let result = match job.state {
                    JobState::Succeeded => {
                        Some(serde_json::from_slice(&self.jobs.result(id).await.unwrap()).unwrap())
                    }
                    _ => None,
                };
                return (job.state, result, job.error);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} did not finish");
    }
}

/// Submits a slow job (1.5 s in the environment) and returns once a dispatcher has started its task.
async fn submit_slow_and_wait_until_it_runs(
    hub: &Hub,
    status: &dyn StatusChannel,
) -> veil_domain::Job {
    let job = hub
        .jobs
        .submit(NewJob {
            kind: SLOW.into(),
            params: json!({"environment": "local", "millis": 1500}),
            owner: None,
        })
        .await
        .unwrap();
    let mut updates = status
        .subscribe(veil_domain::TaskId::for_job(job.id, 0))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), updates.recv())
        .await
        .expect("a dispatcher starts the task");
    job
}

fn clinic() -> (tempfile::TempDir, Sources) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("patient,age,diagnosis\n");
    for i in 0..120 {
        csv.push_str(&format!("Patient-{i},{},code{}\n", 30 + i % 40, i % 12));
    }
    std::fs::write(dir.path().join("people.csv"), csv).unwrap();
    let mut sources = Sources::new();
    sources.insert(
        "clinic",
        Source::Files {
            root: dir.path().to_path_buf(),
        },
    );
    (dir, sources)
}

fn start_dispatcher(
    queue: Arc<dyn TaskQueue>,
    blobs: Arc<dyn BlobStore>,
    sources: Sources,
    status: Arc<dyn StatusChannel>,
    lease: Duration,
) -> CancellationToken {
    let mut dispatcher = Dispatcher::new(queue, blobs, sources, status, dispatcher_settings(lease));
    dispatcher.register(Arc::new(SourceProfileTask));
    dispatcher.register(Arc::new(SlowTask));
    let stop = CancellationToken::new();
    tokio::spawn(Arc::new(dispatcher).run(stop.clone()));
    stop
}

async fn embedded() -> (Arc<dyn TaskQueue>, TestDatabase) {
    let database = fresh_sqlite().await;
    (
        Arc::new(SqlQueue::new(&database.database, quick_retries())),
        database,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_profile_job_runs_in_the_environment_and_returns_aggregates_only() {
    let (env_queue, _env_db) = embedded().await;
    let status: Arc<dyn StatusChannel> = Arc::new(LocalStatusChannel::default());
    let queues =
        EnvironmentQueues::fixed(HashMap::from([("local".to_string(), env_queue.clone())]));
    let hub = start_hub(queues, status.clone()).await;
    let (dir, sources) = clinic();
    let stop = start_dispatcher(
        env_queue,
        hub.blobs.clone(),
        sources,
        status,
        Duration::from_secs(5),
    );

    let params = json!({"environment": "local", "source": "clinic", "path": "people.csv"});
    let (state, result, error) = hub.run("source.profile", params).await;
    assert_eq!(state, JobState::Succeeded, "{error:?}");
    let profile = result.unwrap();
    assert_eq!(profile["rows"], 120);
    assert_eq!(profile["columns"][1]["type"], "integer");
    assert_eq!(profile["columns"][2]["distinct"], 12);
    let text = profile.to_string();
    assert!(!text.contains("Patient-"), "no cell leaves: {text}");

    let escape = json!({"environment": "local", "source": "clinic", "path": "../etc/passwd"});
    let (state, _, error) = hub.run("source.profile", escape).await;
    assert_eq!(state, JobState::Failed);
    let error = error.unwrap();
    assert!(error.contains("\"clinic\""), "{error}");
    assert!(
        !error.contains(&*dir.path().to_string_lossy()),
        "root leaked: {error}"
    );

    let unknown = json!({"environment": "elsewhere", "source": "clinic", "path": "people.csv"});
    let (state, _, error) = hub.run("source.profile", unknown).await;
    assert_eq!(state, JobState::Failed);
    assert!(error.unwrap().contains("elsewhere"));
    stop.cancel();
    hub.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_killed_mid_task_is_replaced_and_the_job_completes_once() {
    let (env_queue, _env_db) = embedded().await;
    let status = Arc::new(LocalStatusChannel::default());
    let queues =
        EnvironmentQueues::fixed(HashMap::from([("local".to_string(), env_queue.clone())]));
    let hub = start_hub(queues, status.clone()).await;

    // The victim runs on a runtime of its own, so that dropping the runtime kills it mid-task.
    let lease = Duration::from_millis(800);
    let victim = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    {
        let _entered = victim.enter();
        start_dispatcher(
            env_queue.clone(),
            hub.blobs.clone(),
            Sources::new(),
            status.clone(),
            lease,
        );
    }
    let job = submit_slow_and_wait_until_it_runs(&hub, status.as_ref()).await;
    victim.shutdown_background();

    let stop = start_dispatcher(env_queue, hub.blobs.clone(), Sources::new(), status, lease);
    let (state, result, error) = hub.wait(job.id).await;
    assert_eq!(state, JobState::Succeeded, "{error:?}");
    assert_eq!(
        result.unwrap()["attempt"],
        2,
        "the replacement ran the second delivery"
    );
    stop.cancel();
    hub.shutdown.cancel();
}

/// Stands in for a Kubernetes Job: runs the message through the handlers of "another process".
struct PodRunner {
    handlers: DispatchHandlers,
    runs: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl MessageRunner for PodRunner {
    async fn run(
        &self,
        message: &DispatchMessage,
        _item: &veil_domain::QueueItem,
        cancel: CancellationToken,
    ) -> Result<(), TaskError> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.handlers.run_here(message.clone(), 1, cancel).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_runner_tasks_run_elsewhere_and_their_results_are_picked_up() {
    let (env_queue, _env_db) = embedded().await;
    let status: Arc<dyn StatusChannel> = Arc::new(LocalStatusChannel::default());
    let queues =
        EnvironmentQueues::fixed(HashMap::from([("local".to_string(), env_queue.clone())]));
    let hub = start_hub(queues, status.clone()).await;
    let (_dir, sources) = clinic();
    let mut pod = DispatchHandlers::new(hub.blobs.clone(), sources);
    pod.register(Arc::new(SourceProfileTask));
    let runner = Arc::new(PodRunner {
        handlers: pod,
        runs: Default::default(),
    });
    let mut dispatcher = Dispatcher::new(
        env_queue,
        hub.blobs.clone(),
        Sources::new(),
        status,
        dispatcher_settings(Duration::from_secs(5)),
    );
    dispatcher.register(Arc::new(SourceProfileTask));
    let dispatcher = Arc::new(dispatcher.with_runner(runner.clone()));
    let stop = CancellationToken::new();
    tokio::spawn(dispatcher.run(stop.clone()));

    let params = json!({"environment": "local", "source": "clinic", "path": "people.csv"});
    let (state, result, error) = hub.run("source.profile", params).await;
    assert_eq!(state, JobState::Succeeded, "{error:?}");
    assert_eq!(result.unwrap()["rows"], 120);
    assert_eq!(runner.runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    stop.cancel();
    hub.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hub_worker_restarted_mid_task_finds_the_outcome_and_the_task_is_not_withdrawn() {
    let (env_queue, _env_db) = embedded().await;
    let status: Arc<dyn StatusChannel> = Arc::new(LocalStatusChannel::default());
    let queues =
        EnvironmentQueues::fixed(HashMap::from([("local".to_string(), env_queue.clone())]));
    let mut hub = start_hub(queues, status.clone()).await;
    let stop = start_dispatcher(
        env_queue,
        hub.blobs.clone(),
        Sources::new(),
        status.clone(),
        Duration::from_secs(5),
    );
    let job = submit_slow_and_wait_until_it_runs(&hub, status.as_ref()).await;
    hub.restart_workers().await;
    let (state, result, error) = hub.wait(job.id).await;
    assert_eq!(state, JobState::Succeeded, "{error:?}");
    assert_eq!(
        result.unwrap()["attempt"],
        1,
        "the first delivery finished; nothing was withdrawn"
    );
    stop.cancel();
    hub.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_rabbitmq_progress_and_results_cross_the_broker() {
    let Some(url) = amqp_url_from_env() else {
        return;
    };
    let environment = format!("test-{}", uuid::Uuid::new_v4().simple());
    let exchange = format!("veil.status.test.{}", uuid::Uuid::new_v4().simple());
    let hub_status: Arc<dyn StatusChannel> =
        Arc::new(RabbitStatusChannel::connect(&url, &exchange).await.unwrap());
    let hub = start_hub(
        EnvironmentQueues::broker(url.clone(), quick_retries()),
        hub_status,
    )
    .await;

    let settings = EnvironmentQueues::rabbit_settings(&url, quick_retries(), &environment);
    let env_queue = Arc::new(RabbitQueue::connect(settings).await.unwrap());
    let dispatcher_status: Arc<dyn StatusChannel> =
        Arc::new(RabbitStatusChannel::connect(&url, &exchange).await.unwrap());
    let (_dir, sources) = clinic();
    let stop = start_dispatcher(
        env_queue.clone(),
        hub.blobs.clone(),
        sources,
        dispatcher_status,
        Duration::from_secs(5),
    );
    let params = json!({"environment": environment, "source": "clinic", "path": "people.csv"});
    let (state, result, error) = hub.run("source.profile", params).await;
    assert_eq!(state, JobState::Succeeded, "{error:?}");
    assert_eq!(result.unwrap()["rows"], 120);
    stop.cancel();
    hub.shutdown.cancel();
    env_queue.delete_topology().await.unwrap();
}
