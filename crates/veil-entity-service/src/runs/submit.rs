//! Turning runs into platform jobs once every party has uploaded: plan the comparison tasks, store
//! each task's units, submit the job. A run is claimed (`created` → `submitting`) before its job is
//! submitted, so concurrent callers submit it once; a process that dies mid-way leaves it
//! `submitting`, and [`recover`] returns it to `created` at the next start.

use std::collections::BTreeMap;

use bytes::Bytes;
use veil_domain::NewJob;

use super::job::{PartyInput, RunJobParams, RUN_JOB_KIND};
use super::plan::{self, Plan};
use crate::run_store::{run_state, RunRecord};
use crate::store::party_state;
use crate::{EntityError, EntityResult, EntityState, ProjectRecord, UploadRecord};

/// Where a run's blobs (plan, outputs) live.
pub fn run_prefix(project_id: &str, run_id: &str) -> String {
    format!("{}/runs/{run_id}", crate::projects::blob_prefix(project_id))
}

/// Submits the project's `created` runs if every party has uploaded. Failures are logged and leave
/// the run `created` (retried on the next upload, status poll or start), except invalid uploads,
/// which put the run in error.
pub async fn submit_ready_runs(state: &EntityState, project_id: &str) -> EntityResult<()> {
    let Some((project, parties)) = state.store.get_project(project_id).await? else {
        return Ok(());
    };
    if parties.iter().any(|party| party.state != party_state::DONE) {
        return Ok(());
    }
    let waiting: Vec<RunRecord> = state
        .runs
        .list_runs(project_id)
        .await?
        .into_iter()
        .filter(|run| run.state == run_state::CREATED)
        .collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let uploads = state.runs.uploads(project_id).await?;
    let planned = match plan_project(state, &project, &uploads).await {
        Ok(planned) => planned,
        Err(Invalid(message)) => {
            for run in &waiting {
                if state.runs.claim_run(&run.run_id).await? {
                    state.runs.fail_run(&run.run_id, &message).await?;
                }
            }
            return Ok(());
        }
    };
    let (plan, inputs) = planned;
    for run in waiting {
        if !state.runs.claim_run(&run.run_id).await? {
            continue;
        }
        if let Err(err) = submit_run(state, &project, &run, &plan, &inputs).await {
            tracing::error!(error = %err, run = %run.run_id, "cannot submit a linkage run; will retry");
            state.runs.release_run(&run.run_id).await?;
            return Err(err);
        }
    }
    Ok(())
}

/// Submits the runs left unsubmitted by a previous process (call once at startup).
pub async fn recover(state: &EntityState) -> EntityResult<usize> {
    let projects = state.runs.projects_with_unsubmitted_runs().await?;
    for project_id in &projects {
        if let Err(err) = submit_ready_runs(state, project_id).await {
            tracing::warn!(error = %err, project = %project_id, "cannot submit recovered runs");
        }
    }
    Ok(projects.len())
}

/// A problem with the uploads themselves: the run fails with this message.
struct Invalid(String);

impl From<EntityError> for Invalid {
    fn from(err: EntityError) -> Self {
        Invalid(err.to_string())
    }
}

async fn plan_project(
    state: &EntityState,
    project: &ProjectRecord,
    uploads: &[UploadRecord],
) -> Result<(Plan, Vec<PartyInput>), Invalid> {
    if uploads.len() as i64 != project.number_parties {
        return Err(Invalid(format!(
            "{} of {} parties have stored uploads",
            uploads.len(),
            project.number_parties
        )));
    }
    let inputs = uploads
        .iter()
        .map(|upload| {
            Ok(PartyInput {
                encodings_key: upload.encodings_key.clone(),
                count: u32::try_from(upload.encoding_count)
                    .map_err(|_| Invalid("too many encodings in one upload".into()))?,
                size: u32::try_from(upload.encoding_size)
                    .map_err(|_| Invalid("encodings too large".into()))?,
            })
        })
        .collect::<Result<Vec<_>, Invalid>>()?;
    if let Some(other) = inputs.iter().find(|input| input.size != inputs[0].size) {
        return Err(Invalid(format!(
            "the parties uploaded encodings of different sizes ({} and {} bytes)",
            inputs[0].size, other.size
        )));
    }
    let chunk = state.settings.chunk_comparisons;
    if !project.uses_blocking {
        let counts: Vec<u32> = inputs.iter().map(|input| input.count).collect();
        return Ok((plan::all_pairs(&counts, chunk), inputs));
    }
    let mut parties = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let key = upload
            .blocks_key
            .as_deref()
            .ok_or_else(|| Invalid(format!("party {} uploaded no blocks", upload.party_index)))?;
        let bytes = state.blobs.get(key).await.map_err(EntityError::from)?;
        let parsed = tokio::task::spawn_blocking(move || {
            let map: BTreeMap<String, Vec<String>> = serde_json::from_slice(&bytes)
                .map_err(|err| format!("stored blocks are unreadable: {err}"))?;
            plan::invert_blocks(&map)
        })
        .await
        .map_err(|err| Invalid(format!("planning thread failed: {err}")))?
        .map_err(Invalid)?;
        parties.push(parsed);
    }
    let plan = tokio::task::spawn_blocking(move || plan::blocked(&parties, chunk))
        .await
        .map_err(|err| Invalid(format!("planning thread failed: {err}")))?;
    Ok((plan, inputs))
}

async fn submit_run(
    state: &EntityState,
    project: &ProjectRecord,
    run: &RunRecord,
    plan: &Plan,
    inputs: &[PartyInput],
) -> EntityResult<()> {
    let prefix = run_prefix(&project.project_id, &run.run_id);
    let mut task_comparisons = plan.task_comparisons();
    let params = RunJobParams {
        project_id: project.project_id.clone(),
        run_id: run.run_id.clone(),
        result_type: project.result_type.clone(),
        threshold: run.threshold,
        parties: inputs.to_vec(),
        plan_prefix: format!("{prefix}/plan"),
        task_comparisons: Vec::new(),
        max_candidates: state.settings.max_candidates,
        output_prefix: format!("{prefix}/output"),
    };
    // A run whose parties share no block still gets one (empty) task, so it completes normally.
    let no_units = Vec::new();
    let tasks: Vec<&Vec<_>> = if plan.tasks.is_empty() {
        task_comparisons = vec![0];
        vec![&no_units]
    } else {
        plan.tasks.iter().collect()
    };
    for (index, units) in tasks.into_iter().enumerate() {
        let json = serde_json::to_vec(units)
            .map_err(|err| EntityError::Corrupt(format!("cannot serialise a plan: {err}")))?;
        state
            .blobs
            .put(&params.units_key(index as u32), Bytes::from(json))
            .await?;
    }
    let total: u64 = task_comparisons.iter().sum();
    let params = RunJobParams {
        task_comparisons,
        ..params
    };
    let value = serde_json::to_value(&params)
        .map_err(|err| EntityError::Corrupt(format!("cannot serialise run parameters: {err}")))?;
    let job = state
        .jobs
        .submit(NewJob {
            kind: RUN_JOB_KIND.to_string(),
            params: value,
            owner: Some(format!("entity-service project {}", project.project_id)),
        })
        .await?;
    state
        .runs
        .set_run_job(
            &run.run_id,
            &job.id.to_string(),
            i64::try_from(total).unwrap_or(i64::MAX),
        )
        .await?;
    tracing::info!(run = %run.run_id, job = %job.id, tasks = job.task_count, comparisons = total,
        "linkage run submitted");
    Ok(())
}
