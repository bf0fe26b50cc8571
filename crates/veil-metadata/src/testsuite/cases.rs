//! The contract cases, one public async function each; see the `MetadataStore` docs.

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use veil_domain::{
    now, Job, JobFilter, JobId, JobState, Progress, Task, TaskId, TaskSpec, TaskState, TaskUpdate,
    Timestamp,
};

use crate::{MetadataError, MetadataStore};

/// A pending job of `kind` created at `created_at`, with `task_count` planned tasks.
fn sample_job(kind: &str, created_at: Timestamp, task_count: u32) -> (Job, Vec<Task>) {
    let id = JobId::new_random();
    let job = Job {
        id,
        kind: kind.to_string(),
        params: json!({"seconds": 1.5, "names": ["a", "b"], "nested": {"flag": true, "none": null}}),
        owner: "alice".to_string(),
        state: JobState::Pending,
        created_at,
        started_at: None,
        finished_at: None,
        error: None,
        task_count,
    };
    let tasks = (0..task_count)
        .map(|index| {
            let spec = TaskSpec {
                kind: format!("{kind}-task"),
                params: json!({"index": index}),
            };
            Task::planned(id, index, spec)
        })
        .collect();
    (job, tasks)
}

/// Creates a sample job and returns it with its tasks.
async fn create_sample(store: &dyn MetadataStore, task_count: u32) -> (Job, Vec<Task>) {
    let (job, tasks) = sample_job("sleep", now(), task_count);
    store.create_job(&job, &tasks).await.expect("create job");
    (job, tasks)
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, MetadataError>, expected: &str) {
    match result {
        Err(MetadataError::NotFound { what, .. }) => assert_eq!(what, expected),
        other => panic!("expected {expected} not found, got {other:?}"),
    }
}

/// Reading or changing rows that do not exist is `NotFound`.
pub async fn missing_rows_are_not_found(store: Arc<dyn MetadataStore>) {
    assert_not_found(store.get_job(JobId::new_random()).await, "job");
    assert_not_found(store.get_task(TaskId::new_random()).await, "task");
    let progress = Progress {
        current: 1,
        total: None,
        description: None,
    };
    assert_not_found(
        store
            .set_task_progress(TaskId::new_random(), &progress)
            .await,
        "task",
    );
    assert_not_found(
        store.append_event(JobId::new_random(), now(), "x").await,
        "job",
    );
    assert!(store
        .list_tasks(JobId::new_random())
        .await
        .expect("list tasks")
        .is_empty());
    assert!(store
        .list_events(JobId::new_random())
        .await
        .expect("list events")
        .is_empty());
}

/// Every field of a job and its tasks survives a round trip, timestamps to the microsecond.
pub async fn created_job_round_trips_exactly(store: Arc<dyn MetadataStore>) {
    let created_at = now();
    let (mut job, mut tasks) = sample_job("sleep", created_at, 3);
    job.state = JobState::Running;
    job.started_at = Some(created_at + Duration::microseconds(1_234_567));
    job.finished_at = Some(created_at + Duration::microseconds(9_876_543));
    job.error = Some("went wrong: ünïcödé".to_string());
    tasks[1].state = TaskState::Succeeded;
    tasks[1].attempts = 2;
    tasks[1].progress = Progress {
        current: 7,
        total: Some(9),
        description: Some("hashing".to_string()),
    };
    tasks[1].result_key = Some("results/job/1".to_string());
    tasks[1].error = Some("first attempt failed".to_string());
    tasks[1].started_at = Some(created_at + Duration::microseconds(1));
    tasks[1].finished_at = Some(created_at + Duration::microseconds(2));
    store.create_job(&job, &tasks).await.expect("create job");

    assert_eq!(store.get_job(job.id).await.expect("get job"), job);
    assert_eq!(store.list_tasks(job.id).await.expect("list tasks"), tasks);
    for task in &tasks {
        assert_eq!(&store.get_task(task.id).await.expect("get task"), task);
    }
}

