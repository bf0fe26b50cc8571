//! Job use cases: submit, list, describe, cancel, and recovery of jobs left half-queued by a crash.

use veil_domain::{
    now, Job, JobDescription, JobFilter, JobId, JobState, NewJob, QueueItem, Task, TaskState,
};

use crate::{Platform, Result, ServiceError};

/// Most jobs one listing returns.
const MAX_LIST_LIMIT: u32 = 1000;

/// The job use cases, over a [`Platform`].
#[derive(Clone)]
pub struct JobService {
    platform: Platform,
}

impl JobService {
    /// Use cases over these backends and job kinds.
    pub fn new(platform: Platform) -> Self {
        Self { platform }
    }

    /// The platform this service works on.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Accepts a job: plans its tasks, stores it, queues the tasks. Invalid kinds or parameters are
    /// refused before anything is stored.
    pub async fn submit(&self, request: NewJob) -> Result<Job> {
        let kind = self.platform.registry.get(&request.kind).ok_or_else(|| {
            ServiceError::InvalidRequest(format!(
                "unknown job kind `{}` (known kinds: {})",
                request.kind,
                self.platform.registry.names().join(", ")
            ))
        })?;
        let specs = kind
            .plan(&request.params)
            .map_err(ServiceError::InvalidRequest)?;
        let task_count = u32::try_from(specs.len())
            .map_err(|_| ServiceError::InvalidRequest("the job plans too many tasks".into()))?;
        let job = Job {
            id: JobId::new_random(),
            kind: request.kind,
            params: request.params,
            owner: request.owner.unwrap_or_else(|| "anonymous".to_string()),
            state: JobState::Pending,
            created_at: now(),
            started_at: None,
            finished_at: None,
            error: None,
            task_count,
        };
        let tasks: Vec<Task> = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| Task::planned(job.id, index as u32, spec))
            .collect();
        self.platform.store.create_job(&job, &tasks).await?;
        self.append_event(
            job.id,
            &format!("created by {} with {} tasks", job.owner, task_count),
        )
        .await?;
        self.queue_tasks(&job, &tasks).await?;
        // Report the job as submitted; a fast worker may already have moved it on.
        Ok(Job {
            state: JobState::Queued,
            ..job
        })
    }

    /// Marks the job queued, then queues its unfinished tasks. The job is marked first so that a worker
    /// claiming a task at once finds it `queued`; a crash between the two steps is repaired by
    /// [`JobService::recover_unqueued`], as enqueueing is idempotent.
    async fn queue_tasks(&self, job: &Job, tasks: &[Task]) -> Result<()> {
        let items: Vec<QueueItem> = tasks
            .iter()
            .filter(|task| task.state == TaskState::Queued)
            .map(|task| QueueItem {
                task_id: task.id,
                job_id: job.id,
                index: task.index,
                kind: task.kind.clone(),
                params: task.params.clone(),
                max_attempts: self.platform.max_attempts,
            })
            .collect();
        let newly_queued = self
            .platform
            .store
            .transition_job(job.id, &[JobState::Pending], JobState::Queued, now(), None)
            .await?;
        for chunk in items.chunks(500) {
            self.platform.queue.enqueue(chunk).await?;
        }
        if newly_queued {
            self.append_event(job.id, &format!("queued {} tasks", items.len()))
                .await?;
        }
        Ok(())
    }

    /// Re-queues the tasks of jobs that were stored but whose tasks may not have reached the queue when a
    /// process died (jobs still `pending` or `queued`). Enqueueing is idempotent, so this is safe to run
    /// on every start. Returns how many jobs were looked at.
    pub async fn recover_unqueued(&self) -> Result<usize> {
        let mut unfinished = Vec::new();
        for state in [JobState::Pending, JobState::Queued] {
            let filter = JobFilter {
                owner: None,
                state: Some(state),
                kind: None,
                limit: Some(MAX_LIST_LIMIT),
            };
            unfinished.extend(self.platform.store.list_jobs(&filter).await?);
        }
        for job in &unfinished {
            let tasks = self.platform.store.list_tasks(job.id).await?;
            self.queue_tasks(job, &tasks).await?;
        }
        Ok(unfinished.len())
    }

    /// The job with this id.
    pub async fn get(&self, id: JobId) -> Result<Job> {
        Ok(self.platform.store.get_job(id).await?)
    }

    /// Jobs matching the filter, newest first.
    pub async fn list(&self, mut filter: JobFilter) -> Result<Vec<Job>> {
        filter.limit = Some(filter.limit.unwrap_or(100).min(MAX_LIST_LIMIT));
        Ok(self.platform.store.list_jobs(&filter).await?)
    }

    /// The job with its tasks and event log.
    pub async fn describe(&self, id: JobId) -> Result<JobDescription> {
        let job = self.platform.store.get_job(id).await?;
        let tasks = self.platform.store.list_tasks(id).await?;
        let events = self.platform.store.list_events(id).await?;
        Ok(JobDescription { job, tasks, events })
    }

    /// The job's committed result, once it has succeeded.
    pub async fn result(&self, id: JobId) -> Result<bytes::Bytes> {
        let job = self.platform.store.get_job(id).await?;
        if job.state != JobState::Succeeded {
            return Err(ServiceError::Conflict(format!(
                "job {id} is {}, not succeeded: no result yet",
                job.state
            )));
        }
        match self.platform.blobs.get(&crate::job_result_key(id)).await {
            Err(veil_blob::BlobError::NotFound { .. }) => Err(ServiceError::NotFound {
                what: "result of job",
                id: id.to_string(),
            }),
            other => Ok(other?),
        }
    }

    /// Cancels a job that has not finished: queued tasks are removed and running ones are told to stop.
    pub async fn cancel(&self, id: JobId, by: &str) -> Result<Job> {
        let active = [JobState::Pending, JobState::Queued, JobState::Running];
        let at = now();
        if !self
            .platform
            .store
            .transition_job(id, &active, JobState::Cancelled, at, None)
            .await?
        {
            let current = self.platform.store.get_job(id).await?.state;
            return Err(ServiceError::Conflict(format!(
                "job {id} is already {current}"
            )));
        }
        let dequeued = self.platform.queue.cancel_job(id).await?;
        let cancelled = self.platform.store.cancel_tasks(id, at).await?;
        self.append_event(
            id,
            &format!("cancelled by {by}: {cancelled} unfinished tasks cancelled, {dequeued} removed from the queue"),
        )
        .await?;
        Ok(self.platform.store.get_job(id).await?)
    }

    async fn append_event(&self, id: JobId, message: &str) -> Result<()> {
        self.platform.store.append_event(id, now(), message).await?;
        Ok(())
    }
}
