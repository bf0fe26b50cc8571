//! The Anonlink Entity Service REST API v1, served by Veil so that existing Entity Service clients work
//! unchanged. [`router`] is meant to be nested at `/api/v1`.
//!
//! This first slice covers service status and version, projects (create, list, describe, delete) and
//! direct encoding uploads (`POST /projects/{id}/clks`). Projects, parties and uploads live in the
//! metadata database ([`SqlProjectStore`], migration `0002_entity_service`); the decoded encodings are
//! stored as one binary blob per upload (concatenated, fixed size each) in the platform's blob store.
//! Upload bodies are read into memory whole (at most [`MAX_BODY_BYTES`]).
//!
//! Errors are `application/problem+json` with the Entity Service's statuses ([`EntityError`]).

mod error;
mod general;
mod projects;
mod sql;
mod store;
pub mod tokens;
pub mod upload;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;
use veil_blob::BlobStore;
use veil_metadata::Database;

pub use error::{EntityError, EntityResult, INVALID_ACCESS};
pub use projects::MAX_PARTIES;
pub use sql::SqlProjectStore;
pub use store::{party_state, PartyRecord, ProjectRecord, ProjectStore, UploadRecord};

/// The largest request body accepted (upload bodies are read into memory whole): 512 MiB.
pub const MAX_BODY_BYTES: usize = 512 * 1024 * 1024;

/// What the compatibility API's handlers reach.
#[derive(Clone)]
pub struct EntityState {
    /// Projects, parties and uploads.
    pub store: Arc<dyn ProjectStore>,
    /// Where uploaded encodings are stored.
    pub blobs: Arc<dyn BlobStore>,
}

impl EntityState {
    /// The state on the metadata `database` (migrated) and the platform's blob store.
    pub fn new(database: Database, blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            store: Arc::new(SqlProjectStore::new(database)),
            blobs,
        }
    }
}

/// The compatibility API's router, to be nested at `/api/v1`. Repeated slashes in the path
/// (`/api/v1//projects`) are collapsed before routing, as Entity Service clients sometimes send them.
pub fn router(state: EntityState) -> Router {
    let routes = Router::new()
        .route("/status", get(general::status))
        .route("/version", get(general::version))
        .route("/projects", get(projects::list).post(projects::create))
        .route(
            "/projects/{project_id}",
            get(projects::describe).delete(projects::delete),
        )
        .route("/projects/{project_id}/clks", post(projects::upload))
        .route(
            "/projects/{project_id}/authorize-external-upload",
            get(projects::authorize_external_upload),
        )
        .method_not_allowed_fallback(general::method_not_allowed)
        .fallback(general::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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
