//! [`Dispatcher`]: the secure environment's task loop. It claims task messages from the environment's
//! queue under a lease, runs each with the handler registered for its kind, commits the result to the
//! object store, acknowledges, and reports status and progress. A failure that another attempt could
//! fix goes back to the queue (retry with backoff, dead letter when the budget is spent); a permanent
//! one, or a spent budget, leaves an error document beside the result key so that the hub can tell.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use veil_blob::BlobStore;
use veil_domain::{Delivery, FailOutcome};
use veil_queue::TaskQueue;
use veil_service::TaskError;

use crate::{error_key, DispatchMessage, Sources, StatusChannel, StatusState, StatusUpdate};

/// What a dispatched task gets to do its work.
pub struct DispatchContext {
    /// The task message.
    pub message: DispatchMessage,
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// The private sources of this environment.
    pub sources: Arc<Sources>,
    /// The shared object store.
    pub blobs: Arc<dyn BlobStore>,
    /// Fires when the task must stop (lease lost, shutdown, job cancelled).
    pub cancel: CancellationToken,
    progress: watch::Sender<(u64, Option<u64>, Option<String>)>,
}

impl DispatchContext {
    /// Reports progress; the dispatcher sends the latest report with each heartbeat.
    pub fn report_progress(&self, current: u64, total: Option<u64>, description: Option<&str>) {
        self.progress
            .send_replace((current, total, description.map(str::to_string)));
    }
}

/// A kind of task a dispatcher runs.
#[async_trait]
pub trait DispatchTask: Send + Sync + 'static {
    /// The task kind it handles.
    fn kind(&self) -> &'static str;
    /// Runs one task; the bytes are committed as the task's result.
    async fn run(&self, ctx: &DispatchContext) -> Result<Bytes, TaskError>;
}

/// Runs a task message outside the dispatcher's process (as a Kubernetes Job), where the task's
/// handler runs ([`DispatchHandlers::run_here`]) and commits the result to the object store itself.
#[async_trait]
pub trait MessageRunner: Send + Sync + 'static {
    /// Runs `message` (carried by `item`) to the end, or until `cancel` fires.
    async fn run(
        &self,
        message: &DispatchMessage,
        item: &veil_domain::QueueItem,
        cancel: CancellationToken,
    ) -> Result<(), TaskError>;
}

/// The task kinds of a dispatcher, with what they may read and where results go.
pub struct DispatchHandlers {
    blobs: Arc<dyn BlobStore>,
    sources: Arc<Sources>,
    tasks: HashMap<&'static str, Arc<dyn DispatchTask>>,
}

impl DispatchHandlers {
    /// No task kinds yet.
    pub fn new(blobs: Arc<dyn BlobStore>, sources: Sources) -> Self {
        Self {
            blobs,
            sources: Arc::new(sources),
            tasks: HashMap::new(),
        }
    }

    /// Adds a task kind.
    pub fn register(&mut self, task: Arc<dyn DispatchTask>) {
        self.tasks.insert(task.kind(), task);
    }

    /// Runs `message` in this process and commits its result (what a task Job's pod does).
    pub async fn run_here(
        &self,
        message: DispatchMessage,
        attempt: u32,
        cancel: CancellationToken,
    ) -> Result<(), TaskError> {
        let task = self.task(&message.kind)?;
        let result_key = message.result_key.clone();
        let (progress, _) = watch::channel((0, None, None));
        let ctx = self.context(message, attempt, cancel, progress);
        let bytes = task.run(&ctx).await?;
        self.blobs
            .put(&result_key, bytes)
            .await
            .map_err(|err| TaskError::retryable(format!("store the result: {err}")))
    }

    fn task(&self, kind: &str) -> Result<Arc<dyn DispatchTask>, TaskError> {
        self.tasks.get(kind).cloned().ok_or_else(|| {
            TaskError::permanent(format!(
                "this dispatcher has no handler for task kind `{kind}`"
            ))
        })
    }

