//! [`SqlQueue`]: the task queue in the metadata database (table `queue_items`).
//!
//! Each item is one row keyed by its task id, with a `status` of `ready`, `leased`, `dead`, `done` or
//! `cancelled`. Finished rows are kept so that re-enqueueing a known task id is ignored. Every
//! acknowledgement is a single `UPDATE … WHERE task_id = $n AND lease_token = $n AND status = 'leased'`,
//! so a delivery whose lease was lost (and perhaps re-claimed) can no longer change the item.
//! Statements use `$n` parameters, which SQLite accepts too; only claiming differs between dialects
//! (see [`claim`]).

mod claim;
mod rows;

use std::time::Duration;

use async_trait::async_trait;
use veil_domain::{now, Delivery, FailOutcome, JobId, QueueItem, QueueStats, Timestamp};
use veil_metadata::{with_pool, Database, DbTimestamp};

use crate::{QueueError, QueueSettings, Result, TaskQueue};
use rows::{to_json, ItemRow, ITEM_COLUMNS};

/// Clears the lease columns; appended to the `SET` list of statements that end a delivery.
const CLEAR_LEASE: &str = "lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL";
/// Matches exactly the delivery whose task id is `$1` and lease token `$2`.
const THIS_DELIVERY: &str = "task_id = $1 AND lease_token = $2 AND status = 'leased'";

/// A [`TaskQueue`] stored in a SQLite or PostgreSQL [`Database`] (migrated by `veil-metadata`).
#[derive(Debug, Clone)]
pub struct SqlQueue {
    database: Database,
    settings: QueueSettings,
}

impl SqlQueue {
    /// The queue in `database`, which must be migrated, retrying failed items as `settings` say.
    pub fn new(database: &Database, settings: QueueSettings) -> Self {
        Self {
            database: database.clone(),
            settings,
        }
    }
}

/// `Ok` when a statement changed the delivery's row, `LeaseLost` when it was no longer current.
fn expect_current(delivery: &Delivery, rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        return Err(QueueError::LeaseLost {
            task_id: delivery.item.task_id.to_string(),
        });
    }
    Ok(())
}

