//! Jobs: a unit of work a user asks for, fanned out into tasks.

use serde::{Deserialize, Serialize};

use crate::{JobId, JobState, Task, Timestamp};

/// A job as stored and reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// The kind of work, which selects the planner and task handlers (e.g. `sleep`).
    pub kind: String,
    /// Kind-specific parameters.
    pub params: serde_json::Value,
    /// Who submitted the job.
    pub owner: String,
    /// Current state.
    pub state: JobState,
    /// When the job was accepted.
    pub created_at: Timestamp,
    /// When its first task started.
    pub started_at: Option<Timestamp>,
    /// When it reached a terminal state.
    pub finished_at: Option<Timestamp>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How many tasks the job fanned out into.
    pub task_count: u32,
}

impl Job {
    /// Wall time from start to finish (or to `now` while running).
    pub fn duration(&self, now: Timestamp) -> Option<chrono::Duration> {
        let started = self.started_at?;
        Some(self.finished_at.unwrap_or(now) - started)
    }
}

/// What a client sends to submit a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    /// The kind of work.
    pub kind: String,
    /// Kind-specific parameters.
    #[serde(default)]
    pub params: serde_json::Value,
    /// Who submits it; defaults to `anonymous`.
    #[serde(default)]
    pub owner: Option<String>,
}

/// One line of a job's append-only event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job the event belongs to.
    pub job_id: JobId,
    /// Position in the log: increases with every event appended.
    pub seq: i64,
    /// When it happened.
    pub at: Timestamp,
    /// What happened, for people ("queued 12 tasks").
    pub message: String,
}

/// Which jobs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// At most this many (the store applies its own default when absent).
    pub limit: Option<u32>,
    /// Only jobs owned by this user.
    #[serde(default)]
    pub owner: Option<String>,
}

/// Everything an operator needs to see about a job: `veil job describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDescription {
    /// The job itself.
    pub job: Job,
    /// Its tasks, by index.
    pub tasks: Vec<Task>,
    /// Its event log, oldest first.
    pub events: Vec<JobEvent>,
}
