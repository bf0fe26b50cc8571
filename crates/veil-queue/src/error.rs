//! Errors of the task queue.

/// What can go wrong with a queue operation.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The delivery's lease expired and the item was, or may be, delivered to someone else.
    #[error("lease on task {task_id} was lost (expired or re-claimed)")]
    LeaseLost {
        /// The task whose lease was lost.
        task_id: String,
    },
    /// A stored value could not be read back.
    #[error("corrupt queue entry: {0}")]
    Corrupt(String),
    /// The message broker is unreachable or refused an operation; retrying later may succeed.
    #[error("queue broker: {0}")]
    Broker(String),
    /// The queue's database reported an error.
    #[error("queue database: {0}")]
    Database(#[from] sqlx::Error),
}
