//! [`DispatchExecutor`]: the hub's side. A task whose parameters name an `environment` is sent to that
//! environment's queue and awaited; any other task runs as it would without dispatching.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Mutex;
use veil_blob::{BlobError, BlobStore};
use veil_domain::{JobState, QueueItem};
use veil_metadata::MetadataStore;
use veil_queue::{QueueSettings, RabbitQueue, RabbitSettings, TaskQueue};
use veil_service::{task_result_key, JobKind, TaskContext, TaskError, TaskExecutor};

use crate::{
    error_key, DispatchError, DispatchMessage, StatusChannel, StatusState, MESSAGE_VERSION,
};

/// How often the object store is checked for an outcome whose status message was missed.
const OUTCOME_POLL: Duration = Duration::from_secs(1);

/// The queue of each secure environment: fixed ones (embedded mode) and, with a broker, one
/// `RabbitQueue` per environment under the prefix `veil.env.<name>`, opened on first use.
pub struct EnvironmentQueues {
    fixed: HashMap<String, Arc<dyn TaskQueue>>,
    broker: Option<(String, QueueSettings)>,
    opened: Mutex<HashMap<String, Arc<dyn TaskQueue>>>,
}

impl EnvironmentQueues {
    /// Only the given environments, each on its own queue.
    pub fn fixed(queues: HashMap<String, Arc<dyn TaskQueue>>) -> Self {
        Self {
            fixed: queues,
            broker: None,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// Every environment on the broker at `url`.
    pub fn broker(url: impl Into<String>, settings: QueueSettings) -> Self {
        Self {
            fixed: HashMap::new(),
            broker: Some((url.into(), settings)),
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The broker settings of environment `name`'s queue: the hub and the environment's dispatcher
    /// must open it with the same ones (the queues' declarations must agree).
    pub fn rabbit_settings(url: &str, queue: QueueSettings, name: &str) -> RabbitSettings {
        let mut settings = RabbitSettings::new(url);
        settings.queue = queue;
        settings.prefix = format!("veil.env.{name}");
        settings
    }

    /// The queue of environment `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<dyn TaskQueue>, DispatchError> {
        if let Some(queue) = self.fixed.get(name) {
            return Ok(Arc::clone(queue));
        }
        let Some((url, settings)) = &self.broker else {
            let known: Vec<&String> = self.fixed.keys().collect();
            return Err(DispatchError::Message(if known.is_empty() {
                format!(
                    "no secure environment named {name:?} is reachable from this process: set \
                     queue.url (the broker that environment's dispatcher uses)"
                )
            } else {
                format!(
                    "no secure environment named {name:?}: without a broker (queue.url) only {known:?} exist"
                )
            }));
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(DispatchError::Message(format!(
                "environment names are letters, digits, `-` and `_`, not {name:?}"
            )));
        }
        let mut opened = self.opened.lock().await;
        if let Some(queue) = opened.get(name) {
            return Ok(Arc::clone(queue));
        }
        let rabbit = Self::rabbit_settings(url, *settings, name);
        let queue: Arc<dyn TaskQueue> = Arc::new(RabbitQueue::connect(rabbit).await?);
        opened.insert(name.to_string(), Arc::clone(&queue));
        Ok(queue)
    }
}

/// Sends environment tasks to their dispatcher; runs the others through `inner` or in process.
pub struct DispatchExecutor {
    queues: Arc<EnvironmentQueues>,
    status: Arc<dyn StatusChannel>,
    blobs: Arc<dyn BlobStore>,
    store: Arc<dyn MetadataStore>,
    inner: Option<Arc<dyn TaskExecutor>>,
    max_attempts: u32,
}

impl DispatchExecutor {
    /// An executor forwarding to `queues`, listening on `status`, reading outcomes from `blobs` and
    /// job states from `store`; dispatched tasks get `max_attempts` deliveries in their environment.
    pub fn new(
        queues: Arc<EnvironmentQueues>,
        status: Arc<dyn StatusChannel>,
        blobs: Arc<dyn BlobStore>,
        store: Arc<dyn MetadataStore>,
        inner: Option<Arc<dyn TaskExecutor>>,
        max_attempts: u32,
    ) -> Self {
        Self {
            queues,
            status,
            blobs,
            store,
            inner,
            max_attempts,
        }
    }

    /// The outcome already in the object store, if any.
    async fn outcome(&self, result_key: &str) -> Option<Result<Option<Bytes>, TaskError>> {
        match self.blobs.head(result_key).await {
            Ok(_) => return Some(Ok(None)),
            Err(BlobError::NotFound { .. }) => {}
            Err(err) => return Some(Err(TaskError::retryable(err.to_string()))),
        }
        match self.blobs.get(&error_key(result_key)).await {
            Ok(bytes) => {
                let document: serde_json::Value =
                    serde_json::from_slice(&bytes).unwrap_or_default();
                let error = document["error"]
                    .as_str()
                    .unwrap_or("the dispatcher failed");
                Some(Err(TaskError::permanent(format!(
                    "in the secure environment: {error}"
                ))))
            }
            Err(BlobError::NotFound { .. }) => None,
            Err(err) => Some(Err(TaskError::retryable(err.to_string()))),
        }
    }
}

fn dispatch_error(err: DispatchError) -> TaskError {
    match err {
        DispatchError::Message(message) => TaskError::permanent(message),
        other => TaskError::retryable(other.to_string()),
    }
}

#[async_trait]
impl TaskExecutor for DispatchExecutor {
    async fn execute(
        &self,
        kind: Arc<dyn JobKind>,
        ctx: &TaskContext,
        item: &QueueItem,
    ) -> Result<Option<Bytes>, TaskError> {
        let Some(environment) = item.params.get("environment").and_then(|v| v.as_str()) else {
            return match &self.inner {
                Some(inner) => inner.execute(kind, ctx, item).await,
                None => kind.run_task(ctx).await.map(Some),
            };
        };
        let result_key = task_result_key(ctx.job.id, ctx.index);
        if let Some(outcome) = self.outcome(&result_key).await {
            return outcome;
        }
        let queue = self.queues.get(environment).await.map_err(dispatch_error)?;
        let mut updates = match self.status.subscribe(item.task_id).await {
            Ok(updates) => Some(updates),
            Err(err) => {
                tracing::warn!(error = %err, "no status channel; following the outcome in the object store only");
                None
            }
        };
        let message = DispatchMessage {
            version: MESSAGE_VERSION,
            task_id: item.task_id,
            job_id: item.job_id,
            index: item.index,
            kind: item.kind.clone(),
            params: item.params.clone(),
            result_key: result_key.clone(),
        };
        queue
            .enqueue(&[message.to_item(self.max_attempts)])
            .await
            .map_err(|err| {
                TaskError::retryable(format!("send the task to {environment}: {err}"))
            })?;
        ctx.report_progress(
            0,
            None,
            Some(&format!("sent to secure environment {environment}")),
        );
        loop {
            let update = async {
                match updates.as_mut() {
                    Some(updates) => updates.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ctx.cancel.cancelled() => {
                    // Only a cancelled job withdraws the task. A hub worker that stops (shutdown, lost
                    // lease) leaves it running: its replacement re-enqueues (ignored, the id is known)
                    // and finds the outcome.
                    let cancelled = matches!(
                        self.store.get_job(item.job_id).await,
                        Ok(job) if job.state == JobState::Cancelled
                    );
                    if cancelled {
                        let _ = queue.cancel_job(item.job_id).await;
                    }
                    return Err(TaskError::retryable("stopped before the secure environment finished"));
                }
                update = update => match update {
                    Some(update) => match update.state {
                        StatusState::Running | StatusState::Progress => ctx.report_progress(
                            update.current,
                            update.total,
                            update.message.as_deref().or(Some(environment)),
                        ),
                        StatusState::Failed if !update.permanent => ctx.report_progress(
                            0,
                            None,
                            Some(&format!("retrying in {environment}: {}", update.message.unwrap_or_default())),
                        ),
                        StatusState::Succeeded | StatusState::Failed => {
                            if let Some(outcome) = self.outcome(&result_key).await {
                                return outcome;
                            }
                            if update.state == StatusState::Failed {
                                // Failed for good without an error document (it could not be written,
                                // or the message was unreadable there): the status is all there is.
                                return Err(TaskError::permanent(format!(
                                    "in the secure environment: {}",
                                    update.message.unwrap_or_else(|| "the task failed".into())
                                )));
                            }
                        }
                    },
                    None => updates = None,
                },
                _ = tokio::time::sleep(OUTCOME_POLL) => {
                    if let Some(outcome) = self.outcome(&result_key).await {
                        return outcome;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_environments_are_named_with_the_way_to_reach_them() {
        let none = EnvironmentQueues::fixed(HashMap::new());
        let err = none.get("clinic").await.err().unwrap().to_string();
        assert!(
            err.contains("\"clinic\"") && err.contains("queue.url"),
            "{err}"
        );
        let broker = EnvironmentQueues::broker("amqp://127.0.0.1:1/%2f", QueueSettings::default());
        let err = broker.get("a b").await.err().unwrap().to_string();
        assert!(err.contains("letters, digits"), "{err}");
        let settings =
            EnvironmentQueues::rabbit_settings("amqp://x", QueueSettings::default(), "clinic");
        assert_eq!(settings.prefix, "veil.env.clinic");
    }
}
