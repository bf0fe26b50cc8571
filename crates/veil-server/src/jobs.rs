//! `/api/jobs`: submit, list, describe, cancel and fetch results.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use veil_domain::{Job, JobDescription, JobFilter, JobId, JobState, NewJob};

use crate::{ApiError, AppState};

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
    let filter = JobFilter {
        state: job_state,
        kind: query.kind,
        limit: query.limit,
    };
    Ok(Json(state.jobs.list(filter).await?))
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body?;
    let request: NewJob = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad_request(format!("invalid job request body: {err}")))?;
    let job = state.jobs.submit(request).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

pub(crate) async fn describe(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<JobDescription>, ApiError> {
    let id = parse_job_id(&path?.0)?;
    Ok(Json(state.jobs.describe(id).await?))
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Job>, ApiError> {
    let id = parse_job_id(&path?.0)?;
    Ok(Json(state.jobs.cancel(id, "operator").await?))
}

pub(crate) async fn result(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_job_id(&path?.0)?;
    let bytes = state.jobs.result(id).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}
