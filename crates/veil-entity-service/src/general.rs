//! Service-wide endpoints (`/status`, `/version`) and the problem answers for unknown routes.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::{EntityError, EntityResult, EntityState};

/// The anonlink release whose scoring Veil's matcher reproduces, reported as `anonlink` by `/version`.
pub const ANONLINK_COMPATIBLE: &str = "0.15.3";

/// `GET /status`: `ok`, the number of projects, and the comparison rate (0: Veil runs no comparisons
/// through this API yet).
#[utoipa::path(
    get,
    path = "/status",
    operation_id = "service_status",
    tag = "General",
    summary = "Service status",
    responses(
        (status = 200, description = "The service is up.", body = crate::openapi::ServiceStatus),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn status(State(state): State<EntityState>) -> EntityResult<Json<Value>> {
    let project_count = state.store.count_projects().await?;
    Ok(Json(
        json!({"status": "ok", "project_count": project_count, "rate": 0}),
    ))
}

/// `GET /version`: the fields the spec lists. `anonlink` is the anonlink version Veil's matching is
/// identical to, `entityservice` names Veil and its version, `python` is `n/a` (Veil has no Python).
#[utoipa::path(
    get,
    path = "/version",
    operation_id = "service_version",
    tag = "General",
    summary = "Versions",
    responses(
        (status = 200, description = "The versions.", body = crate::openapi::ServiceVersion),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn version() -> Json<Value> {
    Json(json!({
        "anonlink": ANONLINK_COMPATIBLE,
        "entityservice": format!("veil-{}", env!("CARGO_PKG_VERSION")),
        "python": "n/a",
    }))
}

/// Problem answer for an unknown route.
pub async fn not_found() -> EntityError {
    EntityError::NotFound("no such Entity Service endpoint".to_string())
}

/// Problem answer for a known route with the wrong method.
pub async fn method_not_allowed() -> EntityError {
    EntityError::MethodNotAllowed
}
