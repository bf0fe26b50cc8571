//! [`SqlMetadataStore`]: the [`MetadataStore`] of both dialects.
//!
//! Every statement is written once with `$n` parameters (SQLite accepts them too) and compiled for each
//! dialect through [`with_pool!`](crate::with_pool). Guarded updates are single compare-and-set statements
//! (`UPDATE … WHERE id = $n AND state IN (…)`), so concurrent writers never overwrite each other.

use async_trait::async_trait;
use veil_domain::{
    Job, JobEvent, JobFilter, JobId, JobState, Progress, Task, TaskCounts, TaskId, TaskState,
    TaskUpdate, Timestamp,
};

use crate::rows::{to_json, EventRow, JobRow, TaskRow, JOB_COLUMNS, TASK_COLUMNS};
use crate::{with_pool, Database, DbTimestamp, MetadataError, MetadataStore, Result};

/// How many jobs `list_jobs` returns when the filter sets no limit.
const DEFAULT_LIST_LIMIT: u32 = 100;

/// Jobs, tasks and event logs in a SQLite or PostgreSQL [`Database`].
#[derive(Debug, Clone)]
pub struct SqlMetadataStore {
    database: Database,
}

impl SqlMetadataStore {
    /// The store backed by `database`, which must be migrated.
    pub fn new(database: Database) -> Self {
        Self { database }
    }
}

/// `$first, $first+1, …` for `count` parameters: the inside of an `IN (…)` list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn job_not_found(id: JobId) -> MetadataError {
    MetadataError::NotFound {
        what: "job",
        id: id.to_string(),
    }
}

fn task_not_found(id: TaskId) -> MetadataError {
    MetadataError::NotFound {
        what: "task",
        id: id.to_string(),
    }
}

/// Turns a foreign-key violation (the job does not exist) into `NotFound`.
fn missing_job_as_not_found(error: sqlx::Error, job: JobId) -> MetadataError {
    match &error {
        sqlx::Error::Database(db_error) if db_error.is_foreign_key_violation() => {
            job_not_found(job)
        }
        _ => MetadataError::Database(error),
    }
}

