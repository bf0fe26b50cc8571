//! What a task queue carries: items to deliver, deliveries under lease, and the outcome of a failure.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{JobId, TaskId, Timestamp};

/// A message on the task queue. It carries parameters and references only, never data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    /// The task to run; enqueueing an id that is already queued (or done) does nothing.
    pub task_id: TaskId,
    /// Its job.
    pub job_id: JobId,
    /// Task index within the job.
    pub index: u32,
    /// The handler that runs it.
    pub kind: String,
    /// Handler parameters.
    pub params: serde_json::Value,
    /// Deliveries allowed before the item is dead-lettered.
    pub max_attempts: u32,
}

/// An item claimed by a worker, valid until its lease expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The claimed item.
    pub item: QueueItem,
    /// Which delivery this is, from 1.
    pub attempt: u32,
    /// Fences this delivery: heartbeats and acknowledgements with a stale token are refused.
    pub lease_token: Uuid,
    /// When the lease runs out unless renewed.
    pub lease_expires_at: Timestamp,
    /// Why the previous delivery ended, when this is a redelivery (e.g. `lease expired`).
    pub previous_error: Option<String>,
}

/// What happens to an item after a failed attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FailOutcome {
    /// It will be delivered again, not before `not_before`.
    Retry {
        /// Earliest time of the next delivery (exponential backoff).
        not_before: Timestamp,
    },
    /// The retry budget is spent: the item is dead-lettered with its last error.
    DeadLettered,
}

/// How many items the queue holds in each condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Deliverable now.
    pub ready: u64,
    /// Waiting for their backoff to pass.
    pub delayed: u64,
    /// Held by a worker under lease.
    pub leased: u64,
    /// Dead-lettered.
    pub dead: u64,
}
