//! Veil's service layer: the use cases behind the HTTP API and the worker.
//!
//! [`AccessService`] holds users, tokens and the audit log. [`Platform`] bundles the three backends (metadata store, task queue, blob store) with the
//! [`Registry`] of job kinds. [`JobService`] submits, lists, describes and cancels jobs;
//! [`TaskRunner`] runs one delivered task end to end — the job state machine, retries, the event log,
//! committing results under deterministic blob keys, and the fan-in step that finishes a job. Job kinds
//! (record linkage, synthetic data, the built-in `sleep`/`echo` test kinds) plug in through the
//! [`JobKind`] trait.

mod access;
mod builtin;
mod error;
mod executor;
mod jobs;
mod keys;
mod lease;
mod registry;
mod runner;

use std::sync::Arc;

use veil_blob::BlobStore;
use veil_metadata::MetadataStore;
use veil_queue::TaskQueue;

pub use access::{check_user_name, AccessService, Actor, AuditEvent, UserInfo};
pub use builtin::{EchoJob, SleepJob};
pub use error::ServiceError;
pub use executor::{run_task_standalone, TaskExecutor};
pub use jobs::JobService;
pub use keys::{job_result_key, task_result_key};
pub use registry::{JobKind, Registry, TaskContext, TaskError, FINALIZE_TASK_KIND};
pub use runner::{RunOutcome, TaskRunner};

/// Result of a service call.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// The backends and job kinds every use case works with.
#[derive(Clone)]
pub struct Platform {
    /// Jobs, tasks and event logs.
    pub store: Arc<dyn MetadataStore>,
    /// Task delivery.
    pub queue: Arc<dyn TaskQueue>,
    /// Task results and job outputs.
    pub blobs: Arc<dyn BlobStore>,
    /// The job kinds this process knows.
    pub registry: Arc<Registry>,
    /// Deliveries allowed per task before it is dead-lettered.
    pub max_attempts: u32,
}