/// A job whose tasks cannot all be stored is not stored at all.
pub async fn create_job_is_atomic(store: Arc<dyn MetadataStore>) {
    let (job, mut tasks) = sample_job("sleep", now(), 3);
    tasks[2].id = tasks[0].id;
    assert!(
        store.create_job(&job, &tasks).await.is_err(),
        "duplicate task id must fail"
    );
    assert_not_found(store.get_job(job.id).await, "job");
    assert!(store
        .list_tasks(job.id)
        .await
        .expect("list tasks")
        .is_empty());
    assert!(store
        .list_jobs(&JobFilter::default())
        .await
        .expect("list jobs")
        .is_empty());

    let (again, _) = create_sample(&*store, 1).await;
    let (mut duplicate, _) = sample_job("sleep", now(), 0);
    duplicate.id = again.id;
    assert!(
        store.create_job(&duplicate, &[]).await.is_err(),
        "duplicate job id must fail"
    );
}

/// Jobs are listed newest first and filtered by state and kind, up to the limit.
pub async fn list_jobs_is_newest_first_and_filtered(store: Arc<dyn MetadataStore>) {
    let start = now();
    let mut jobs = Vec::new();
    for n in 0..6 {
        let kind = if n % 2 == 0 { "even" } else { "odd" };
        let (mut job, _) = sample_job(kind, start + Duration::milliseconds(n), 0);
        if n >= 4 {
            job.state = JobState::Queued;
        }
        store.create_job(&job, &[]).await.expect("create job");
        jobs.push(job);
    }
    let ids = |listed: Vec<Job>| listed.into_iter().map(|job| job.id).collect::<Vec<_>>();
    let newest_first: Vec<JobId> = jobs.iter().rev().map(|job| job.id).collect();

    let all = store
        .list_jobs(&JobFilter::default())
        .await
        .expect("list all");
    assert_eq!(all.first(), jobs.last(), "jobs are returned whole");
    assert_eq!(ids(all), newest_first);

    let limited = JobFilter {
        limit: Some(2),
        ..JobFilter::default()
    };
    assert_eq!(
        ids(store.list_jobs(&limited).await.expect("list limited")),
        newest_first[..2]
    );

    let odd = JobFilter {
        kind: Some("odd".to_string()),
        ..JobFilter::default()
    };
    let expected: Vec<JobId> = [5, 3, 1].iter().map(|&n| jobs[n].id).collect();
    assert_eq!(
        ids(store.list_jobs(&odd).await.expect("list odd")),
        expected
    );

    let queued = JobFilter {
        state: Some(JobState::Queued),
        ..JobFilter::default()
    };
    let expected = vec![jobs[5].id, jobs[4].id];
    assert_eq!(
        ids(store.list_jobs(&queued).await.expect("list queued")),
        expected
    );

    let both = JobFilter {
        owner: None,
        state: Some(JobState::Queued),
        kind: Some("even".to_string()),
        limit: Some(10),
    };
    assert_eq!(
        ids(store.list_jobs(&both).await.expect("list both")),
        vec![jobs[4].id]
    );

    let none = JobFilter {
        state: Some(JobState::Failed),
        ..JobFilter::default()
    };
    assert!(store.list_jobs(&none).await.expect("list none").is_empty());

    for (owner, expected) in [("alice", 6), ("bob", 0)] {
        let by_owner = JobFilter {
            owner: Some(owner.to_string()),
            ..JobFilter::default()
        };
        let listed = store.list_jobs(&by_owner).await.expect("list by owner");
        assert_eq!(listed.len(), expected, "owner {owner}");
    }
}

/// Without a limit, at most 100 jobs are listed.
pub async fn list_jobs_applies_default_limit(store: Arc<dyn MetadataStore>) {
    let start = now();
    for n in 0..101 {
        let (job, _) = sample_job("many", start + Duration::microseconds(n), 0);
        store.create_job(&job, &[]).await.expect("create job");
    }
    let listed = store
        .list_jobs(&JobFilter::default())
        .await
        .expect("list jobs");
    assert_eq!(listed.len(), 100);
    assert_eq!(listed[0].created_at, start + Duration::microseconds(100));
}

