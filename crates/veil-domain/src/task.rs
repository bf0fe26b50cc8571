//! Tasks: the pieces a job fans out into, each delivered to a worker through the task queue.

use serde::{Deserialize, Serialize};

use crate::{JobId, TaskId, TaskState, Timestamp};

/// How far a task has got. `total` makes the progress relative; `description` says what it is doing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Units of work done.
    pub current: u64,
    /// Units of work in all, when known.
    pub total: Option<u64>,
    /// What the task is doing now.
    pub description: Option<String>,
}

impl Progress {
    /// Fraction done in `[0, 1]`, when the total is known.
    pub fn fraction(&self) -> Option<f64> {
        match self.total {
            Some(0) => Some(1.0),
            Some(total) => Some((self.current as f64 / total as f64).min(1.0)),
            None => None,
        }
    }
}

/// What a job's planner produces for each task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The handler that runs the task.
    pub kind: String,
    /// Handler-specific parameters: references and settings, never bulk data.
    pub params: serde_json::Value,
}

/// A task as stored and reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The task's id (deterministic from job and index).
    pub id: TaskId,
    /// The job it belongs to.
    pub job_id: JobId,
    /// Its position within the job, from 0.
    pub index: u32,
    /// The handler that runs it.
    pub kind: String,
    /// Handler parameters.
    pub params: serde_json::Value,
    /// Current state.
    pub state: TaskState,
    /// How many times it has been delivered to a worker.
    pub attempts: u32,
    /// Latest reported progress.
    pub progress: Progress,
    /// Blob key of its committed result.
    pub result_key: Option<String>,
    /// The last error it failed with.
    pub error: Option<String>,
    /// When the latest attempt started.
    pub started_at: Option<Timestamp>,
    /// When it reached a terminal state.
    pub finished_at: Option<Timestamp>,
}

impl Task {
    /// A freshly planned, queued task.
    pub fn planned(job_id: JobId, index: u32, spec: TaskSpec) -> Self {
        Self {
            id: TaskId::for_job(job_id, index),
            job_id,
            index,
            kind: spec.kind,
            params: spec.params,
            state: TaskState::Queued,
            attempts: 0,
            progress: Progress::default(),
            result_key: None,
            error: None,
            started_at: None,
            finished_at: None,
        }
    }

    /// Wall time of the latest attempt (to `now` while running).
    pub fn duration(&self, now: Timestamp) -> Option<chrono::Duration> {
        let started = self.started_at?;
        Some(self.finished_at.unwrap_or(now) - started)
    }
}

/// A guarded change to a task: it applies only while the task is in one of `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskUpdate {
    /// States the task must be in for the update to apply.
    pub from: Vec<TaskState>,
    /// The new state.
    pub to: TaskState,
    /// New attempt count, if it changes.
    pub attempts: Option<u32>,
    /// New start time, if it changes.
    pub started_at: Option<Timestamp>,
    /// New finish time, if it changes.
    pub finished_at: Option<Timestamp>,
    /// Committed result key, if any.
    pub result_key: Option<String>,
    /// Error to record, if any.
    pub error: Option<String>,
}

impl TaskUpdate {
    /// An update from any of `from` to `to` that changes nothing else.
    pub fn new(from: &[TaskState], to: TaskState) -> Self {
        Self {
            from: from.to_vec(),
            to,
            attempts: None,
            started_at: None,
            finished_at: None,
            result_key: None,
            error: None,
        }
    }
}

/// How many of a job's tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    /// Waiting in the queue.
    pub queued: u32,
    /// Held by a worker.
    pub running: u32,
    /// Done.
    pub succeeded: u32,
    /// Failed for good.
    pub failed: u32,
    /// Cancelled.
    pub cancelled: u32,
}

impl TaskCounts {
    /// All tasks counted.
    pub fn total(&self) -> u32 {
        self.queued + self.running + self.succeeded + self.failed + self.cancelled
    }

    /// Adds one task in `state`.
    pub fn add(&mut self, state: TaskState, count: u32) {
        match state {
            TaskState::Queued => self.queued += count,
            TaskState::Running => self.running += count,
            TaskState::Succeeded => self.succeeded += count,
            TaskState::Failed => self.failed += count,
            TaskState::Cancelled => self.cancelled += count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_fraction_is_clamped_and_handles_empty_totals() {
        let p = |current, total| Progress {
            current,
            total,
            description: None,
        };
        assert_eq!(p(5, Some(10)).fraction(), Some(0.5));
        assert_eq!(p(12, Some(10)).fraction(), Some(1.0));
        assert_eq!(p(0, Some(0)).fraction(), Some(1.0));
        assert_eq!(p(3, None).fraction(), None);
    }

    #[test]
    fn counts_add_up() {
        let mut counts = TaskCounts::default();
        counts.add(TaskState::Succeeded, 3);
        counts.add(TaskState::Queued, 2);
        assert_eq!(counts.total(), 5);
        assert_eq!(counts.succeeded, 3);
    }
}
