//! [`RunStore`]: the durable record of linkage runs.

use async_trait::async_trait;
use veil_domain::Timestamp;

use crate::{EntityResult, UploadRecord};

/// A run's bookkeeping state (its live state comes from its platform job once it has one).
pub mod run_state {
    /// Waiting for every party to upload.
    pub const CREATED: &str = "created";
    /// Claimed by a process that is planning and submitting its job.
    pub const SUBMITTING: &str = "submitting";
    /// Its job exists (`job_id`).
    pub const SUBMITTED: &str = "submitted";
    /// Failed before a job existed; `message` says why.
    pub const ERROR: &str = "error";
}

/// A linkage run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// 48 hex characters.
    pub run_id: String,
    /// The run's project.
    pub project_id: String,
    /// Free-text name.
    pub name: String,
    /// Free-text notes.
    pub notes: String,
    /// Similarity threshold in (0, 1].
    pub threshold: f64,
    /// One of [`run_state`].
    pub state: String,
    /// The platform job computing the run, once submitted.
    pub job_id: Option<String>,
    /// Why the run failed before a job existed.
    pub message: Option<String>,
    /// Comparisons the run's plan holds (0 until planned).
    pub total_comparisons: i64,
    /// Highest stage reported so far.
    pub stage_seen: i64,
    /// Highest progress reported so far within `stage_seen`.
    pub progress_seen: i64,
    /// When the run was created.
    pub time_added: Timestamp,
}

/// Durable storage for runs. Implemented for SQLite and PostgreSQL by
/// [`SqlProjectStore`](crate::SqlProjectStore).
#[async_trait]
pub trait RunStore: Send + Sync + 'static {
    /// Stores a new run.
    async fn create_run(&self, run: &RunRecord) -> EntityResult<()>;

    /// The project's runs, oldest first.
    async fn list_runs(&self, project_id: &str) -> EntityResult<Vec<RunRecord>>;

    /// The run with this id in this project, or `None`.
    async fn get_run(&self, project_id: &str, run_id: &str) -> EntityResult<Option<RunRecord>>;

    /// Moves a run from `created` to `submitting`; returns whether this caller won the claim.
    async fn claim_run(&self, run_id: &str) -> EntityResult<bool>;

    /// Records the submitted job of a claimed run and its planned comparison count.
    async fn set_run_job(&self, run_id: &str, job_id: &str, comparisons: i64) -> EntityResult<()>;

    /// Returns a claimed run to `created` (its submission failed and will be retried).
    async fn release_run(&self, run_id: &str) -> EntityResult<()>;

    /// Marks a run `error` with a message (it failed before a job existed).
    async fn fail_run(&self, run_id: &str, message: &str) -> EntityResult<()>;

    /// Projects holding runs in `created` or `submitting`; the latter are first returned to
    /// `created` (a process died while submitting them).
    async fn projects_with_unsubmitted_runs(&self) -> EntityResult<Vec<String>>;

    /// Raises the run's reported `(stage, progress)` to at least the given pair (compared in that
    /// order) and returns the stored maximum.
    async fn raise_progress(
        &self,
        run_id: &str,
        stage: i64,
        progress: i64,
    ) -> EntityResult<(i64, i64)>;

    /// Deletes the run; returns it, or `None` when there was no such run.
    async fn delete_run(&self, project_id: &str, run_id: &str) -> EntityResult<Option<RunRecord>>;

    /// The project's stored uploads, by party index.
    async fn uploads(&self, project_id: &str) -> EntityResult<Vec<UploadRecord>>;
}