/// `at + duration`, saturating far in the future.
pub(crate) fn after(at: Timestamp, duration: Duration) -> Timestamp {
    let duration = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
    at.checked_add_signed(duration)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

#[async_trait]
impl TaskQueue for SqlQueue {
    async fn enqueue(&self, items: &[QueueItem]) -> Result<()> {
        let sql = format!(
            "INSERT INTO queue_items ({ITEM_COLUMNS}, not_before, enqueued_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 'ready', NULL, $7, $7) ON CONFLICT (task_id) DO NOTHING"
        );
        let encoded = items
            .iter()
            .map(|item| Ok((item, to_json(&item.params)?)))
            .collect::<Result<Vec<_>>>()?;
        let at = DbTimestamp(now());
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin().await?;
            for (item, params) in &encoded {
                sqlx::query(&sql)
                    .bind(item.task_id.to_string())
                    .bind(item.job_id.to_string())
                    .bind(i64::from(item.index))
                    .bind(&item.kind)
                    .bind(params)
                    .bind(i64::from(item.max_attempts))
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Delivery>> {
        claim::claim(&self.database, worker, lease).await
    }

    async fn heartbeat(&self, delivery: &Delivery, lease: Duration) -> Result<()> {
        let sql = format!("UPDATE queue_items SET lease_expires_at = $3 WHERE {THIS_DELIVERY}");
        let expires_at = DbTimestamp(after(now(), lease));
        let rows_affected = with_pool!(&self.database, pool => {
            sqlx::query(&sql)
                .bind(delivery.item.task_id.to_string())
                .bind(delivery.lease_token.to_string())
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_current(delivery, rows_affected)
    }

    async fn complete(&self, delivery: &Delivery) -> Result<()> {
        let sql =
            format!("UPDATE queue_items SET status = 'done', {CLEAR_LEASE} WHERE {THIS_DELIVERY}");
        let rows_affected = with_pool!(&self.database, pool => {
            sqlx::query(&sql)
                .bind(delivery.item.task_id.to_string())
                .bind(delivery.lease_token.to_string())
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_current(delivery, rows_affected)
    }

    async fn fail(&self, delivery: &Delivery, error: &str) -> Result<FailOutcome> {
        // The lease token guard guarantees `delivery.attempt` is the stored attempt count.
        let (outcome, status, not_before) = if delivery.attempt >= delivery.item.max_attempts {
            (FailOutcome::DeadLettered, "dead", None)
        } else {
            let not_before = after(now(), self.settings.backoff(delivery.attempt));
            (
                FailOutcome::Retry { not_before },
                "ready",
                Some(DbTimestamp(not_before)),
            )
        };
        let sql = format!(
            "UPDATE queue_items SET status = $3, {CLEAR_LEASE}, \
             not_before = COALESCE($4, not_before), last_error = $5 WHERE {THIS_DELIVERY}"
        );
        let rows_affected = with_pool!(&self.database, pool => {
            sqlx::query(&sql)
                .bind(delivery.item.task_id.to_string())
                .bind(delivery.lease_token.to_string())
                .bind(status)
                .bind(not_before)
                .bind(error)
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_current(delivery, rows_affected)?;
        Ok(outcome)
    }

    async fn release(&self, delivery: &Delivery) -> Result<()> {
        let sql = format!(
            "UPDATE queue_items SET status = 'ready', {CLEAR_LEASE}, attempts = attempts - 1, \
             not_before = $3 WHERE {THIS_DELIVERY}"
        );
        let rows_affected = with_pool!(&self.database, pool => {
            sqlx::query(&sql)
                .bind(delivery.item.task_id.to_string())
                .bind(delivery.lease_token.to_string())
                .bind(DbTimestamp(now()))
                .execute(pool)
                .await?
                .rows_affected()
        });
        expect_current(delivery, rows_affected)
    }

    async fn cancel_job(&self, job: JobId) -> Result<u64> {
        let sql = format!(
            "UPDATE queue_items SET status = 'cancelled', {CLEAR_LEASE} \
             WHERE job_id = $1 AND status IN ('ready', 'leased')"
        );
        let cancelled = with_pool!(&self.database, pool => {
            sqlx::query(&sql).bind(job.to_string()).execute(pool).await?.rows_affected()
        });
        Ok(cancelled)
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<(QueueItem, String)>> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM queue_items WHERE status = 'dead' ORDER BY seq LIMIT $1"
        );
        let rows: Vec<ItemRow> = with_pool!(&self.database, pool => {
            sqlx::query_as(&sql).bind(i64::from(limit)).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| Ok((row.to_item()?, row.last_error.unwrap_or_default())))
            .collect()
    }

    async fn stats(&self) -> Result<QueueStats> {
        let sql = "SELECT \
             COUNT(CASE WHEN status = 'ready' AND not_before <= $1 THEN 1 END), \
             COUNT(CASE WHEN status = 'ready' AND not_before > $1 THEN 1 END), \
             COUNT(CASE WHEN status = 'leased' THEN 1 END), \
             COUNT(CASE WHEN status = 'dead' THEN 1 END) \
             FROM queue_items";
        let at = DbTimestamp(now());
        let (ready, delayed, leased, dead): (i64, i64, i64, i64) = with_pool!(&self.database, pool => {
            sqlx::query_as(sql).bind(at).fetch_one(pool).await?
        });
        let count = |n: i64| {
            u64::try_from(n).map_err(|_| QueueError::Corrupt(format!("negative count {n}")))
        };
        Ok(QueueStats {
            ready: count(ready)?,
            delayed: count(delayed)?,
            leased: count(leased)?,
            dead: count(dead)?,
        })
    }
}
