//! Keeps a delivery's lease alive while its task runs, persists progress, and notices when the task must
//! stop: the job was cancelled or the lease was lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use veil_domain::{Delivery, JobState, Progress};
use veil_queue::QueueError;

use crate::Platform;

/// Why the guard stopped the task early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The lease expired or the item was re-claimed: another worker owns the task now.
    LeaseLost,
    /// The task's job was cancelled.
    JobCancelled,
}

/// A running heartbeat loop for one delivery.
pub(crate) struct LeaseGuard {
    done: CancellationToken,
    handle: tokio::task::JoinHandle<Option<StopReason>>,
}

impl LeaseGuard {
    /// Starts heartbeating `delivery` every `heartbeat`, renewing it for `lease`. Fires `stop` when the
    /// task must end early.
    pub fn start(
        platform: Platform,
        delivery: Arc<Delivery>,
        lease: Duration,
        heartbeat: Duration,
        mut progress: watch::Receiver<Progress>,
        stop: CancellationToken,
    ) -> Self {
        let done = CancellationToken::new();
        let done_signal = done.clone();
        let handle = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = done_signal.cancelled() => return None,
                    _ = tokio::time::sleep(heartbeat) => {}
                }
                match platform.queue.heartbeat(&delivery, lease).await {
                    Err(QueueError::LeaseLost { .. }) => {
                        stop.cancel();
                        // Cancelling a job also withdraws its leased items; say which of the two happened.
                        let cancelled = matches!(
                            platform.store.get_job(delivery.item.job_id).await,
                            Ok(job) if job.state == JobState::Cancelled
                        );
                        return Some(if cancelled {
                            StopReason::JobCancelled
                        } else {
                            StopReason::LeaseLost
                        });
                    }
                    Err(err) => {
                        tracing::warn!(task = %delivery.item.task_id, error = %err, "heartbeat failed")
                    }
                    Ok(()) => {}
                }
                let is_task = delivery.item.kind != crate::FINALIZE_TASK_KIND;
                if is_task && progress.has_changed().unwrap_or(false) {
                    let latest = progress.borrow_and_update().clone();
                    if let Err(err) = platform
                        .store
                        .set_task_progress(delivery.item.task_id, &latest)
                        .await
                    {
                        tracing::warn!(task = %delivery.item.task_id, error = %err, "saving progress failed");
                    }
                }
                match platform.store.get_job(delivery.item.job_id).await {
                    Ok(job) if job.state == JobState::Cancelled => {
                        stop.cancel();
                        return Some(StopReason::JobCancelled);
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(job = %delivery.item.job_id, error = %err, "checking job state failed")
                    }
                }
            }
        });
        Self { done, handle }
    }

    /// Stops heartbeating and tells why the task was stopped early, if it was.
    pub async fn finish(self) -> Option<StopReason> {
        self.done.cancel();
        self.handle.await.unwrap_or(None)
    }
}
