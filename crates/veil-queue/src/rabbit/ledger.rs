//! What one process remembers: task ids it has seen (for idempotent enqueue and for skipping settled
//! or cancelled items), cancelled jobs, and its live leases.
//!
//! Nothing here is persisted. The memory is bounded: past `capacity` entries the oldest are forgotten,
//! which only weakens deduplication of very old task ids. Leases are held by this process's channel,
//! so they end with its connection anyway (the broker requeues unacknowledged messages).

use std::collections::{HashMap, HashSet, VecDeque};

use lapin::Acker;
use uuid::Uuid;
use veil_domain::{JobId, QueueItem, TaskId, Timestamp};

/// Where a task id stands, as far as this process knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// Enqueued (or claimed) and not yet settled: ready, delayed or leased somewhere.
    Pending,
    /// Completed or dead-lettered.
    Settled,
    /// Removed by `cancel_job`.
    Cancelled,
}

/// Task ids and cancelled jobs seen by this process, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct Ledger {
    capacity: usize,
    tasks: HashMap<TaskId, (JobId, TaskState)>,
    task_order: VecDeque<TaskId>,
    cancelled_jobs: HashSet<JobId>,
    job_order: VecDeque<JobId>,
}

impl Ledger {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            tasks: HashMap::new(),
            task_order: VecDeque::new(),
            cancelled_jobs: HashSet::new(),
            job_order: VecDeque::new(),
        }
    }

    /// Whether `task` is known in any state.
    pub(crate) fn knows(&self, task: &TaskId) -> bool {
        self.tasks.contains_key(task)
    }

    /// Whether a claimed copy of `item` must be skipped: it was settled or cancelled.
    pub(crate) fn is_finished(&self, item: &QueueItem) -> bool {
        self.cancelled_jobs.contains(&item.job_id)
            || matches!(
                self.tasks.get(&item.task_id),
                Some((_, TaskState::Settled | TaskState::Cancelled))
            )
    }

    /// Records `task` as pending unless it is already known.
    pub(crate) fn note_pending(&mut self, task: TaskId, job: JobId) {
        if !self.tasks.contains_key(&task) {
            self.insert(task, job, TaskState::Pending);
        }
    }

    /// Records `task` as settled (completed or dead), whatever it was.
    pub(crate) fn settle(&mut self, task: TaskId, job: JobId) {
        match self.tasks.get_mut(&task) {
            Some((_, state)) => *state = TaskState::Settled,
            None => self.insert(task, job, TaskState::Settled),
        }
    }

    /// Marks `job` cancelled; returns its tasks that were pending here.
    pub(crate) fn cancel_job(&mut self, job: JobId) -> Vec<TaskId> {
        if self.cancelled_jobs.insert(job) {
            self.job_order.push_back(job);
            while self.job_order.len() > self.capacity {
                if let Some(oldest) = self.job_order.pop_front() {
                    self.cancelled_jobs.remove(&oldest);
                }
            }
        }
        let mut cancelled = Vec::new();
        for (task, (task_job, state)) in &mut self.tasks {
            if *task_job == job && *state == TaskState::Pending {
                *state = TaskState::Cancelled;
                cancelled.push(*task);
            }
        }
        cancelled
    }

    fn insert(&mut self, task: TaskId, job: JobId, state: TaskState) {
        self.tasks.insert(task, (job, state));
        self.task_order.push_back(task);
        while self.task_order.len() > self.capacity {
            if let Some(oldest) = self.task_order.pop_front() {
                self.tasks.remove(&oldest);
            }
        }
    }
}

/// A delivery this process holds: the broker message stays unacknowledged until the lease ends.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub(crate) item: QueueItem,
    /// Which delivery this is, from 1.
    pub(crate) attempt: u32,
    /// What the next delivery's `previous_error` is when this one is released.
    pub(crate) previous_error: Option<String>,
    pub(crate) expires_at: Timestamp,
    /// Acknowledges the message on the channel that received it.
    pub(crate) acker: Acker,
    /// The session whose channel holds the message.
    pub(crate) generation: u64,
}

/// Live leases by lease token. A token that is not here is stale.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    by_token: HashMap<Uuid, Lease>,
}

impl Leases {
    pub(crate) fn insert(&mut self, token: Uuid, lease: Lease) {
        self.by_token.insert(token, lease);
    }

    /// Ends the lease `token`, handing it to the caller, who now owns its message.
    pub(crate) fn take(&mut self, token: &Uuid) -> Option<Lease> {
        self.by_token.remove(token)
    }

    pub(crate) fn get_mut(&mut self, token: &Uuid) -> Option<&mut Lease> {
        self.by_token.get_mut(token)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether some lease holds `task`.
    pub(crate) fn holds(&self, task: &TaskId) -> bool {
        self.by_token
            .values()
            .any(|lease| lease.item.task_id == *task)
    }

    /// Ends every lease that expired before `at`.
    pub(crate) fn take_expired(&mut self, at: Timestamp) -> Vec<Lease> {
        self.take_where(|lease| lease.expires_at < at)
    }

    /// Ends every lease of `job`.
    pub(crate) fn take_job(&mut self, job: JobId) -> Vec<Lease> {
        self.take_where(|lease| lease.item.job_id == job)
    }

    /// Forgets every lease (the connection that held them is gone).
    pub(crate) fn clear(&mut self) -> usize {
        let count = self.by_token.len();
        self.by_token.clear();
        count
    }

    fn take_where(&mut self, mut select: impl FnMut(&Lease) -> bool) -> Vec<Lease> {
        let tokens: Vec<Uuid> = self
            .by_token
            .iter()
            .filter(|(_, lease)| select(lease))
            .map(|(token, _)| *token)
            .collect();
        tokens
            .iter()
            .filter_map(|token| self.by_token.remove(token))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_forgets_the_oldest_beyond_capacity() {
        let mut ledger = Ledger::new(2);
        let job = JobId::new_random();
        let tasks: Vec<TaskId> = (0..3).map(|index| TaskId::for_job(job, index)).collect();
        for task in &tasks {
            ledger.note_pending(*task, job);
        }
        assert!(!ledger.knows(&tasks[0]));
        assert!(ledger.knows(&tasks[1]) && ledger.knows(&tasks[2]));
    }

    #[test]
    fn cancelling_counts_pending_tasks_once() {
        let mut ledger = Ledger::new(10);
        let job = JobId::new_random();
        let (done, pending) = (TaskId::for_job(job, 0), TaskId::for_job(job, 1));
        ledger.note_pending(done, job);
        ledger.note_pending(pending, job);
        ledger.settle(done, job);
        assert_eq!(ledger.cancel_job(job), vec![pending]);
        assert!(ledger.cancel_job(job).is_empty());
        assert!(ledger.knows(&pending));
    }
}
