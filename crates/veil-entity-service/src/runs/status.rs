//! A run's state, stage and progress as the Entity Service reports them, derived from the run's row
//! and its platform job. Stages: 1 "waiting for CLKs", 2 "compute similarity scores", and for
//! `groups` and `permutations` 3 "compute output". Reported progress never goes backwards: the
//! highest `(stage, progress)` seen is kept in the run's row.

use std::str::FromStr;

use serde_json::{json, Map, Value};
use veil_domain::{JobId, JobState, TaskState, Timestamp};

use crate::run_store::{run_state, RunRecord};
use crate::store::party_state;
use crate::{EntityError, EntityResult, EntityState, PartyRecord, ProjectRecord};

/// The Entity Service's run states.
pub mod es_state {
    /// Waiting for uploads.
    pub const CREATED: &str = "created";
    /// Submitted, not started.
    pub const QUEUED: &str = "queued";
    /// Computing.
    pub const RUNNING: &str = "running";
    /// Finished; the result is available.
    pub const COMPLETED: &str = "completed";
    /// Failed; `message` says why.
    pub const ERROR: &str = "error";
}

/// A run's derived status.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    /// One of [`es_state`].
    pub state: &'static str,
    /// The job computing the run, once submitted.
    pub job_state: Option<JobState>,
    /// Why the run failed.
    pub message: Option<String>,
    /// The status document.
    pub document: Value,
}

fn stages(project: &ProjectRecord) -> i64 {
    if project.result_type == "similarity_scores" {
        2
    } else {
        3
    }
}

fn time(at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |at| Value::String(at.to_rfc3339()))
}

fn stage_description(stage: i64) -> &'static str {
    match stage {
        1 => "waiting for CLKs",
        2 => "compute similarity scores",
        _ => "compute output",
    }
}

/// Derives the run's status (reading its job when it has one).
pub async fn run_status(
    state: &EntityState,
    project: &ProjectRecord,
    parties: &[PartyRecord],
    run: &RunRecord,
) -> EntityResult<RunStatus> {
    let stages = stages(project);
    let mut doc = Map::new();
    doc.insert("time_added".into(), time(Some(run.time_added)));
    doc.insert("stages".into(), json!(stages));
    let Some(job_id) = &run.job_id else {
        let contributed = parties
            .iter()
            .filter(|party| party.state == party_state::DONE)
            .count() as i64;
        let failed = run.state == run_state::ERROR;
        let es = match run.state.as_str() {
            run_state::ERROR => es_state::ERROR,
            run_state::SUBMITTING => es_state::QUEUED,
            _ => es_state::CREATED,
        };
        doc.insert("state".into(), json!(es));
        doc.insert(
            "current_stage".into(),
            json!({
                "number": 1,
                "description": stage_description(1),
                "progress": {
                    "absolute": contributed,
                    "relative": contributed as f64 / project.number_parties.max(1) as f64,
                    "description": "number of parties already contributed",
                },
            }),
        );
        if failed {
            doc.insert(
                "message".into(),
                json!(run.message.clone().unwrap_or_default()),
            );
        }
        return Ok(RunStatus {
            state: es,
            job_state: None,
            message: run.message.clone(),
            document: Value::Object(doc),
        });
    };
    let id = JobId::from_str(job_id)
        .map_err(|_| EntityError::Corrupt(format!("run {} has job id {job_id}", run.run_id)))?;
    let description = state.jobs.describe(id).await?;
    let job = &description.job;
    let total = run.total_comparisons.max(0);
    let counted: i64 = description
        .tasks
        .iter()
        .map(|task| {
            let planned = task
                .params
                .get("comparisons")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            match task.state {
                TaskState::Succeeded => planned,
                TaskState::Running => (task.progress.current as i64).min(planned),
                _ => 0,
            }
        })
        .sum();
    let all_compared = description
        .tasks
        .iter()
        .all(|task| task.state == TaskState::Succeeded);
    let (es, message) = match job.state {
        JobState::Pending | JobState::Queued => (es_state::QUEUED, None),
        JobState::Running => (es_state::RUNNING, None),
        JobState::Succeeded => (es_state::COMPLETED, None),
        JobState::Failed => (
            es_state::ERROR,
            Some(job.error.clone().unwrap_or_else(|| "the run failed".into())),
        ),
        JobState::Cancelled => (es_state::ERROR, Some("the run was cancelled".to_string())),
    };
    let (stage, progress) = match job.state {
        JobState::Succeeded => (stages, total),
        _ if all_compared && stages == 3 => (3, 0),
        _ => (2, counted),
    };
    let (stage, progress) = state
        .runs
        .raise_progress(&run.run_id, stage, progress)
        .await?;
    let (absolute, relative, unit) = if stage == 2 {
        let relative = if total > 0 {
            progress as f64 / total as f64
        } else {
            1.0
        };
        (
            progress,
            relative.min(1.0),
            "number of already computed similarity scores",
        )
    } else {
        let done = i64::from(job.state == JobState::Succeeded);
        (done, done as f64, "output written")
    };
    doc.insert("state".into(), json!(es));
    doc.insert(
        "current_stage".into(),
        json!({
            "number": stage,
            "description": stage_description(stage),
            "progress": {"absolute": absolute, "relative": relative, "description": unit},
        }),
    );
    doc.insert("total_number_comparisons".into(), json!(total));
    if job.started_at.is_some() {
        doc.insert("time_started".into(), time(job.started_at));
    }
    if es == es_state::COMPLETED {
        doc.insert("time_completed".into(), time(job.finished_at));
    }
    if let Some(message) = &message {
        doc.insert("message".into(), json!(message));
    }
    Ok(RunStatus {
        state: es,
        job_state: Some(job.state),
        message,
        document: Value::Object(doc),
    })
}