    fn context(
        &self,
        message: DispatchMessage,
        attempt: u32,
        cancel: CancellationToken,
        progress: watch::Sender<(u64, Option<u64>, Option<String>)>,
    ) -> DispatchContext {
        DispatchContext {
            message,
            attempt,
            sources: Arc::clone(&self.sources),
            blobs: Arc::clone(&self.blobs),
            cancel,
            progress,
        }
    }
}

/// How a dispatcher claims and runs tasks.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    /// The environment's name (for logs).
    pub environment: String,
    /// Tasks run at once.
    pub concurrency: u32,
    /// Lease of a claimed task.
    pub lease: Duration,
    /// How often a running task's lease is renewed and its progress reported.
    pub heartbeat: Duration,
    /// How long to wait when the queue is empty.
    pub poll_interval: Duration,
}

/// The secure environment's task loop.
pub struct Dispatcher {
    queue: Arc<dyn TaskQueue>,
    handlers: DispatchHandlers,
    status: Arc<dyn StatusChannel>,
    settings: DispatcherSettings,
    runner: Option<Arc<dyn MessageRunner>>,
}

/// How one delivery ended, for the queue.
enum Ending {
    Done,
    Retry(String),
    Permanent(String),
    Released,
}

impl Dispatcher {
    /// A dispatcher on `queue` with no task kinds yet.
    pub fn new(
        queue: Arc<dyn TaskQueue>,
        blobs: Arc<dyn BlobStore>,
        sources: Sources,
        status: Arc<dyn StatusChannel>,
        settings: DispatcherSettings,
    ) -> Self {
        Self {
            queue,
            handlers: DispatchHandlers::new(blobs, sources),
            status,
            settings,
            runner: None,
        }
    }

    /// Adds a task kind.
    pub fn register(&mut self, task: Arc<dyn DispatchTask>) {
        self.handlers.register(task);
    }

    /// Runs each task through `runner` (a Kubernetes Job per task) instead of in this process; the
    /// dispatcher keeps the lease, the retries and the status.
    pub fn with_runner(mut self, runner: Arc<dyn MessageRunner>) -> Self {
        self.runner = Some(runner);
        self
    }

