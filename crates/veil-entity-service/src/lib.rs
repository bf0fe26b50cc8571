//! The Anonlink Entity Service REST API v1, served by Veil so that existing Entity Service clients work
//! unchanged. [`router`] is meant to be nested at `/api/v1`.
//!
//! Served: service status and version; projects (create, list, describe, delete); encoding uploads
//! (`POST /projects/{id}/clks` as JSON, decoded on a blocking thread; `POST /projects/{id}/binaryclks`
//! streamed to the blob store); runs (`/projects/{id}/runs…`: create, list, describe, status, result,
//! delete); and the OpenAPI document generated from the handlers (`GET /openapi.json`). Projects,
//! parties, uploads and runs live in the metadata database ([`SqlProjectStore`], migrations
//! `0002_entity_service` and `0003_entity_runs`); encodings are stored as one binary blob per upload
//! (concatenated, fixed size each) in the platform's blob store. A run becomes a platform job
//! ([`runs::LinkageRunJob`]) whose comparison tasks run on the platform's workers.
//!
//! Errors are `application/problem+json` with the Entity Service's statuses ([`EntityError`]).

mod binary;
mod error;
mod general;
pub mod openapi;
mod projects;
mod run_store;
pub mod runs;
mod sql;
mod sql_runs;
mod store;
pub mod tokens;
pub mod upload;
mod uploads;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;
use veil_blob::BlobStore;
use veil_metadata::Database;
use veil_service::JobService;

pub use error::{EntityError, EntityResult, INVALID_ACCESS};
pub use projects::{MAX_ENCODING_BYTES, MAX_PARTIES};
pub use run_store::{run_state, RunRecord, RunStore};
pub use sql::SqlProjectStore;
pub use store::{party_state, PartyRecord, ProjectRecord, ProjectStore, UploadRecord};

/// How runs are split into tasks and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSettings {
    /// Comparisons per comparison task (`linkage.chunk_comparisons`).
    pub chunk_comparisons: u64,
    /// The most candidate pairs a run may produce (`linkage.max_candidates`).
    pub max_candidates: u64,
}

/// What the compatibility API's handlers reach.
#[derive(Clone)]
pub struct EntityState {
    /// Projects, parties and uploads.
    pub store: Arc<dyn ProjectStore>,
    /// Runs.
    pub runs: Arc<dyn RunStore>,
    /// Where uploaded encodings and run outputs are stored.
    pub blobs: Arc<dyn BlobStore>,
    /// The platform's jobs, which compute runs.
    pub jobs: JobService,
    /// Run planning settings.
    pub settings: RunSettings,
}

impl EntityState {
    /// The state on the metadata `database` (migrated), the platform's blob store and job service.
    pub fn new(
        database: Database,
        blobs: Arc<dyn BlobStore>,
        jobs: JobService,
        settings: RunSettings,
    ) -> Self {
        let store = Arc::new(SqlProjectStore::new(database));
        Self {
            store: store.clone(),
            runs: store,
            blobs,
            jobs,
            settings,
        }
    }

    /// Recovers from a previous process's crash; call once at startup, before serving. Parties whose
    /// upload was in flight may upload again, and runs left unsubmitted are submitted. Returns how many
    /// uploads and how many projects' runs were recovered.
    pub async fn recover(&self) -> EntityResult<(u64, usize)> {
        let uploads = self.store.reset_interrupted_uploads().await?;
        let projects = runs::submit::recover(self).await?;
        Ok((uploads, projects))
    }
}

/// The compatibility API's router, to be nested at `/api/v1`. Repeated slashes in the path
/// (`/api/v1//projects`) are collapsed before routing, as Entity Service clients sometimes send them.
pub fn router(state: EntityState) -> Router {
    let routes = Router::new()
        .route("/status", get(general::status))
        .route("/version", get(general::version))
        .route("/openapi.json", get(openapi::serve))
        .route("/projects", get(projects::list).post(projects::create))
        .route(
            "/projects/{project_id}",
            get(projects::describe).delete(projects::delete),
        )
        .route("/projects/{project_id}/clks", post(uploads::upload_json))
        .route("/projects/{project_id}/binaryclks", post(binary::upload))
        .route(
            "/projects/{project_id}/runs",
            get(runs::handlers::list).post(runs::handlers::create),
        )
        .route(
            "/projects/{project_id}/runs/{run_id}",
            get(runs::handlers::describe).delete(runs::handlers::delete),
        )
        .route(
            "/projects/{project_id}/runs/{run_id}/status",
            get(runs::handlers::status),
        )
        .route(
            "/projects/{project_id}/runs/{run_id}/result",
            get(runs::handlers::result),
        )
        .route(
            "/projects/{project_id}/authorize-external-upload",
            get(projects::authorize_external_upload),
        )
        .method_not_allowed_fallback(general::method_not_allowed)
        .fallback(general::not_found)
        // The server's global body limit (`server.max_body_mib`) governs instead.
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    // Middleware on a Router runs after routing, so the path is rewritten by wrapping the whole router.
    let normalised = tower::ServiceBuilder::new()
        .map_request(collapse_slashes)
        .service(routes);
    Router::new().fallback_service(normalised)
}

/// Rewrites the request's path with runs of `/` collapsed to one, keeping the query.
fn collapse_slashes(mut request: Request) -> Request {
    let uri = request.uri();
    if !uri.path().contains("//") {
        return request;
    }
    let mut path = String::with_capacity(uri.path().len());
    for ch in uri.path().chars() {
        if !(ch == '/' && path.ends_with('/')) {
            path.push(ch);
        }
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(rewritten) = path_and_query.parse() {
        parts.path_and_query = Some(rewritten);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slashes_collapse_and_query_stays() {
        let request = Request::builder()
            .uri("//projects//abc/clks?x=1")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            collapse_slashes(request).uri().to_string(),
            "/projects/abc/clks?x=1"
        );
    }
}
