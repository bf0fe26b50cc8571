//! Run handlers (`/projects/{id}/runs…`), authorised by the project's result token (and, for a
//! permutations result, a party's receipt token).

use std::str::FromStr;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::IntoParams;
use veil_domain::{JobId, JobState};

use super::output::group_scores_key;
use super::status::{es_state, run_status};
use super::submit::{run_prefix, submit_ready_runs};
use crate::projects::{load, token};
use crate::run_store::{run_state, RunRecord};
use crate::{tokens, EntityError, EntityResult, EntityState, PartyRecord, ProjectRecord};

fn bad(detail: impl Into<String>) -> EntityError {
    EntityError::bad_request(detail)
}

/// Loads the project and checks that the request carries its result token.
async fn authorised(
    state: &EntityState,
    project_id: &str,
    headers: &HeaderMap,
) -> EntityResult<(ProjectRecord, Vec<PartyRecord>)> {
    let (project, parties) = load(state, project_id).await?;
    if !tokens::matches(token(headers)?, &project.result_token) {
        return Err(EntityError::invalid_access());
    }
    Ok((project, parties))
}

/// Loads the project and checks that the request carries its result token or, for a permutations
/// project, a party's receipt token (that party's index is returned), as the original allows for a
/// run's status and result.
async fn result_reader(
    state: &EntityState,
    project_id: &str,
    headers: &HeaderMap,
) -> EntityResult<(ProjectRecord, Vec<PartyRecord>, Option<i64>)> {
    let (project, parties) = load(state, project_id).await?;
    let presented = token(headers)?;
    if tokens::matches(presented, &project.result_token) {
        return Ok((project, parties, None));
    }
    if project.result_type != "permutations" {
        return Err(EntityError::invalid_access());
    }
    let uploads = state.runs.uploads(project_id).await?;
    let party = tokens::position(presented, uploads.iter().map(|u| u.receipt_token.as_str()))
        .and_then(|index| uploads.get(index))
        .map(|upload| upload.party_index)
        .ok_or_else(EntityError::invalid_access)?;
    Ok((project, parties, Some(party)))
}

async fn load_run(state: &EntityState, project_id: &str, run_id: &str) -> EntityResult<RunRecord> {
    state
        .runs
        .get_run(project_id, run_id)
        .await?
        .ok_or_else(EntityError::invalid_access)
}

/// Validates a `NewRun` body.
fn new_run(project_id: &str, body: &[u8]) -> EntityResult<RunRecord> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| bad(format!("request body is not valid JSON: {err}")))?;
    let Value::Object(body) = value else {
        return Err(bad("request body must be a JSON object"));
    };
    let threshold = match body.get("threshold") {
        None | Some(Value::Null) => return Err(bad("missing required field 'threshold'")),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(other) => return Err(bad(format!("'threshold' must be a number, not {other}"))),
    };
    if !(threshold > 0.0 && threshold <= 1.0) {
        return Err(bad(format!(
            "'threshold' must be greater than 0 and at most 1, not {threshold}"
        )));
    }
    let text = |field: &str| match body.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(bad(format!("'{field}' must be a string"))),
    };
    Ok(RunRecord {
        run_id: tokens::generate(),
        project_id: project_id.to_string(),
        name: text("name")?,
        notes: text("notes")?,
        threshold,
        state: run_state::CREATED.to_string(),
        job_id: None,
        message: None,
        total_comparisons: 0,
        stage_seen: 1,
        progress_seen: 0,
        time_added: veil_domain::now(),
    })
}

fn description(run: &RunRecord) -> Value {
    json!({"run_id": run.run_id, "name": run.name, "notes": run.notes, "threshold": run.threshold})
}

