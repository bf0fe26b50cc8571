//! Veil's domain types.
//!
//! Everything the platform moves around — jobs, the tasks they fan out into, their states, progress and
//! event logs, and the messages a task queue delivers — is defined here, with no I/O, so that every other
//! crate (storage backends, service, HTTP server, client) speaks the same language.

mod ids;
mod job;
mod queue;
mod state;
mod task;

pub use ids::{IdParseError, JobId, TaskId};
pub use job::{Job, JobDescription, JobEvent, JobFilter, NewJob};
pub use queue::{Delivery, FailOutcome, QueueItem, QueueStats};
pub use state::{JobState, StateParseError, TaskState};
pub use task::{Progress, Task, TaskCounts, TaskSpec, TaskUpdate};

/// A point in time, always UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// The current time, truncated to microseconds so that it survives a round trip through every metadata
/// backend unchanged (PostgreSQL stores microseconds).
pub fn now() -> Timestamp {
    let now = chrono::Utc::now();
    let micros = now.timestamp_micros();
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or(now)
}