/// A guarded transition applies once; starting sets `started_at` only the first time.
pub async fn transition_job_is_compare_and_set(store: Arc<dyn MetadataStore>) {
    let (job, _) = create_sample(&*store, 1).await;
    let t1 = now() + Duration::seconds(1);
    let t2 = t1 + Duration::seconds(1);

    let queue = |at| store.transition_job(job.id, &[JobState::Pending], JobState::Queued, at, None);
    assert!(queue(t1).await.expect("queue job"));
    assert!(
        !queue(t1).await.expect("queue job again"),
        "second identical CAS must not apply"
    );
    let queued = store.get_job(job.id).await.expect("get job");
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!(queued.started_at, None);

    let from = [JobState::Queued, JobState::Running];
    assert!(store
        .transition_job(job.id, &from, JobState::Running, t1, None)
        .await
        .expect("run"));
    assert!(store
        .transition_job(job.id, &from, JobState::Running, t2, None)
        .await
        .expect("rerun"));
    let running = store.get_job(job.id).await.expect("get job");
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.started_at, Some(t1), "started_at is set only once");
    assert_eq!(running.finished_at, None);

    let missing = JobId::new_random();
    let applied = store
        .transition_job(missing, &from, JobState::Failed, t2, None)
        .await;
    assert!(!applied.expect("transition missing job"));
    let applied = store
        .transition_job(job.id, &[], JobState::Failed, t2, None)
        .await;
    assert!(!applied.expect("transition from no state"));
}

/// Reaching a terminal state records `finished_at` and the error; terminal jobs then stay put.
pub async fn transition_to_terminal_state_records_finish_and_error(store: Arc<dyn MetadataStore>) {
    let (job, _) = create_sample(&*store, 0).await;
    let at = now() + Duration::milliseconds(5);
    let active = [JobState::Pending, JobState::Queued, JobState::Running];
    let failed = store
        .transition_job(
            job.id,
            &active,
            JobState::Failed,
            at,
            Some("planner exploded"),
        )
        .await;
    assert!(failed.expect("fail job"));
    let stored = store.get_job(job.id).await.expect("get job");
    assert_eq!(stored.state, JobState::Failed);
    assert_eq!(stored.finished_at, Some(at));
    assert_eq!(stored.started_at, None);
    assert_eq!(stored.error.as_deref(), Some("planner exploded"));

    let later = at + Duration::seconds(1);
    let cancelled = store
        .transition_job(job.id, &active, JobState::Cancelled, later, None)
        .await;
    assert!(!cancelled.expect("cancel failed job"));
    assert_eq!(store.get_job(job.id).await.expect("get job"), stored);
}

/// A guarded task update applies once and records attempts, times, result key and error.
pub async fn update_task_is_compare_and_set(store: Arc<dyn MetadataStore>) {
    let (_, tasks) = create_sample(&*store, 2).await;
    let task = &tasks[0];
    let started = now();
    let mut start = TaskUpdate::new(&[TaskState::Queued], TaskState::Running);
    start.attempts = Some(1);
    start.started_at = Some(started);
    assert!(store
        .update_task(task.id, &start)
        .await
        .expect("start task"));
    assert!(!store
        .update_task(task.id, &start)
        .await
        .expect("start again"));

    let retry = TaskUpdate {
        error: Some("disk full".to_string()),
        ..TaskUpdate::new(&[TaskState::Running], TaskState::Queued)
    };
    assert!(store
        .update_task(task.id, &retry)
        .await
        .expect("retry task"));
    let retried = store.get_task(task.id).await.expect("get task");
    assert_eq!(retried.state, TaskState::Queued);
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.started_at, Some(started));
    assert_eq!(retried.error.as_deref(), Some("disk full"));

    let finished = started + Duration::microseconds(42);
    let succeed = TaskUpdate {
        attempts: Some(2),
        finished_at: Some(finished),
        result_key: Some("results/0".to_string()),
        ..TaskUpdate::new(
            &[TaskState::Queued, TaskState::Running],
            TaskState::Succeeded,
        )
    };
    assert!(store
        .update_task(task.id, &succeed)
        .await
        .expect("succeed task"));
    let done = store.get_task(task.id).await.expect("get task");
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.finished_at, Some(finished));
    assert_eq!(done.result_key.as_deref(), Some("results/0"));
    assert_eq!(
        done.error.as_deref(),
        Some("disk full"),
        "an absent error keeps the old one"
    );

    assert_eq!(
        store.get_task(tasks[1].id).await.expect("get other task"),
        tasks[1]
    );
    let missing = store.update_task(TaskId::new_random(), &start).await;
    assert!(!missing.expect("update missing task"));
}

/// Progress is stored as reported, without changing the state.
pub async fn task_progress_round_trips(store: Arc<dyn MetadataStore>) {
    let (_, tasks) = create_sample(&*store, 1).await;
    let progress = Progress {
        current: 10,
        total: Some(u64::from(u32::MAX) + 1),
        description: Some("x".into()),
    };
    store
        .set_task_progress(tasks[0].id, &progress)
        .await
        .expect("set progress");
    let stored = store.get_task(tasks[0].id).await.expect("get task");
    assert_eq!(stored.progress, progress);
    assert_eq!(stored.state, TaskState::Queued);
}

