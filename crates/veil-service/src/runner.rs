//! Runs one delivered task end to end: state changes, lease upkeep, committing the result under its
//! deterministic key, retries and dead letters, and the fan-in that queues and runs a job's final step.
//!
//! Order of commits, chosen so that a crash at any point is repaired by redelivery: the result blob is
//! written first (atomically, at a deterministic key), then the task row is marked succeeded, then the
//! queue item is acknowledged. A redelivered task whose row already says succeeded is acknowledged
//! without running again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use veil_domain::{
    now, Delivery, FailOutcome, Job, JobState, Progress, QueueItem, TaskId, TaskState, TaskUpdate,
};
use veil_queue::QueueError;

use crate::executor::TaskExecutor;
use crate::lease::{LeaseGuard, StopReason};
use crate::registry::{JobKind, TaskContext, TaskError, FINALIZE_TASK_KIND};
use crate::{job_result_key, task_result_key, Platform, Result};

/// How a delivery ended, as seen by the worker that ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The task (or final step) succeeded and its result is committed.
    Succeeded,
    /// The attempt failed; the queue will deliver the task again later.
    Retrying,
    /// The task failed for good, and with it the job.
    Failed,
    /// Nothing to do: the job is finished, cancelled or gone, or the task already succeeded.
    Skipped,
    /// The worker is shutting down and gave the task back unfinished.
    Released,
    /// The lease was lost while running; another worker owns the task now.
    LeaseLost,
}

/// Runs deliveries; shared by every worker slot of a process.
#[derive(Clone)]
pub struct TaskRunner {
    platform: Platform,
    lease: Duration,
    heartbeat: Duration,
    executor: Option<Arc<dyn TaskExecutor>>,
}

/// What a handler invocation ended with, before the queue is told.
enum Execution<T> {
    Finished(std::result::Result<T, TaskError>),
    Stopped(StopReason),
    Aborted,
}

impl TaskRunner {
    /// A runner that holds leases for `lease` and renews them every `heartbeat`.
    pub fn new(platform: Platform, lease: Duration, heartbeat: Duration) -> Self {
        Self {
            platform,
            lease,
            heartbeat,
            executor: None,
        }
    }

