//! Project handlers: create, list, describe, delete, upload encodings, external-upload authorisation.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::store::{party_state, PartyRecord, ProjectRecord};
use crate::{tokens, EntityError, EntityResult, EntityState};

/// The result types the Entity Service knows; only `groups` supports more than two parties.
const RESULT_TYPES: [&str; 3] = ["groups", "permutations", "similarity_scores"];

/// The most parties a project may have (each gets an update token row).
pub const MAX_PARTIES: i64 = 1000;

/// The largest encoding accepted, in bytes (as the comparison engine's limit).
pub const MAX_ENCODING_BYTES: usize = veil_linkage_matching::clk::MAX_CLK_BYTES;

/// The answer when a party uploads a second time (as the original words it).
pub(crate) const ALREADY_UPLOADED: &str = "This token has already been used to upload clks.";

fn bad(detail: impl Into<String>) -> EntityError {
    EntityError::bad_request(detail)
}

/// The `Authorization` header: the bare token, as Entity Service clients send it.
pub(crate) fn token(headers: &HeaderMap) -> EntityResult<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| EntityError::Forbidden("Authentication token required".to_string()))
}

pub(crate) async fn load(
    state: &EntityState,
    project_id: &str,
) -> EntityResult<(ProjectRecord, Vec<PartyRecord>)> {
    state
        .store
        .get_project(project_id)
        .await?
        .ok_or_else(EntityError::invalid_access)
}

fn optional_text(body: &Map<String, Value>, field: &str) -> EntityResult<String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(bad(format!("'{field}' must be a string"))),
    }
}

/// Validates a `NewProject` body into a record with fresh id and result token.
fn new_project(body: &[u8]) -> EntityResult<ProjectRecord> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| bad(format!("request body is not valid JSON: {err}")))?;
    let Value::Object(body) = value else {
        return Err(bad("request body must be a JSON object"));
    };
    let schema = match body.get("schema") {
        None | Some(Value::Null) => return Err(bad("missing required field 'schema'")),
        Some(schema @ Value::Object(_)) => schema.to_string(),
        Some(_) => return Err(bad("'schema' must be a JSON object")),
    };
    let result_type = match body.get("result_type") {
        None | Some(Value::Null) => return Err(bad("missing required field 'result_type'")),
        Some(Value::String(kind)) if RESULT_TYPES.contains(&kind.as_str()) => kind.clone(),
        Some(other) => {
            return Err(bad(format!(
                "'result_type' must be one of 'groups', 'permutations', 'similarity_scores', not {other}"
            )))
        }
    };
    let number_parties = match body.get("number_parties") {
        None | Some(Value::Null) => 2,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) if (2..=MAX_PARTIES).contains(&n) => n,
            _ => {
                return Err(bad(format!(
                    "'number_parties' must be an integer from 2 to {MAX_PARTIES}, not {n}"
                )))
            }
        },
        Some(_) => return Err(bad("'number_parties' must be an integer")),
    };
    if number_parties > 2 && result_type != "groups" {
        return Err(bad(format!(
            "result type '{result_type}' supports exactly 2 parties; only 'groups' supports {number_parties}"
        )));
    }
    let uses_blocking = match body.get("uses_blocking") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(bad("'uses_blocking' must be a boolean")),
    };
    Ok(ProjectRecord {
        project_id: tokens::generate(),
        name: optional_text(&body, "name")?,
        notes: optional_text(&body, "notes")?,
        result_type,
        number_parties,
        uses_blocking,
        schema_json: schema,
        result_token: tokens::generate(),
        time_added: veil_domain::now(),
    })
}

