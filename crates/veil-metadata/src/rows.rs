//! Rows as both dialects return them, and their conversion into domain types.
//!
//! The column types are chosen so that one `FromRow` derive decodes a row of either dialect; converting
//! to domain types is where stored values are validated (unknown states and bad ids are `Corrupt`).

use std::str::FromStr;

use veil_domain::{Job, JobEvent, JobId, Progress, Task, TaskId};

use crate::{DbTimestamp, MetadataError, Result};

/// The columns of `jobs`, in the order [`JobRow`] expects them.
pub(crate) const JOB_COLUMNS: &str =
    "id, kind, params, owner, state, created_at, started_at, finished_at, error, task_count";

/// The columns of `tasks`, in the order [`TaskRow`] expects them.
pub(crate) const TASK_COLUMNS: &str = "id, job_id, idx, kind, params, state, attempts, progress, \
     result_key, error, started_at, finished_at";

/// One row of `jobs`.
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: String,
    kind: String,
    params: String,
    owner: String,
    state: String,
    created_at: DbTimestamp,
    started_at: Option<DbTimestamp>,
    finished_at: Option<DbTimestamp>,
    error: Option<String>,
    task_count: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = MetadataError;

    fn try_from(row: JobRow) -> Result<Job> {
        Ok(Job {
            id: parse(&row.id)?,
            kind: row.kind,
            params: from_json(&row.params)?,
            owner: row.owner,
            state: parse(&row.state)?,
            created_at: row.created_at.0,
            started_at: row.started_at.map(|t| t.0),
            finished_at: row.finished_at.map(|t| t.0),
            error: row.error,
            task_count: to_u32(row.task_count, "task_count")?,
        })
    }
}

/// One row of `tasks`.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    id: String,
    job_id: String,
    idx: i64,
    kind: String,
    params: String,
    state: String,
    attempts: i64,
    progress: String,
    result_key: Option<String>,
    error: Option<String>,
    started_at: Option<DbTimestamp>,
    finished_at: Option<DbTimestamp>,
}

impl TryFrom<TaskRow> for Task {
    type Error = MetadataError;

    fn try_from(row: TaskRow) -> Result<Task> {
        let progress: Progress = serde_json::from_str(&row.progress).map_err(|e| {
            MetadataError::Corrupt(format!("task progress `{}`: {e}", row.progress))
        })?;
        Ok(Task {
            id: parse::<TaskId>(&row.id)?,
            job_id: parse(&row.job_id)?,
            index: to_u32(row.idx, "task index")?,
            kind: row.kind,
            params: from_json(&row.params)?,
            state: parse(&row.state)?,
            attempts: to_u32(row.attempts, "task attempts")?,
            progress,
            result_key: row.result_key,
            error: row.error,
            started_at: row.started_at.map(|t| t.0),
            finished_at: row.finished_at.map(|t| t.0),
        })
    }
}

/// One row of `job_events`.
#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    job_id: String,
    seq: i64,
    at: DbTimestamp,
    message: String,
}

impl TryFrom<EventRow> for JobEvent {
    type Error = MetadataError;

    fn try_from(row: EventRow) -> Result<JobEvent> {
        Ok(JobEvent {
            job_id: parse::<JobId>(&row.job_id)?,
            seq: row.seq,
            at: row.at.0,
            message: row.message,
        })
    }
}

/// JSON text for a params or progress column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| MetadataError::Corrupt(format!("encoding JSON: {e}")))
}

fn from_json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| MetadataError::Corrupt(format!("params `{text}`: {e}")))
}

fn parse<T>(text: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| MetadataError::Corrupt(e.to_string()))
}

fn to_u32(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| MetadataError::Corrupt(format!("{what} {value} out of range")))
}
