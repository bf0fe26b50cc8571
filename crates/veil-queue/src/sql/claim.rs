//! Claiming: the one operation whose SQL differs between dialects.
//!
//! A claim runs in one transaction that finds the oldest deliverable item — ready and due, or leased
//! with an expired lease — and leases it. Two claimers never get the same item: PostgreSQL locks the
//! candidate row with `FOR UPDATE SKIP LOCKED` (concurrent claimers skip to the next row), SQLite takes
//! the database write lock up front with `BEGIN IMMEDIATE` (claimers queue behind the busy timeout).
//! An expired lease counts as a failed attempt with the error `lease expired`; when it was the last
//! attempt the item is dead-lettered and the search goes on.

use std::time::Duration;

use uuid::Uuid;
use veil_domain::{now, Delivery};
use veil_metadata::{with_pool, Database, DbTimestamp};

use super::after;
use super::rows::{to_u32, ItemRow, ITEM_COLUMNS};
use crate::Result;

/// The error recorded when a delivery's lease ran out.
const LEASE_EXPIRED: &str = "lease expired";

const DEAD_LETTER: &str = "UPDATE queue_items SET status = 'dead', last_error = $2, \
     lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL WHERE task_id = $1";

const LEASE: &str = "UPDATE queue_items SET status = 'leased', attempts = attempts + 1, \
     lease_token = $2, lease_owner = $3, lease_expires_at = $4, last_error = COALESCE($5, last_error) \
     WHERE task_id = $1";

/// How a dialect makes a claim exclusive.
trait ClaimDialect: sqlx::Database {
    /// The statement that opens the claim's transaction.
    const BEGIN: &'static str;
    /// The clause that locks the candidate row.
    const LOCK: &'static str;
}

impl ClaimDialect for sqlx::Sqlite {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const LOCK: &'static str = "";
}

impl ClaimDialect for sqlx::Postgres {
    const BEGIN: &'static str = "BEGIN";
    const LOCK: &'static str = "FOR UPDATE SKIP LOCKED";
}

/// The transaction opener and row lock for `pool`'s dialect.
fn dialect_of<DB: ClaimDialect>(_pool: &sqlx::Pool<DB>) -> (&'static str, &'static str) {
    (DB::BEGIN, DB::LOCK)
}

/// Leases the oldest deliverable item to `worker` for `lease`.
pub(super) async fn claim(
    database: &Database,
    worker: &str,
    lease: Duration,
) -> Result<Option<Delivery>> {
    let at = now();
    let lease_expires_at = after(at, lease);
    let lease_token = Uuid::new_v4();
    with_pool!(database, pool => {
        let (begin, lock) = dialect_of(pool);
        let select = format!(
            "SELECT {ITEM_COLUMNS} FROM queue_items \
             WHERE (status = 'ready' AND not_before <= $1) OR (status = 'leased' AND lease_expires_at < $1) \
             ORDER BY seq LIMIT 1 {lock}"
        );
        let mut tx = pool.begin_with(begin).await?;
        loop {
            let row: Option<ItemRow> =
                sqlx::query_as(&select).bind(DbTimestamp(at)).fetch_optional(&mut *tx).await?;
            let Some(row) = row else {
                tx.commit().await?;
                return Ok(None);
            };
            let expired = row.status == "leased";
            if expired && row.attempts >= row.max_attempts {
                sqlx::query(DEAD_LETTER)
                    .bind(&row.task_id)
                    .bind(LEASE_EXPIRED)
                    .execute(&mut *tx)
                    .await?;
                continue;
            }
            let item = row.to_item()?;
            let attempt = to_u32(row.attempts + 1, "attempt")?;
            let previous_error = if expired { Some(LEASE_EXPIRED.to_string()) } else { row.last_error };
            sqlx::query(LEASE)
                .bind(&row.task_id)
                .bind(lease_token.to_string())
                .bind(worker)
                .bind(DbTimestamp(lease_expires_at))
                .bind(expired.then_some(LEASE_EXPIRED))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Some(Delivery { item, attempt, lease_token, lease_expires_at, previous_error }));
        }
    })
}
