//! Veil's task queue.
//!
//! [`TaskQueue`] is the contract every queue implements; [`SqlQueue`] is the embedded implementation that
//! lives in the metadata database (SQLite, or PostgreSQL with `FOR UPDATE SKIP LOCKED`); `RabbitQueue`
//! (feature `rabbitmq`) keeps the queue on a RabbitMQ broker, for processes that reach no database.
//!
//! Delivery is at-least-once: a worker claims an item for a lease period and renews the lease with
//! heartbeats. When a lease runs out (the worker died) the item is delivered again, counting as a failed
//! attempt; failed attempts are retried with exponential backoff until the item's budget is spent, when
//! it is dead-lettered with its last error. Every delivery carries a fencing token, so a worker whose lease
//! was lost can no longer acknowledge or fail the item.

mod error;
#[cfg(feature = "rabbitmq")]
mod rabbit;
mod settings;
mod sql;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;

use std::time::Duration;

use async_trait::async_trait;
use veil_domain::{Delivery, FailOutcome, JobId, QueueItem, QueueStats};

pub use error::QueueError;
#[cfg(feature = "rabbitmq")]
pub use rabbit::{RabbitQueue, RabbitSettings};
pub use settings::QueueSettings;
pub use sql::SqlQueue;

/// Result of a queue operation.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// A durable task queue with leases.
///
/// Contract, checked by the conformance suite for every implementation:
/// - `enqueue` is idempotent per `task_id`: an id already known to the queue (in any condition) is ignored;
/// - `claim` hands an item to at most one worker at a time, oldest ready item first;
/// - an item whose lease expired is claimable again, with `attempt` increased and
///   `previous_error = Some("lease expired")`; when that expiry spends the budget it is dead-lettered instead;
/// - `heartbeat`, `complete`, `fail` and `release` with a stale lease token fail with [`QueueError::LeaseLost`];
/// - `fail` schedules a retry after `backoff_base * 2^(attempt-1)` (capped at `backoff_max`) or
///   dead-letters the item when `attempt == max_attempts`;
/// - `release` (graceful shutdown) makes the item ready again without spending an attempt.
#[async_trait]
pub trait TaskQueue: Send + Sync + 'static {
    /// Adds items; items whose `task_id` the queue already knows are ignored.
    async fn enqueue(&self, items: &[QueueItem]) -> Result<()>;

    /// Claims the oldest deliverable item for `lease`, or `None` when nothing is deliverable.
    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Delivery>>;

    /// Extends a delivery's lease to `lease` from now.
    async fn heartbeat(&self, delivery: &Delivery, lease: Duration) -> Result<()>;

    /// Acknowledges a delivery whose result is committed; the item leaves the queue for good.
    async fn complete(&self, delivery: &Delivery) -> Result<()>;

    /// Records a failed attempt: a retry later, or a dead letter when the budget is spent.
    async fn fail(&self, delivery: &Delivery, error: &str) -> Result<FailOutcome>;

    /// Gives a delivery back without spending an attempt (the worker is shutting down).
    async fn release(&self, delivery: &Delivery) -> Result<()>;

    /// Removes every not-yet-finished item of a job (the job was cancelled); returns how many.
    async fn cancel_job(&self, job: JobId) -> Result<u64>;

    /// Dead-lettered items with their last error, oldest first.
    async fn dead_letters(&self, limit: u32) -> Result<Vec<(QueueItem, String)>>;

    /// How many items are ready, delayed, leased and dead.
    async fn stats(&self) -> Result<QueueStats>;
}