/// `POST /projects`: 201 with the project id, result token and one update token per party.
#[utoipa::path(
    post,
    path = "/projects",
    operation_id = "create_project",
    tag = "Project",
    summary = "Create a project",
    request_body(content = crate::openapi::NewProject, content_type = "application/json"),
    responses(
        (status = 201, description = "The project was created.", body = crate::openapi::NewProjectResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn create(State(state): State<EntityState>, body: Bytes) -> EntityResult<Response> {
    let project = new_project(&body)?;
    let count = usize::try_from(project.number_parties).unwrap_or(2);
    let update_tokens: Vec<String> = (0..count).map(|_| tokens::generate()).collect();
    state.store.create_project(&project, &update_tokens).await?;
    tracing::info!(project = %project.project_id, parties = count, "entity service project created");
    let body = json!({
        "project_id": project.project_id,
        "result_token": project.result_token,
        "update_tokens": update_tokens,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /projects`: every project's id and creation time.
#[utoipa::path(
    get,
    path = "/projects",
    operation_id = "list_projects",
    tag = "Project",
    summary = "List projects",
    responses(
        (status = 200, description = "Every project.", body = crate::openapi::ProjectList),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list(State(state): State<EntityState>) -> EntityResult<Json<Value>> {
    let projects = state.store.list_projects().await?;
    let list: Vec<Value> = projects
        .into_iter()
        .map(|(project_id, at)| json!({"project_id": project_id, "time_added": at.to_rfc3339()}))
        .collect();
    Ok(Json(Value::Array(list)))
}

/// `GET /projects/{id}`: the project description. As in the original, `groups` and
/// `similarity_scores` projects need the result token; `permutations` projects accept it or any of the
/// project's update tokens.
#[utoipa::path(
    get,
    path = "/projects/{project_id}",
    operation_id = "describe_project",
    tag = "Project",
    summary = "Describe a project",
    params(crate::openapi::ProjectPath, crate::openapi::DescribeToken),
    responses(
        (status = 200, description = "The project.", body = crate::openapi::ProjectDescription),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 500, response = crate::openapi::InternalError),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn describe(
    State(state): State<EntityState>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
) -> EntityResult<Json<Value>> {
    let (project, parties) = load(&state, &project_id).await?;
    let token = token(&headers)?;
    let is_result = tokens::matches(token, &project.result_token);
    let is_update =
        tokens::position(token, parties.iter().map(|p| p.update_token.as_str())).is_some();
    let allowed = is_result || (project.result_type == "permutations" && is_update);
    if !allowed {
        return Err(EntityError::invalid_access());
    }
    let schema: Value = serde_json::from_str(&project.schema_json)
        .map_err(|err| EntityError::Corrupt(format!("schema of {project_id}: {err}")))?;
    let contributed = parties
        .iter()
        .filter(|p| p.state == party_state::DONE)
        .count();
    let error = parties.iter().any(|p| p.state == party_state::ERROR);
    Ok(Json(json!({
        "project_id": project.project_id,
        "name": project.name,
        "notes": project.notes,
        "result_type": project.result_type,
        "number_parties": project.number_parties,
        "parties_contributed": contributed,
        "uses_blocking": project.uses_blocking,
        "schema": schema,
        "error": error,
    })))
}

/// `DELETE /projects/{id}` (result token): removes the project's rows, then its blobs.
#[utoipa::path(
    delete,
    path = "/projects/{project_id}",
    operation_id = "delete_project",
    tag = "Project",
    summary = "Delete a project",
    params(crate::openapi::ProjectPath, crate::openapi::ResultToken),
    responses(
        (status = 204, description = "The project, its runs and its data were removed."),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn delete(
    State(state): State<EntityState>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
) -> EntityResult<StatusCode> {
    let (project, _) = load(&state, &project_id).await?;
    if !tokens::matches(token(&headers)?, &project.result_token) {
        return Err(EntityError::invalid_access());
    }
    for run in state.runs.list_runs(&project_id).await? {
        crate::runs::handlers::purge_run(&state, &run).await;
    }
    let mut keys: BTreeSet<String> = state
        .store
        .delete_project(&project_id)
        .await?
        .ok_or_else(EntityError::invalid_access)?
        .into_iter()
        .collect();
    // Also sweep blobs a failed upload may have left behind.
    match state.blobs.list(&blob_prefix(&project_id)).await {
        Ok(listed) => keys.extend(listed),
        Err(err) => {
            tracing::warn!(error = %err, project = %project_id, "cannot list project blobs")
        }
    }
    for key in keys {
        if let Err(err) = state.blobs.delete(&key).await {
            tracing::warn!(error = %err, key, "cannot delete a deleted project's blob");
        }
    }
    tracing::info!(project = %project_id, "entity service project deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Where a project's blobs live.
pub(crate) fn blob_prefix(project_id: &str) -> String {
    format!("entity-service/projects/{project_id}")
}

/// `GET /projects/{id}/authorize-external-upload`: object-store uploads are disabled in Veil, which
/// the original answers with a 500 "Feature Disabled" problem (clients then upload directly).
#[utoipa::path(
    get,
    path = "/projects/{project_id}/authorize-external-upload",
    operation_id = "authorize_external_upload",
    tag = "Project",
    summary = "Object-store upload credentials (disabled)",
    description = "Veil offers no object-store uploads, so this always answers 500 `Feature Disabled` \
        (as the Entity Service does with the feature off); clients then upload to `/clks` or `/binaryclks`.",
    params(crate::openapi::ProjectPath),
    responses(
        (status = 500, response = crate::openapi::FeatureDisabled),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn authorize_external_upload() -> EntityError {
    EntityError::FeatureDisabled(
        "Retrieving temporary object store credentials feature disabled".to_string(),
    )
}
