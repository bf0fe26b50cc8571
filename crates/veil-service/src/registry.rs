//! Job kinds: how a kind of work is planned into tasks, how each task runs, and the final step.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use veil_blob::BlobStore;
use veil_domain::{Job, Progress, TaskSpec};

/// The task kind of a job's final step, queued once every task of the job has succeeded.
pub const FINALIZE_TASK_KIND: &str = "veil.finalize";

/// Why a task attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    /// What went wrong, for the event log and the job's error.
    pub message: String,
    /// Whether retrying cannot help (bad parameters, corrupt input): the task fails at once.
    pub permanent: bool,
}

impl TaskError {
    /// A failure that a later attempt may not repeat (I/O trouble, a lost connection).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure that every attempt would repeat.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

/// Everything a task (or a job's final step) gets to do its work.
pub struct TaskContext {
    /// The job the task belongs to.
    pub job: Job,
    /// Task index within the job (`job.task_count` for the final step).
    pub index: u32,
    /// Task kind (`FINALIZE_TASK_KIND` for the final step).
    pub kind: String,
    /// Task parameters.
    pub params: serde_json::Value,
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// The blob store, for inputs and large outputs (write those under deterministic keys too).
    pub blobs: Arc<dyn BlobStore>,
    /// Fires when the job is cancelled, the lease is lost or the process must stop.
    pub cancel: CancellationToken,
    pub(crate) progress: watch::Sender<Progress>,
}

impl TaskContext {
    /// Reports progress; the runner persists the latest report with each heartbeat.
    pub fn report_progress(&self, current: u64, total: Option<u64>, description: Option<&str>) {
        self.progress.send_replace(Progress {
            current,
            total,
            description: description.map(str::to_string),
        });
    }
}

/// A kind of job: planning, task execution and the final step.
#[async_trait]
pub trait JobKind: Send + Sync + 'static {
    /// The kind's name, as given in `NewJob::kind`.
    fn name(&self) -> &'static str;

    /// Validates the job's parameters and fans the job out into tasks. The error message is shown to the
    /// submitter as is, so it should name the parameter at fault.
    fn plan(&self, params: &serde_json::Value) -> Result<Vec<TaskSpec>, String>;

    /// Runs one task; the returned bytes are committed as the task's result.
    async fn run_task(&self, ctx: &TaskContext) -> Result<Bytes, TaskError>;

    /// Runs once every task has succeeded; returned bytes are committed as the job's result.
    /// `task_results` holds each task's result key, by index.
    async fn finalize(
        &self,
        ctx: &TaskContext,
        task_results: &[String],
    ) -> Result<Option<Bytes>, TaskError> {
        let _ = (ctx, task_results);
        Ok(None)
    }
}

/// The job kinds a process knows, by name.
#[derive(Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn JobKind>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with the built-in test kinds (`sleep`, `echo`).
    pub fn with_builtin_kinds() -> Self {
        let mut registry = Self::new();
        registry.register(Arc::new(crate::SleepJob));
        registry.register(Arc::new(crate::EchoJob));
        registry
    }

    /// Adds (or replaces) a job kind.
    pub fn register(&mut self, kind: Arc<dyn JobKind>) {
        self.kinds.insert(kind.name(), kind);
    }

    /// The kind with this name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn JobKind>> {
        self.kinds.get(name)
    }

    /// The names of all known kinds, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}