    /// Runs tasks (not final steps) through `executor` instead of in this process.
    pub fn with_executor(mut self, executor: Arc<dyn TaskExecutor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// The backends this runner works on.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The lease period claims should ask for.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Runs one delivery. `abort` fires when the process can wait no longer (shutdown grace expired):
    /// the task is then released back to the queue unfinished.
    pub async fn run(&self, delivery: Delivery, abort: CancellationToken) -> Result<RunOutcome> {
        let item = delivery.item.clone();
        let job = match self.platform.store.get_job(item.job_id).await {
            Ok(job) => job,
            Err(veil_metadata::MetadataError::NotFound { .. }) => {
                return self.skip(&delivery).await
            }
            Err(err) => return Err(err.into()),
        };
        if job.state.is_terminal() {
            return self.skip(&delivery).await;
        }
        let Some(kind) = self.platform.registry.get(&job.kind).cloned() else {
            let message = format!("no handler for job kind `{}` in this process", job.kind);
            return self.fail_for_good(&job, &delivery, &message).await;
        };
        if item.kind == FINALIZE_TASK_KIND {
            return self.run_final_step(job, kind, delivery, abort).await;
        }

        let task = self.platform.store.get_task(item.task_id).await?;
        if task.state == TaskState::Succeeded {
            self.acknowledge(&delivery).await;
            self.fan_in(&job).await?;
            return Ok(RunOutcome::Skipped);
        }
        if task.state.is_terminal() {
            return self.skip(&delivery).await;
        }
        if let Some(previous) = &delivery.previous_error {
            metrics::counter!("veil_task_retries_total", "kind" => item.kind.clone()).increment(1);
            let message = format!(
                "task {} retried after {previous} (attempt {})",
                item.index, delivery.attempt
            );
            self.event(&job, &message).await?;
        }
        let mut start =
            TaskUpdate::new(&[TaskState::Queued, TaskState::Running], TaskState::Running);
        start.attempts = Some(delivery.attempt);
        start.started_at = Some(now());
        if !self
            .platform
            .store
            .update_task(item.task_id, &start)
            .await?
        {
            return self.skip(&delivery).await;
        }
        if self
            .platform
            .store
            .transition_job(
                job.id,
                &[JobState::Pending, JobState::Queued],
                JobState::Running,
                now(),
                None,
            )
            .await?
        {
            self.event(&job, "started").await?;
        }

        let started = Instant::now();
        let delivery = Arc::new(delivery);
        let executor = self.executor.clone();
        let delegated = item.clone();
        let execution = self.execute(&job, &delivery, abort, |ctx| async move {
            let result = match executor {
                Some(executor) => executor.execute(kind, &ctx, &delegated).await,
                None => kind.run_task(&ctx).await.map(Some),
            };
            (ctx, result)
        });
        let outcome = match execution.await {
            Execution::Finished(Ok(output)) => {
                let key = task_result_key(job.id, item.index);
                if let Some(bytes) = output {
                    self.platform.blobs.put(&key, bytes).await?;
                }
                let mut done = TaskUpdate::new(
                    &[TaskState::Running, TaskState::Queued],
                    TaskState::Succeeded,
                );
                done.finished_at = Some(now());
                done.result_key = Some(key);
                let committed = self.platform.store.update_task(item.task_id, &done).await?;
                self.acknowledge(&delivery).await;
                if committed {
                    self.fan_in(&job).await?;
                }
                RunOutcome::Succeeded
            }
            Execution::Finished(Err(error)) => self.attempt_failed(&job, &delivery, &error).await?,
            Execution::Stopped(StopReason::LeaseLost) => RunOutcome::LeaseLost,
            Execution::Stopped(StopReason::JobCancelled) => self.skip(&delivery).await?,
            Execution::Aborted => self.release(&job, &delivery).await?,
        };
        record_task_metrics(&item.kind, outcome, started.elapsed());
        Ok(outcome)
    }

    /// Runs `body` with a task context while the lease guard keeps the delivery alive.
    async fn execute<F, Fut, T>(
        &self,
        job: &Job,
        delivery: &Arc<Delivery>,
        abort: CancellationToken,
        body: F,
    ) -> Execution<T>
    where
        F: FnOnce(TaskContext) -> Fut,
        Fut: std::future::Future<Output = (TaskContext, std::result::Result<T, TaskError>)>,
    {
        let stop = CancellationToken::new();
        let (progress_tx, progress_rx) = watch::channel(Progress::default());
        let ctx = TaskContext {
            job: job.clone(),
            index: delivery.item.index,
            kind: delivery.item.kind.clone(),
            params: delivery.item.params.clone(),
            attempt: delivery.attempt,
            blobs: self.platform.blobs.clone(),
            cancel: stop.clone(),
            progress: progress_tx,
        };
        let guard = LeaseGuard::start(
            self.platform.clone(),
            delivery.clone(),
            self.lease,
            self.heartbeat,
            progress_rx.clone(),
            stop.clone(),
        );
        let abort_forwarder = {
            let (abort, stop) = (abort.clone(), stop.clone());
            tokio::spawn(async move {
                abort.cancelled().await;
                stop.cancel();
            })
        };
        let (_ctx, result) = body(ctx).await;
        abort_forwarder.abort();
        let stopped = guard.finish().await;
        if let Some(reason) = stopped {
            return Execution::Stopped(reason);
        }
        if abort.is_cancelled() && result.is_err() {
            return Execution::Aborted;
        }
        if delivery.item.kind != FINALIZE_TASK_KIND {
            let latest = progress_rx.borrow().clone();
            if let Err(err) = self
                .platform
                .store
                .set_task_progress(delivery.item.task_id, &latest)
                .await
            {
                tracing::warn!(task = %delivery.item.task_id, error = %err, "saving final progress failed");
            }
        }
        Execution::Finished(result)
    }

    async fn run_final_step(
        &self,
        job: Job,
        kind: Arc<dyn JobKind>,
        delivery: Delivery,
        abort: CancellationToken,
    ) -> Result<RunOutcome> {
        let tasks = self.platform.store.list_tasks(job.id).await?;
        let result_keys: Vec<String> = tasks
            .iter()
            .filter_map(|task| task.result_key.clone())
            .collect();
        if result_keys.len() != tasks.len() {
            let message = format!(
                "final step found {} of {} task results",
                result_keys.len(),
                tasks.len()
            );
            return self.fail_for_good(&job, &delivery, &message).await;
        }
        let message = match delivery.attempt {
            1 => format!(
                "all {} tasks succeeded; running the final step",
                job.task_count
            ),
            n => format!(
                "all {} tasks succeeded; running the final step (attempt {n})",
                job.task_count
            ),
        };
        self.event(&job, &message).await?;
        let started = Instant::now();
        let delivery = Arc::new(delivery);
        let keys = result_keys.clone();
        let execution = self.execute(&job, &delivery, abort, |ctx| async move {
            let result = kind
                .finalize(&ctx, &keys)
                .await
                .map(|output| output.unwrap_or_default());
            (ctx, result)
        });
        let outcome = match execution.await {
            Execution::Finished(Ok(bytes)) => {
                if !bytes.is_empty() {
                    self.platform
                        .blobs
                        .put(&job_result_key(job.id), bytes)
                        .await?;
                }
                let active = [JobState::Queued, JobState::Running];
                if self
                    .platform
                    .store
                    .transition_job(job.id, &active, JobState::Succeeded, now(), None)
                    .await?
                {
                    let took = job
                        .started_at
                        .map(|at| (now() - at).num_milliseconds() as f64 / 1000.0);
                    let took = took
                        .map(|secs| format!(" in {secs:.1}s"))
                        .unwrap_or_default();
                    self.event(
                        &job,
                        &format!(
                            "succeeded{took}: all {} tasks and the final step done",
                            job.task_count
                        ),
                    )
                    .await?;
                }
                self.acknowledge(&delivery).await;
                RunOutcome::Succeeded
            }
            Execution::Finished(Err(error)) => self.attempt_failed(&job, &delivery, &error).await?,
            Execution::Stopped(StopReason::LeaseLost) => RunOutcome::LeaseLost,
            Execution::Stopped(StopReason::JobCancelled) => self.skip(&delivery).await?,
            Execution::Aborted => {
                self.release_delivery(&delivery).await;
                RunOutcome::Released
            }
        };
        record_task_metrics(FINALIZE_TASK_KIND, outcome, started.elapsed());
        Ok(outcome)
    }

    /// Queues the job's final step once every task has succeeded. Idempotent: the final step has a
    /// deterministic task id, so tasks finishing at the same moment queue it once.
    async fn fan_in(&self, job: &Job) -> Result<()> {
        let counts = self.platform.store.count_tasks(job.id).await?;
        if counts.succeeded < job.task_count {
            return Ok(());
        }
        let item = QueueItem {
            task_id: TaskId::for_job(job.id, u32::MAX),
            job_id: job.id,
            index: job.task_count,
            kind: FINALIZE_TASK_KIND.to_string(),
            params: serde_json::Value::Null,
            max_attempts: self.platform.max_attempts,
        };
        self.platform.queue.enqueue(&[item]).await?;
        Ok(())
    }

    async fn attempt_failed(
        &self,
        job: &Job,
        delivery: &Delivery,
        error: &TaskError,
    ) -> Result<RunOutcome> {
        let index = delivery.item.index;
        if error.permanent {
            let message = format!("task {index} failed: {}", error.message);
            return self.fail_for_good(job, delivery, &message).await;
        }
        match self.platform.queue.fail(delivery, &error.message).await {
            Ok(FailOutcome::Retry { not_before }) => {
                let mut update = TaskUpdate::new(&[TaskState::Running], TaskState::Queued);
                update.error = Some(error.message.clone());
                self.update_task_if_regular(delivery, &update).await?;
                let wait = (not_before - now()).num_milliseconds().max(0) as f64 / 1000.0;
                let message = format!(
                    "task {index} failed on attempt {}: {}; retrying in {wait:.1}s",
                    delivery.attempt, error.message
                );
                self.event(job, &message).await?;
                Ok(RunOutcome::Retrying)
            }
            Ok(FailOutcome::DeadLettered) => {
                let message = format!(
                    "task {index} failed after {} attempts: {}",
                    delivery.attempt, error.message
                );
                self.fail_job(job, delivery, &message).await?;
                Ok(RunOutcome::Failed)
            }
            Err(QueueError::LeaseLost { .. }) => Ok(RunOutcome::LeaseLost),
            Err(err) => Err(err.into()),
        }
    }

    /// Fails the task and its job at once, without retrying.
    async fn fail_for_good(
        &self,
        job: &Job,
        delivery: &Delivery,
        message: &str,
    ) -> Result<RunOutcome> {
        self.acknowledge(delivery).await;
        self.fail_job(job, delivery, message).await?;
        Ok(RunOutcome::Failed)
    }

    async fn fail_job(&self, job: &Job, delivery: &Delivery, message: &str) -> Result<()> {
        let at = now();
        let mut update =
            TaskUpdate::new(&[TaskState::Queued, TaskState::Running], TaskState::Failed);
        update.error = Some(message.to_string());
        update.finished_at = Some(at);
        self.update_task_if_regular(delivery, &update).await?;
        let active = [JobState::Pending, JobState::Queued, JobState::Running];
        if self
            .platform
            .store
            .transition_job(job.id, &active, JobState::Failed, at, Some(message))
            .await?
        {
            self.event(job, &format!("failed: {message}")).await?;
            self.platform.queue.cancel_job(job.id).await?;
            self.platform.store.cancel_tasks(job.id, at).await?;
        }
        Ok(())
    }

    async fn release(&self, job: &Job, delivery: &Delivery) -> Result<RunOutcome> {
        self.release_delivery(delivery).await;
        let update = TaskUpdate::new(&[TaskState::Running], TaskState::Queued);
        self.update_task_if_regular(delivery, &update).await?;
        self.event(
            job,
            &format!(
                "task {} released unfinished by a worker shutting down",
                delivery.item.index
            ),
        )
        .await?;
        Ok(RunOutcome::Released)
    }

    async fn release_delivery(&self, delivery: &Delivery) {
        if let Err(err) = self.platform.queue.release(delivery).await {
            tracing::warn!(task = %delivery.item.task_id, error = %err, "releasing task failed; its lease will expire");
        }
    }

    async fn update_task_if_regular(&self, delivery: &Delivery, update: &TaskUpdate) -> Result<()> {
        if delivery.item.kind != FINALIZE_TASK_KIND {
            self.platform
                .store
                .update_task(delivery.item.task_id, update)
                .await?;
        }
        Ok(())
    }

    async fn skip(&self, delivery: &Delivery) -> Result<RunOutcome> {
        self.acknowledge(delivery).await;
        Ok(RunOutcome::Skipped)
    }

    /// Acknowledges a delivery. A lost lease is harmless here: whoever holds the item now will find the
    /// work already committed.
    async fn acknowledge(&self, delivery: &Delivery) {
        match self.platform.queue.complete(delivery).await {
            Ok(()) => {}
            Err(QueueError::LeaseLost { .. }) => {
                tracing::info!(task = %delivery.item.task_id, "lease lost before acknowledgement; result already committed")
            }
            Err(err) => {
                tracing::warn!(task = %delivery.item.task_id, error = %err, "acknowledging task failed")
            }
        }
    }

    async fn event(&self, job: &Job, message: &str) -> Result<()> {
        self.platform
            .store
            .append_event(job.id, now(), message)
            .await?;
        Ok(())
    }
}

fn record_task_metrics(kind: &str, outcome: RunOutcome, took: Duration) {
    let outcome = format!("{outcome:?}").to_lowercase();
    metrics::counter!("veil_tasks_total", "kind" => kind.to_string(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("veil_task_duration_seconds", "kind" => kind.to_string())
        .record(took.as_secs_f64());
}
