//! Rows of `queue_items` and their conversion into domain types.

use std::str::FromStr;

use veil_domain::QueueItem;

use crate::{QueueError, Result};

/// The item columns, in the order [`ItemRow`] expects them.
pub(super) const ITEM_COLUMNS: &str =
    "task_id, job_id, idx, kind, params, max_attempts, attempts, status, last_error";

/// One row of `queue_items`, as far as deliveries need it.
#[derive(sqlx::FromRow)]
pub(super) struct ItemRow {
    pub(super) task_id: String,
    job_id: String,
    idx: i64,
    kind: String,
    params: String,
    pub(super) max_attempts: i64,
    pub(super) attempts: i64,
    pub(super) status: String,
    pub(super) last_error: Option<String>,
}

impl ItemRow {
    /// The queue item this row stores.
    pub(super) fn to_item(&self) -> Result<QueueItem> {
        Ok(QueueItem {
            task_id: parse(&self.task_id)?,
            job_id: parse(&self.job_id)?,
            index: to_u32(self.idx, "index")?,
            kind: self.kind.clone(),
            params: serde_json::from_str(&self.params)
                .map_err(|e| QueueError::Corrupt(format!("params `{}`: {e}", self.params)))?,
            max_attempts: to_u32(self.max_attempts, "max_attempts")?,
        })
    }
}

/// JSON text for the params column.
pub(super) fn to_json(value: &serde_json::Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| QueueError::Corrupt(format!("encoding params: {e}")))
}

/// A stored count as `u32`, or `Corrupt`.
pub(super) fn to_u32(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| QueueError::Corrupt(format!("{what} {value} out of range")))
}

fn parse<T>(text: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| QueueError::Corrupt(e.to_string()))
}