/// `POST /projects/{id}/runs`: 201 with the run's description; queued at once if every party has
/// uploaded.
#[utoipa::path(
    post,
    path = "/projects/{project_id}/runs",
    operation_id = "create_run",
    tag = "Run",
    summary = "Create a run",
    description = "The run is queued at once if every party has uploaded, else when the last one does.",
    params(crate::openapi::ProjectPath, crate::openapi::ResultToken),
    request_body(content = crate::openapi::NewRun, content_type = "application/json"),
    responses(
        (status = 201, description = "The run was created.", body = crate::openapi::RunDescription,
            headers(("Location" = String, description = "The run's URL."))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn create(
    State(state): State<EntityState>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> EntityResult<Response> {
    authorised(&state, &project_id, &headers).await?;
    let run = new_run(&project_id, &body)?;
    state.runs.create_run(&run).await?;
    tracing::info!(project = %project_id, run = %run.run_id, threshold = run.threshold, "linkage run created");
    if let Err(err) = submit_ready_runs(&state, &project_id).await {
        tracing::warn!(error = %err, run = %run.run_id, "run not submitted yet; retried on the next status request");
    }
    let location = format!("/api/v1/projects/{project_id}/runs/{}", run.run_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(description(&run)),
    )
        .into_response())
}

/// `GET /projects/{id}/runs`: every run's id, creation time and state.
#[utoipa::path(
    get,
    path = "/projects/{project_id}/runs",
    operation_id = "list_runs",
    tag = "Run",
    summary = "List a project's runs",
    params(crate::openapi::ProjectPath, crate::openapi::ResultToken),
    responses(
        (status = 200, description = "The project's runs.", body = crate::openapi::RunList),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 500, response = crate::openapi::InternalError),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<EntityState>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
) -> EntityResult<Json<Value>> {
    let (project, parties) = authorised(&state, &project_id, &headers).await?;
    let mut list = Vec::new();
    for run in state.runs.list_runs(&project_id).await? {
        let status = run_status(&state, &project, &parties, &run).await?;
        list.push(json!({
            "run_id": run.run_id,
            "time_added": run.time_added.to_rfc3339(),
            "state": status.state,
        }));
    }
    Ok(Json(Value::Array(list)))
}

/// `GET /projects/{id}/runs/{run_id}`: the parameters the run was created with.
#[utoipa::path(
    get,
    path = "/projects/{project_id}/runs/{run_id}",
    operation_id = "describe_run",
    tag = "Run",
    summary = "Describe a run",
    params(crate::openapi::RunPath, crate::openapi::ResultToken),
    responses(
        (status = 200, description = "The run's parameters.", body = crate::openapi::RunDescription),
        (status = 403, response = crate::openapi::Forbidden),
                (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn describe(
    State(state): State<EntityState>,
    Path((project_id, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> EntityResult<Json<Value>> {
    authorised(&state, &project_id, &headers).await?;
    Ok(Json(description(
        &load_run(&state, &project_id, &run_id).await?,
    )))
}

/// `GET /projects/{id}/runs/{run_id}/status`.
#[utoipa::path(
    get,
    path = "/projects/{project_id}/runs/{run_id}/status",
    operation_id = "run_status",
    tag = "Run",
    summary = "A run's status",
    params(crate::openapi::RunPath, crate::openapi::ResultToken),
    responses(
        (status = 200, description = "The run's state, stage and progress.", body = crate::openapi::RunStatus),
        (status = 403, response = crate::openapi::Forbidden),
                (status = 500, response = crate::openapi::InternalError),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn status(
    State(state): State<EntityState>,
    Path((project_id, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> EntityResult<Json<Value>> {
    let (project, parties, _) = result_reader(&state, &project_id, &headers).await?;
    let mut run = load_run(&state, &project_id, &run_id).await?;
    if run.state == run_state::CREATED {
        // Self-healing: a submission that failed earlier is retried when someone looks.
        if submit_ready_runs(&state, &project_id).await.is_ok() {
            run = load_run(&state, &project_id, &run_id).await?;
        }
    }
    Ok(Json(
        run_status(&state, &project, &parties, &run).await?.document,
    ))
}

/// `DELETE /projects/{id}/runs/{run_id}`: cancels the run's job and removes its data.
#[utoipa::path(
    delete,
    path = "/projects/{project_id}/runs/{run_id}",
    operation_id = "delete_run",
    tag = "Run",
    summary = "Delete a run",
    params(crate::openapi::RunPath, crate::openapi::ResultToken),
    responses(
        (status = 204, description = "The run was cancelled and its data removed."),
        (status = 403, response = crate::openapi::Forbidden),
                (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn delete(
    State(state): State<EntityState>,
    Path((project_id, run_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> EntityResult<StatusCode> {
    authorised(&state, &project_id, &headers).await?;
    let run = state
        .runs
        .delete_run(&project_id, &run_id)
        .await?
        .ok_or_else(EntityError::invalid_access)?;
    purge_run(&state, &run).await;
    tracing::info!(project = %project_id, run = %run_id, "linkage run deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels a deleted run's job if it is still active and deletes the run's blobs and task results.
pub async fn purge_run(state: &EntityState, run: &RunRecord) {
    let mut prefixes = vec![run_prefix(&run.project_id, &run.run_id)];
    if let Some(id) = run
        .job_id
        .as_deref()
        .and_then(|id| JobId::from_str(id).ok())
    {
        if let Ok(job) = state.jobs.get(id).await {
            if matches!(
                job.state,
                JobState::Pending | JobState::Queued | JobState::Running
            ) {
                if let Err(err) = state.jobs.cancel(id, "run deletion").await {
                    tracing::warn!(error = %err, job = %id, "cannot cancel a deleted run's job");
                }
            }
        }
        prefixes.push(format!("jobs/{id}"));
    }
    for prefix in prefixes {
        match state.blobs.list(&prefix).await {
            Ok(keys) => {
                for key in keys {
                    if let Err(err) = state.blobs.delete(&key).await {
                        tracing::warn!(error = %err, key, "cannot delete a deleted run's blob");
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, prefix, "cannot list a deleted run's blobs"),
        }
    }
}

/// `?include_scores=true` on a groups result.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    /// A Veil extension for `groups` results: `true` adds `group_scores`, each group's candidate
    /// pairs with their similarity scores. Ignored for other result types.
    include_scores: Option<bool>,
}

/// `GET /projects/{id}/runs/{run_id}/result`: 404 until the run has completed.
#[utoipa::path(
    get,
    path = "/projects/{project_id}/runs/{run_id}/result",
    operation_id = "run_result",
    tag = "Run",
    summary = "A completed run's result",
    description = "404 until the run has completed. `groups`: the groups (with \
        `include_scores=true`, also each group's scored pairs). `permutations`: the mask for the result \
        token; the party's permutation and the row count for its receipt token. `similarity_scores`: \
        the scored pairs.",
    params(crate::openapi::RunPath, ResultQuery, crate::openapi::ResultOrReceiptToken),
    responses(
        (status = 200, description = "The result; its shape depends on the project's result type, \
            the token and `include_scores`.", body = crate::openapi::RunResult),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::ResultNotFound),
        (status = 500, response = crate::openapi::RunFailedError),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn result(
    State(state): State<EntityState>,
    Path((project_id, run_id)): Path<(String, String)>,
    Query(query): Query<ResultQuery>,
    headers: HeaderMap,
) -> EntityResult<Response> {
    let (project, parties, receipt_party) = result_reader(&state, &project_id, &headers).await?;
    let run = load_run(&state, &project_id, &run_id).await?;
    let status = run_status(&state, &project, &parties, &run).await?;
    if status.state != es_state::COMPLETED {
        return Err(match &status.message {
            Some(message) => {
                EntityError::RunFailed(format!("the run failed, so it has no result: {message}"))
            }
            None => EntityError::NotFound(format!(
                "the run's result is not ready (the run is {})",
                status.state
            )),
        });
    }
    let job_id = run
        .job_id
        .as_deref()
        .and_then(|id| JobId::from_str(id).ok())
        .ok_or_else(|| EntityError::Corrupt(format!("completed run {run_id} has no job")))?;
    let result = state.jobs.result(job_id).await?;
    let document: Value = serde_json::from_slice(&result)
        .map_err(|err| EntityError::Corrupt(format!("result of run {run_id}: {err}")))?;
    match project.result_type.as_str() {
        "similarity_scores" => {
            let key = document["similarity_scores_key"]
                .as_str()
                .unwrap_or_default();
            stream_json(&state, key).await
        }
        "permutations" => permutation_view(&document, receipt_party),
        _ if query.include_scores == Some(true) => {
            let prefix = format!("{}/output", run_prefix(&project_id, &run_id));
            stream_json(&state, &group_scores_key(&prefix)).await
        }
        _ => Ok(json_response(Body::from(result))),
    }
}

fn json_response(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn stream_json(state: &EntityState, key: &str) -> EntityResult<Response> {
    let stream = state.blobs.get_stream(key).await?;
    Ok(json_response(Body::from_stream(stream)))
}

/// The mask for the result token; a party's permutation for its receipt token.
fn permutation_view(document: &Value, party: Option<i64>) -> EntityResult<Response> {
    let mut view = Map::new();
    match party {
        None => {
            view.insert("mask".into(), document["mask"].clone());
        }
        Some(party) => {
            let permutation = document["permutations"]
                .get(usize::try_from(party).unwrap_or(usize::MAX))
                .cloned()
                .ok_or_else(|| EntityError::Corrupt(format!("no permutation for party {party}")))?;
            view.insert("permutation".into(), permutation);
            view.insert("rows".into(), document["rows"].clone());
        }
    }
    Ok(Json(Value::Object(view)).into_response())
}
