//! `/api/jobs`: submit, list, describe, cancel and fetch results.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use veil_auth::{Principal, Role};
use veil_domain::{Job, JobDescription, JobFilter, JobId, JobState, NewJob};
use veil_service::ServiceError;

use crate::{ApiError, AppState};

/// Admins and read-only users see every job; others only the jobs they submitted.
fn sees_every_job(principal: &Principal) -> bool {
    principal.has(Role::ReadOnly)
}

/// The job, if `principal` may see it; someone else's job is "not found", so ids do not leak.
async fn visible_job(state: &AppState, principal: &Principal, id: JobId) -> Result<Job, ApiError> {
    let job = state.jobs.get(id).await?;
    if sees_every_job(principal) || job.owner == principal.subject {
        return Ok(job);
    }
    Err(ServiceError::NotFound {
        what: "job",
        id: id.to_string(),
    }
    .into())
}

fn parse_job_id(text: &str) -> Result<JobId, ApiError> {
    text.parse()
        .map_err(|err: veil_domain::IdParseError| ApiError::bad_request(err.to_string()))
}

/// Query string of `GET /api/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let Query(query) = query?;
    let job_state = match query.state.as_deref() {
        Some(text) => Some(
            text.parse::<JobState>()
                .map_err(|err| ApiError::bad_request(format!("query parameter state: {err}")))?,
        ),
        None => None,
    };
    let owner = (!sees_every_job(&principal)).then(|| principal.subject.clone());
    let filter = JobFilter {
        owner,
        state: job_state,
        kind: query.kind,
        limit: query.limit,
    };
    Ok(Json(state.jobs.list(filter).await?))
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body?;
    let mut request: NewJob = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad_request(format!("invalid job request body: {err}")))?;
    request.owner = Some(principal.subject);
    let job = state.jobs.submit(request).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

pub(crate) async fn describe(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<JobDescription>, ApiError> {
    let id = parse_job_id(&path?.0)?;
    visible_job(&state, &principal, id).await?;
    Ok(Json(state.jobs.describe(id).await?))
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Job>, ApiError> {
    let id = parse_job_id(&path?.0)?;
    visible_job(&state, &principal, id).await?;
    Ok(Json(state.jobs.cancel(id, &principal.subject).await?))
}

pub(crate) async fn result(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_job_id(&path?.0)?;
    visible_job(&state, &principal, id).await?;
    let bytes = state.jobs.result(id).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}
