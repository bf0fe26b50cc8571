//! Veil's metadata store: the durable record of jobs, their tasks and their event logs, and (through
//! [`AccessStore`]) of the native API's users, revoked tokens and the audit log.
//!
//! The [`MetadataStore`] trait is the whole contract; [`Database`] opens the embedded SQLite file (WAL
//! mode, in the data directory) or a PostgreSQL server from a URL and applies that dialect's migrations.
//! The same database also holds the embedded task queue (see the `veil-queue` crate), which is why the
//! connection pool is exposed.
//!
//! Both dialects share one implementation, [`SqlMetadataStore`]: every statement is written once with `$n`
//! parameters (which SQLite accepts too) and compiled per dialect through [`with_pool!`]; timestamps are
//! stored as [`DbTimestamp`] (`TIMESTAMPTZ`, or integer microseconds in SQLite).

mod access;
mod database;
mod error;
mod postgres;
mod rows;
mod sqlite;
mod store;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;
mod timestamp;

use async_trait::async_trait;
use veil_domain::{
    Job, JobEvent, JobFilter, JobId, JobState, Progress, Task, TaskCounts, TaskId, TaskUpdate,
    Timestamp,
};

pub use access::{AccessStore, AuditEntry, AuditFilter, SqlAccessStore, UserRecord};
pub use database::Database;
pub use error::MetadataError;
pub use store::SqlMetadataStore;
pub use timestamp::DbTimestamp;

/// Result of a metadata operation.
pub type Result<T, E = MetadataError> = std::result::Result<T, E>;

/// Durable storage for jobs, tasks and event logs.
///
/// Contract, checked by the conformance suite for every implementation:
/// - reading a job or task that does not exist is [`MetadataError::NotFound`];
/// - guarded updates (`transition_job`, `update_task`) apply only while the row is in one of the `from`
///   states and report whether they applied, so concurrent workers never overwrite each other;
/// - the event log is append-only and returned oldest first with increasing `seq`.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Stores a new job together with its planned tasks, atomically: either all rows exist or none.
    async fn create_job(&self, job: &Job, tasks: &[Task]) -> Result<()>;

    /// The job with this id.
    async fn get_job(&self, id: JobId) -> Result<Job>;

    /// Jobs matching the filter, newest first (default limit 100).
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>>;

    /// Moves the job to `to` if it is currently in one of `from`. Moving to `running` sets `started_at`
    /// (unless already set); moving to a terminal state sets `finished_at`; `error` is recorded when given.
    /// Returns whether the transition applied.
    async fn transition_job(
        &self,
        id: JobId,
        from: &[JobState],
        to: JobState,
        at: Timestamp,
        error: Option<&str>,
    ) -> Result<bool>;

    /// The task with this id.
    async fn get_task(&self, id: TaskId) -> Result<Task>;

    /// A job's tasks, ordered by index.
    async fn list_tasks(&self, job: JobId) -> Result<Vec<Task>>;

    /// Applies a guarded update; returns whether the task was in one of `update.from`.
    async fn update_task(&self, id: TaskId, update: &TaskUpdate) -> Result<bool>;

    /// Records a task's latest progress (no state change).
    async fn set_task_progress(&self, id: TaskId, progress: &Progress) -> Result<()>;

    /// How many of a job's tasks are in each state.
    async fn count_tasks(&self, job: JobId) -> Result<TaskCounts>;

    /// Moves every non-terminal task of a job to `cancelled`; returns how many changed.
    async fn cancel_tasks(&self, job: JobId, at: Timestamp) -> Result<u32>;

    /// Appends a line to a job's event log.
    async fn append_event(&self, job: JobId, at: Timestamp, message: &str) -> Result<JobEvent>;

    /// A job's event log, oldest first.
    async fn list_events(&self, job: JobId) -> Result<Vec<JobEvent>>;

    /// Checks that the store answers (readiness probe).
    async fn ping(&self) -> Result<()>;
}
