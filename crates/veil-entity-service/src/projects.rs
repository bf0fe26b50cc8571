//! Project handlers: create, list, describe, delete, upload encodings, external-upload authorisation.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::store::{party_state, PartyRecord, ProjectRecord, UploadRecord};
use crate::{tokens, upload, EntityError, EntityResult, EntityState};

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

/// `POST /projects/{id}/clks` (update token): validates, stores the decoded encodings and answers
/// 201 with a receipt token. One upload per party; an upload that fails may be retried.
pub async fn upload(
    State(state): State<EntityState>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> EntityResult<Response> {
    let (project, party) = uploading_party(&state, &project_id, &headers).await?;
    let uses_blocking = project.uses_blocking;
    let valid = tokio::task::spawn_blocking(move || upload::parse(&body, uses_blocking))
        .await
        .map_err(|err| EntityError::Corrupt(format!("upload parser failed: {err}")))??;
    let record = begin_upload(
        &state,
        &project_id,
        &party,
        valid.count,
        valid.size,
        valid.block_count,
        valid.blocks.is_some(),
    )
    .await?;
    let stored = store_upload(&state, &record, valid).await;
    finish_upload(&state, record, stored).await
}

/// Authorises an upload: the project exists, the token is one of its update tokens, and that party
/// has not uploaded (or is not uploading) already.
pub(crate) async fn uploading_party(
    state: &EntityState,
    project_id: &str,
    headers: &HeaderMap,
) -> EntityResult<(ProjectRecord, PartyRecord)> {
    let (project, parties) = load(state, project_id).await?;
    let token = token(headers)?;
    let party = tokens::position(token, parties.iter().map(|p| p.update_token.as_str()))
        .and_then(|index| parties.get(index))
        .cloned()
        .ok_or_else(EntityError::invalid_access)?;
    if party.state == party_state::DONE || party.state == party_state::UPLOADING {
        return Err(EntityError::Forbidden(ALREADY_UPLOADED.to_string()));
    }
    Ok((project, party))
}

/// Checks the encoding size against the server's bounds and other parties' uploads, marks the party
/// `uploading` and returns the upload's record (blob keys under a fresh receipt token).
pub(crate) async fn begin_upload(
    state: &EntityState,
    project_id: &str,
    party: &PartyRecord,
    count: usize,
    size: usize,
    block_count: usize,
    has_blocks: bool,
) -> EntityResult<UploadRecord> {
    if size > MAX_ENCODING_BYTES {
        return Err(bad(format!(
            "encodings are {size} bytes; this server accepts at most {MAX_ENCODING_BYTES} bytes per encoding"
        )));
    }
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let sizes = state.store.encoding_sizes(project_id).await?;
    if let Some(other) = sizes.into_iter().find(|other| *other != size) {
        return Err(bad(format!(
            "encodings are {size} bytes but other parties uploaded {other}-byte encodings"
        )));
    }
    if !state
        .store
        .begin_upload(project_id, party.party_index)
        .await?
    {
        return Err(EntityError::Forbidden(ALREADY_UPLOADED.to_string()));
    }
    let receipt_token = tokens::generate();
    let prefix = format!(
        "{}/parties/{}/{receipt_token}",
        blob_prefix(project_id),
        party.party_index
    );
    Ok(UploadRecord {
        receipt_token,
        project_id: project_id.to_string(),
        party_index: party.party_index,
        encoding_count: i64::try_from(count).unwrap_or(i64::MAX),
        encoding_size: size,
        block_count: i64::try_from(block_count).unwrap_or(i64::MAX),
        encodings_key: format!("{prefix}/encodings.bin"),
        blocks_key: has_blocks.then(|| format!("{prefix}/blocks.json")),
    })
}

/// Ends an upload begun by [`begin_upload`]: on success records it (the party is `done`), answers 201
/// and submits the project's runs if this was the last party; on failure marks the party `error` (it
/// may retry) and removes whatever was stored.
pub(crate) async fn finish_upload(
    state: &EntityState,
    record: UploadRecord,
    stored: EntityResult<()>,
) -> EntityResult<Response> {
    let stored = match stored {
        Ok(()) => state.store.finish_upload(&record).await,
        Err(err) => Err(err),
    };
    if let Err(err) = stored {
        if let Err(fail) = state
            .store
            .fail_upload(&record.project_id, record.party_index)
            .await
        {
            tracing::error!(error = %fail, project = %record.project_id, "cannot mark a failed upload");
        }
        for key in std::iter::once(&record.encodings_key).chain(record.blocks_key.as_ref()) {
            let _ = state.blobs.delete(key).await;
        }
        return Err(err);
    }
    tracing::info!(project = %record.project_id, party = record.party_index, count = record.encoding_count,
        size = record.encoding_size, "entity service encodings uploaded");
    if let Err(err) = crate::runs::submit::submit_ready_runs(state, &record.project_id).await {
        tracing::warn!(error = %err, project = %record.project_id, "runs not submitted yet; retried on the next status request");
    }
    let body = json!({"message": "Updated", "receipt_token": record.receipt_token});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Writes the upload's blobs.
async fn store_upload(
    state: &EntityState,
    record: &UploadRecord,
    valid: upload::ValidUpload,
) -> EntityResult<()> {
    state
        .blobs
        .put(&record.encodings_key, Bytes::from(valid.encodings))
        .await?;
    if let (Some(key), Some(blocks)) = (&record.blocks_key, &valid.blocks) {
        let json = serde_json::to_vec(blocks)
            .map_err(|err| EntityError::Corrupt(format!("cannot serialise blocks: {err}")))?;
        state.blobs.put(key, Bytes::from(json)).await?;
    }
    Ok(())
}

/// `GET /projects/{id}/authorize-external-upload`: object-store uploads are disabled in Veil, which
/// the original answers with a 500 "Feature Disabled" problem (clients then upload directly).
pub async fn authorize_external_upload() -> EntityError {
    EntityError::FeatureDisabled(
        "Retrieving temporary object store credentials feature disabled".to_string(),
    )
}