/// Task counts add up per state.
pub async fn count_tasks_counts_each_state(store: Arc<dyn MetadataStore>) {
    let (job, tasks) = create_sample(&*store, 5).await;
    let (_, other_tasks) = create_sample(&*store, 2).await;
    assert_eq!(store.count_tasks(job.id).await.expect("count").queued, 5);
    let moves = [
        (0, TaskState::Running),
        (1, TaskState::Succeeded),
        (2, TaskState::Succeeded),
    ];
    for (index, to) in moves {
        let update = TaskUpdate::new(&[TaskState::Queued], to);
        assert!(store
            .update_task(tasks[index].id, &update)
            .await
            .expect("update task"));
    }
    let counts = store.count_tasks(job.id).await.expect("count");
    assert_eq!((counts.queued, counts.running, counts.succeeded), (2, 1, 2));
    assert_eq!((counts.failed, counts.cancelled, counts.total()), (0, 0, 5));
    let other = store
        .count_tasks(other_tasks[0].job_id)
        .await
        .expect("count other");
    assert_eq!((other.queued, other.total()), (2, 2));
    assert_eq!(
        store
            .count_tasks(JobId::new_random())
            .await
            .expect("count none")
            .total(),
        0
    );
}

/// Cancelling a job's tasks moves only unfinished ones, and stamps them.
pub async fn cancel_tasks_cancels_only_unfinished_tasks(store: Arc<dyn MetadataStore>) {
    let (job, tasks) = create_sample(&*store, 4).await;
    let (_, bystanders) = create_sample(&*store, 1).await;
    let run = TaskUpdate::new(&[TaskState::Queued], TaskState::Running);
    assert!(store
        .update_task(tasks[1].id, &run)
        .await
        .expect("run task"));
    let finished = now();
    let succeed = TaskUpdate {
        finished_at: Some(finished),
        ..TaskUpdate::new(&[TaskState::Queued], TaskState::Succeeded)
    };
    assert!(store
        .update_task(tasks[2].id, &succeed)
        .await
        .expect("succeed task"));

    let at = finished + Duration::seconds(3);
    assert_eq!(store.cancel_tasks(job.id, at).await.expect("cancel"), 3);
    for (index, task) in store
        .list_tasks(job.id)
        .await
        .expect("list tasks")
        .iter()
        .enumerate()
    {
        if index == 2 {
            assert_eq!(
                (task.state, task.finished_at),
                (TaskState::Succeeded, Some(finished))
            );
        } else {
            assert_eq!(
                (task.state, task.finished_at),
                (TaskState::Cancelled, Some(at))
            );
        }
    }
    assert_eq!(
        store.cancel_tasks(job.id, at).await.expect("cancel again"),
        0
    );
    let bystander = store
        .get_task(bystanders[0].id)
        .await
        .expect("get bystander");
    assert_eq!(bystander.state, TaskState::Queued);
}

/// Events come back oldest first with increasing `seq`, per job.
pub async fn event_log_is_append_only_and_ordered(store: Arc<dyn MetadataStore>) {
    let (job, _) = create_sample(&*store, 0).await;
    let (other, _) = create_sample(&*store, 0).await;
    let start = now();
    let mut appended = Vec::new();
    for n in 0..4 {
        let at = start + Duration::microseconds(n);
        let event = store
            .append_event(job.id, at, &format!("event {n}"))
            .await
            .expect("append");
        assert_eq!((event.job_id, event.at), (job.id, at));
        appended.push(event);
        store
            .append_event(other.id, at, "interleaved")
            .await
            .expect("append other");
    }
    let listed = store.list_events(job.id).await.expect("list events");
    assert_eq!(listed, appended);
    assert!(
        listed.windows(2).all(|pair| pair[0].seq < pair[1].seq),
        "seq increases"
    );
    let messages: Vec<&str> = listed.iter().map(|event| event.message.as_str()).collect();
    assert_eq!(messages, ["event 0", "event 1", "event 2", "event 3"]);
    assert_eq!(
        store.list_events(other.id).await.expect("list other").len(),
        4
    );
}

/// The readiness probe answers.
pub async fn ping_answers(store: Arc<dyn MetadataStore>) {
    store.ping().await.expect("ping");
}