    /// Claims and runs tasks until `shutdown` fires; then gives unfinished deliveries back.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1) as usize));
        let worker = format!(
            "dispatcher-{}-{}",
            self.settings.environment,
            std::process::id()
        );
        tracing::info!(environment = %self.settings.environment, kinds = ?self.handlers.tasks.keys().collect::<Vec<_>>(), "dispatcher started");
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            match self.queue.claim(&worker, self.settings.lease).await {
                Ok(Some(delivery)) => {
                    let this = Arc::clone(&self);
                    let stop = shutdown.clone();
                    tokio::spawn(async move {
                        this.handle(delivery, stop).await;
                        drop(permit);
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    }
                }
                Err(err) => {
                    drop(permit);
                    tracing::warn!(error = %err, "cannot claim from the environment's queue; retrying");
                    tokio::time::sleep(self.settings.poll_interval.max(Duration::from_secs(1)))
                        .await;
                }
            }
        }
        let all = self.settings.concurrency.max(1);
        let _ = slots.acquire_many(all).await;
        tracing::info!(environment = %self.settings.environment, "dispatcher stopped");
    }

    async fn handle(&self, delivery: Delivery, shutdown: CancellationToken) {
        let task_id = delivery.item.task_id;
        let ending = self.execute(&delivery, &shutdown).await;
        let outcome = match ending {
            Ending::Done => self.queue.complete(&delivery).await.map(|_| ()),
            Ending::Released => self.queue.release(&delivery).await,
            Ending::Permanent(message) => {
                self.settle_failure(&delivery, &message).await;
                self.queue.complete(&delivery).await
            }
            Ending::Retry(message) => match self.queue.fail(&delivery, &message).await {
                Ok(FailOutcome::DeadLettered) => {
                    let spent = format!("{message} (no attempts left)");
                    self.settle_failure(&delivery, &spent).await;
                    Ok(())
                }
                Ok(FailOutcome::Retry { .. }) => {
                    let mut update = StatusUpdate::new(task_id, StatusState::Failed);
                    update.message = Some(message);
                    let _ = self.status.publish(&update).await;
                    Ok(())
                }
                Err(err) => Err(err),
            },
        };
        if let Err(err) = outcome {
            tracing::warn!(task = %task_id, error = %err, "cannot settle a dispatched task with the queue");
        }
    }

    /// Leaves the error document for the hub and reports the failure.
    async fn settle_failure(&self, delivery: &Delivery, message: &str) {
        let task_id = delivery.item.task_id;
        if let Ok(dispatched) = DispatchMessage::from_item(&delivery.item) {
            let document = serde_json::json!({"task_id": task_id, "error": message});
            let key = error_key(&dispatched.result_key);
            if let Err(err) = self
                .handlers
                .blobs
                .put(&key, Bytes::from(document.to_string()))
                .await
            {
                tracing::warn!(task = %task_id, error = %err, "cannot store a dispatched task's error");
            }
        }
        let mut update = StatusUpdate::new(task_id, StatusState::Failed);
        update.message = Some(message.to_string());
        update.permanent = true;
        let _ = self.status.publish(&update).await;
        tracing::warn!(task = %task_id, error = %message, "dispatched task failed");
    }

    async fn execute(&self, delivery: &Delivery, shutdown: &CancellationToken) -> Ending {
        let message = match DispatchMessage::from_item(&delivery.item) {
            Ok(message) => message,
            Err(err) => return Ending::Permanent(err.to_string()),
        };
        let task = match self.handlers.task(&message.kind) {
            Ok(task) => task,
            Err(err) => return Ending::Permanent(err.message),
        };
        let cancel = shutdown.child_token();
        let (progress, mut reports) = watch::channel((0, None, None));
        let result_key = message.result_key.clone();
        let task_id = message.task_id;
        let ctx = self
            .handlers
            .context(message, delivery.attempt, cancel.clone(), progress);
        let _ = self
            .status
            .publish(&StatusUpdate::new(task_id, StatusState::Running))
            .await;
        let running: std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Option<Bytes>, TaskError>> + Send + '_>,
        > = match &self.runner {
            Some(runner) => Box::pin(async {
                runner
                    .run(&ctx.message, &delivery.item, cancel.clone())
                    .await
                    .map(|()| None)
            }),
            None => Box::pin(async { task.run(&ctx).await.map(Some) }),
        };
        tokio::pin!(running);
        let mut beat = tokio::time::interval(self.settings.heartbeat);
        beat.tick().await;
        let result = loop {
            tokio::select! {
                result = &mut running => break result,
                _ = beat.tick() => {
                    if let Err(err) = self.queue.heartbeat(delivery, self.settings.lease).await {
                        tracing::warn!(task = %task_id, error = %err, "lease lost; stopping the task");
                        cancel.cancel();
                    }
                    if reports.has_changed().unwrap_or(false) {
                        let (current, total, description) = reports.borrow_and_update().clone();
                        let mut update = StatusUpdate::new(task_id, StatusState::Progress);
                        update.current = current;
                        update.total = total;
                        update.message = description;
                        let _ = self.status.publish(&update).await;
                    }
                }
            }
        };
        // A task that finished despite the shutdown keeps its result; one that was stopped goes back.
        if shutdown.is_cancelled() && result.is_err() {
            return Ending::Released;
        }
        let stored = match result {
            Ok(Some(bytes)) => Ok(self.handlers.blobs.put(&result_key, bytes).await),
            Ok(None) => Ok(self.handlers.blobs.head(&result_key).await.map(|_| ())),
            Err(err) => Err(err),
        };
        match stored {
            Ok(written) => match written {
                Ok(()) => {
                    let _ = self
                        .status
                        .publish(&StatusUpdate::new(task_id, StatusState::Succeeded))
                        .await;
                    Ending::Done
                }
                Err(err) => Ending::Retry(format!("store the result: {err}")),
            },
            Err(err) if err.permanent => Ending::Permanent(err.message),
            Err(err) => Ending::Retry(err.message),
        }
    }
}
