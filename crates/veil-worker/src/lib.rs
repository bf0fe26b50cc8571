//! Veil's worker pool.
//!
//! A [`WorkerPool`] claims deliveries from the task queue and runs each with the service layer's
//! [`TaskRunner`], at most `concurrency` at a time. On shutdown it stops claiming at once, lets in-flight
//! tasks finish for a grace period, then tells the rest to stop; those are released back to the queue
//! unfinished, so another worker picks them up without spending an attempt.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use veil_service::{RunOutcome, TaskRunner};

/// How a pool claims and runs tasks.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Name of this worker in leases and logs (unique per process).
    pub name: String,
    /// Tasks run at once.
    pub concurrency: u32,
    /// Wait between polls when the queue is empty.
    pub poll_interval: Duration,
    /// How long in-flight tasks may keep running after shutdown is requested.
    pub shutdown_grace: Duration,
}

impl WorkerSettings {
    /// Settings with a generated, unique worker name.
    pub fn new(concurrency: u32, poll_interval: Duration) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "veil".to_string());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        Self {
            name: format!("{host}-{}-{}", std::process::id(), &suffix[..8]),
            concurrency: concurrency.max(1),
            poll_interval,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A pool of worker slots in this process.
pub struct WorkerPool {
    runner: TaskRunner,
    settings: WorkerSettings,
}

impl WorkerPool {
    /// A pool that runs deliveries with `runner`.
    pub fn new(runner: TaskRunner, settings: WorkerSettings) -> Self {
        Self { runner, settings }
    }

    /// Claims and runs tasks until `shutdown` fires, then drains as described in the crate docs.
    pub async fn run(self, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency as usize));
        let abort = CancellationToken::new();
        let mut running = JoinSet::new();
        let queue = self.runner.platform().queue.clone();
        tracing::info!(worker = %self.settings.name, concurrency = self.settings.concurrency, "worker started");
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            while running.try_join_next().is_some() {}
            let claimed = queue.claim(&self.settings.name, self.runner.lease()).await;
            let delivery = match claimed {
                Ok(Some(delivery)) => delivery,
                Ok(None) => {
                    drop(permit);
                    self.idle(&shutdown).await;
                    continue;
                }
                Err(err) => {
                    drop(permit);
                    tracing::warn!(error = %err, "claiming a task failed; retrying");
                    self.idle(&shutdown).await;
                    continue;
                }
            };
            let runner = self.runner.clone();
            let abort = abort.clone();
            running.spawn(async move {
                let task = delivery.item.task_id;
                let index = delivery.item.index;
                match runner.run(delivery, abort).await {
                    Ok(outcome) => log_outcome(task, index, outcome),
                    Err(err) => tracing::error!(%task, index, error = %err, "running task failed; its lease will expire and it will be retried"),
                }
                drop(permit);
            });
        }
        self.drain(running, abort).await;
        tracing::info!(worker = %self.settings.name, "worker stopped");
    }

    async fn idle(&self, shutdown: &CancellationToken) {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(self.settings.poll_interval) => {}
        }
    }

    async fn drain(&self, mut running: JoinSet<()>, abort: CancellationToken) {
        if running.is_empty() {
            return;
        }
        tracing::info!(in_flight = running.len(), grace = ?self.settings.shutdown_grace, "waiting for in-flight tasks");
        let finished = tokio::time::timeout(self.settings.shutdown_grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                in_flight = running.len(),
                "grace period over; releasing unfinished tasks"
            );
            abort.cancel();
            while running.join_next().await.is_some() {}
        }
    }
}

fn log_outcome(task: veil_domain::TaskId, index: u32, outcome: RunOutcome) {
    match outcome {
        RunOutcome::Failed => tracing::warn!(%task, index, ?outcome, "task finished"),
        _ => tracing::debug!(%task, index, ?outcome, "task finished"),
    }
}
