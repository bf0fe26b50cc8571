//! Where a task's handler runs. By default the [`TaskRunner`](crate::TaskRunner) calls
//! [`JobKind::run_task`] in its own process; a [`TaskExecutor`] runs it elsewhere (a Kubernetes Job per
//! task) while the runner keeps the lease, the task's state and the retries. [`run_task_standalone`] is
//! the other end: it runs one stored task's handler in the current process and commits the result, for
//! `veil task run --task-id ID`.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use veil_domain::{Progress, QueueItem, TaskId, TaskState};

use crate::registry::{JobKind, TaskContext, TaskError};
use crate::{task_result_key, Platform};

/// Runs a task's handler somewhere other than the worker's own process.
#[async_trait]
pub trait TaskExecutor: Send + Sync + 'static {
    /// Runs the task `item`, whose handler is `kind`, until it finishes or `ctx.cancel` fires.
    /// `Ok(Some(bytes))`: the runner commits the bytes as the task's result. `Ok(None)`: the result is
    /// already committed under [`task_result_key`] (the executor's process wrote it).
    async fn execute(
        &self,
        kind: Arc<dyn JobKind>,
        ctx: &TaskContext,
        item: &QueueItem,
    ) -> Result<Option<Bytes>, TaskError>;
}

/// Runs the handler of stored task `task_id` here and commits its result under [`task_result_key`];
/// returns the key. The task's state, lease and retries stay with the worker that delegated the task.
/// A task that already succeeded is not run again.
pub async fn run_task_standalone(
    platform: &Platform,
    task_id: TaskId,
    cancel: CancellationToken,
) -> Result<String, TaskError> {
    let store_error = |action: &str, err: &dyn std::fmt::Display| {
        TaskError::retryable(format!("{action}: {err}"))
    };
    let task = platform
        .store
        .get_task(task_id)
        .await
        .map_err(|err| store_error("read the task", &err))?;
    let job = platform
        .store
        .get_job(task.job_id)
        .await
        .map_err(|err| store_error("read the task's job", &err))?;
    let key = task_result_key(job.id, task.index);
    if task.state == TaskState::Succeeded {
        return Ok(key);
    }
    if job.state.is_terminal() {
        return Err(TaskError::permanent(format!(
            "job {} is already {}",
            job.id, job.state
        )));
    }
    let Some(kind) = platform.registry.get(&job.kind).cloned() else {
        return Err(TaskError::permanent(format!(
            "no handler for job kind `{}` in this process",
            job.kind
        )));
    };
    let (progress, _) = watch::channel(Progress::default());
    let ctx = TaskContext {
        job,
        index: task.index,
        kind: task.kind,
        params: task.params,
        attempt: task.attempts.max(1),
        blobs: platform.blobs.clone(),
        cancel,
        progress,
    };
    let bytes = kind.run_task(&ctx).await?;
    platform
        .blobs
        .put(&key, bytes)
        .await
        .map_err(|err| store_error("commit the task's result", &err))?;
    Ok(key)
}