#[async_trait]
impl MetadataStore for SqlMetadataStore {
    async fn create_job(&self, job: &Job, tasks: &[Task]) -> Result<()> {
        let insert_job = format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        let insert_task = format!(
            "INSERT INTO tasks ({TASK_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        let job_params = to_json(&job.params)?;
        let encoded_tasks = tasks
            .iter()
            .map(|task| Ok((task, to_json(&task.params)?, to_json(&task.progress)?)))
            .collect::<Result<Vec<_>>>()?;
        with_pool!(&self.database, pool => {
            // Dropping the transaction on an error rolls it back: no job row without its tasks.
            let mut tx = pool.begin().await?;
            sqlx::query(&insert_job)
                .bind(job.id.to_string())
                .bind(&job.kind)
                .bind(&job_params)
                .bind(&job.owner)
                .bind(job.state.as_str())
                .bind(DbTimestamp(job.created_at))
                .bind(job.started_at.map(DbTimestamp))
                .bind(job.finished_at.map(DbTimestamp))
                .bind(&job.error)
                .bind(i64::from(job.task_count))
                .execute(&mut *tx)
                .await?;
            for (task, params, progress) in &encoded_tasks {
                sqlx::query(&insert_task)
                    .bind(task.id.to_string())
                    .bind(task.job_id.to_string())
                    .bind(i64::from(task.index))
                    .bind(&task.kind)
                    .bind(params)
                    .bind(task.state.as_str())
                    .bind(i64::from(task.attempts))
                    .bind(progress)
                    .bind(&task.result_key)
                    .bind(&task.error)
                    .bind(task.started_at.map(DbTimestamp))
                    .bind(task.finished_at.map(DbTimestamp))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn get_job(&self, id: JobId) -> Result<Job> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row: Option<JobRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql).bind(id.to_string()).fetch_optional(pool).await?
        });
        row.ok_or_else(|| job_not_found(id))?.try_into()
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR kind = $2) \
             AND ($4 IS NULL OR owner = $4) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let state = filter.state.map(JobState::as_str);
        let limit = i64::from(filter.limit.unwrap_or(DEFAULT_LIST_LIMIT));
        let rows: Vec<JobRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql)
                .bind(state)
                .bind(filter.kind.as_deref())
                .bind(limit)
                .bind(filter.owner.as_deref())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Job::try_from).collect()
    }

    async fn transition_job(
        &self,
        id: JobId,
        from: &[JobState],
        to: JobState,
        at: Timestamp,
        error: Option<&str>,
    ) -> Result<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let sql = format!(
            "UPDATE jobs SET state = $1, \
             started_at = CASE WHEN $2 THEN COALESCE(started_at, $4) ELSE started_at END, \
             finished_at = CASE WHEN $3 THEN $4 ELSE finished_at END, \
             error = COALESCE($5, error) \
             WHERE id = $6 AND state IN ({})",
            placeholders(7, from.len())
        );
        let rows_affected = with_pool!(&self.database, pool => {
            let mut query = sqlx::query(&sql)
                .bind(to.as_str())
                .bind(to == JobState::Running)
                .bind(to.is_terminal())
                .bind(DbTimestamp(at))
                .bind(error)
                .bind(id.to_string());
            for state in from {
                query = query.bind(state.as_str());
            }
            query.execute(pool).await?.rows_affected()
        });
        Ok(rows_affected == 1)
    }

    async fn get_task(&self, id: TaskId) -> Result<Task> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
        let row: Option<TaskRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql).bind(id.to_string()).fetch_optional(pool).await?
        });
        row.ok_or_else(|| task_not_found(id))?.try_into()
    }

    async fn list_tasks(&self, job: JobId) -> Result<Vec<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = $1 ORDER BY idx");
        let rows: Vec<TaskRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql).bind(job.to_string()).fetch_all(pool).await?
        });
        rows.into_iter().map(Task::try_from).collect()
    }

    async fn update_task(&self, id: TaskId, update: &TaskUpdate) -> Result<bool> {
        if update.from.is_empty() {
            return Ok(false);
        }
        let sql = format!(
            "UPDATE tasks SET state = $1, attempts = COALESCE($2, attempts), \
             started_at = COALESCE($3, started_at), finished_at = COALESCE($4, finished_at), \
             result_key = COALESCE($5, result_key), error = COALESCE($6, error) \
             WHERE id = $7 AND state IN ({})",
            placeholders(8, update.from.len())
        );
        let rows_affected = with_pool!(&self.database, pool => {
            let mut query = sqlx::query(&sql)
                .bind(update.to.as_str())
                .bind(update.attempts.map(i64::from))
                .bind(update.started_at.map(DbTimestamp))
                .bind(update.finished_at.map(DbTimestamp))
                .bind(update.result_key.as_deref())
                .bind(update.error.as_deref())
                .bind(id.to_string());
            for state in &update.from {
                query = query.bind(state.as_str());
            }
            query.execute(pool).await?.rows_affected()
        });
        Ok(rows_affected == 1)
    }

    async fn set_task_progress(&self, id: TaskId, progress: &Progress) -> Result<()> {
        let progress = to_json(progress)?;
        let rows_affected = with_pool!(&self.database, pool => {
            sqlx::query("UPDATE tasks SET progress = $1 WHERE id = $2")
                .bind(&progress)
                .bind(id.to_string())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if rows_affected == 0 {
            return Err(task_not_found(id));
        }
        Ok(())
    }

    async fn count_tasks(&self, job: JobId) -> Result<TaskCounts> {
        let sql = "SELECT state, COUNT(*) FROM tasks WHERE job_id = $1 GROUP BY state";
        let rows: Vec<(String, i64)> = with_pool!(&self.database, pool => {
            sqlx::query_as(sql).bind(job.to_string()).fetch_all(pool).await?
        });
        let mut counts = TaskCounts::default();
        for (state, count) in rows {
            let state: TaskState = state
                .parse()
                .map_err(|e| MetadataError::Corrupt(format!("{e}")))?;
            let count = u32::try_from(count)
                .map_err(|_| MetadataError::Corrupt(format!("task count {count} out of range")))?;
            counts.add(state, count);
        }
        Ok(counts)
    }

    async fn cancel_tasks(&self, job: JobId, at: Timestamp) -> Result<u32> {
        let sql =
            "UPDATE tasks SET state = $1, finished_at = $2 WHERE job_id = $3 AND state IN ($4, $5)";
        let rows_affected = with_pool!(&self.database, pool => {
            sqlx::query(sql)
                .bind(TaskState::Cancelled.as_str())
                .bind(DbTimestamp(at))
                .bind(job.to_string())
                .bind(TaskState::Queued.as_str())
                .bind(TaskState::Running.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        u32::try_from(rows_affected)
            .map_err(|_| MetadataError::Corrupt(format!("{rows_affected} tasks cancelled")))
    }

    async fn append_event(&self, job: JobId, at: Timestamp, message: &str) -> Result<JobEvent> {
        let sql = "INSERT INTO job_events (job_id, at, message) VALUES ($1, $2, $3) RETURNING seq";
        let inserted: std::result::Result<i64, sqlx::Error> = with_pool!(&self.database, pool => {
            sqlx::query_scalar(sql)
                .bind(job.to_string())
                .bind(DbTimestamp(at))
                .bind(message)
                .fetch_one(pool)
                .await
        });
        let seq = inserted.map_err(|error| missing_job_as_not_found(error, job))?;
        Ok(JobEvent {
            job_id: job,
            seq,
            at,
            message: message.to_string(),
        })
    }

    async fn list_events(&self, job: JobId) -> Result<Vec<JobEvent>> {
        let sql = "SELECT job_id, seq, at, message FROM job_events WHERE job_id = $1 ORDER BY seq";
        let rows: Vec<EventRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(sql).bind(job.to_string()).fetch_all(pool).await?
        });
        rows.into_iter().map(JobEvent::try_from).collect()
    }

    async fn ping(&self) -> Result<()> {
        with_pool!(&self.database, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }
}
