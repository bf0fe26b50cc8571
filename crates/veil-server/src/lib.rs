//! Veil's HTTP layer: a thin axum router over the service layer.
//!
//! Handlers parse the request, call one use case and serialise its answer; every error is turned into
//! a status code and a problem-JSON body in one place ([`ApiError`]). Besides the native API under
//! `/api`, the server answers `/healthz` (the process is up), `/readyz` (its backends answer) and
//! `/metrics` (Prometheus text format). [`router_with_limits`] adds a request body limit and a
//! per-client rate limit ([`Limits`]).

mod error;
mod jobs;
mod limits;
mod metrics_layer;
mod ops;
mod rate_limit;
mod request_guard;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;
use veil_service::JobService;

pub use error::ApiError;
pub use limits::Limits;
pub use metrics_layer::prometheus_handle;
pub use tls::{load_tls, serve_tls, TlsError, TlsFiles};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The job use cases.
    pub jobs: JobService,
    /// The effective configuration with secrets redacted, for `GET /api/config`.
    pub redacted_config: Arc<str>,
}

/// The complete router: native API, operations endpoints, metrics and request tracing.
pub fn router(state: AppState) -> Router {
    router_with_v1(state, None)
}

/// [`router`] plus, when given, the Anonlink Entity Service compatibility API (the
/// `veil-entity-service` crate's router) nested at `/api/v1`.
pub fn router_with_v1(state: AppState, entity_service: Option<Router>) -> Router {
    build_router(state, entity_service, None)
}

/// [`router_with_v1`] with `limits` on every route, the Entity Service API included: bodies over
/// their limit (large for uploads, small otherwise) are answered 413; a request over its time, an
/// upload when every upload slot is taken, and a client (or all clients) over the rate 503, the last
/// two with `Retry-After` (probes and `/metrics` are never throttled). Every answer is problem JSON.
pub fn router_with_limits(
    state: AppState,
    entity_service: Option<Router>,
    limits: &Limits,
) -> Router {
    build_router(state, entity_service, Some(limits))
}

fn build_router(
    state: AppState,
    entity_service: Option<Router>,
    limits: Option<&Limits>,
) -> Router {
    // Install the recorder now: until it is installed, every counter and histogram update (requests,
    // tasks run by in-process workers) goes nowhere, so waiting for the first scrape would lose them.
    let _ = prometheus_handle();
    let mut api = Router::new()
        .route("/jobs", get(jobs::list).post(jobs::submit))
        .route("/jobs/{id}", get(jobs::describe))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/result", get(jobs::result))
        .route("/config", get(ops::config))
        .route("/queue", get(ops::queue_stats))
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::not_found);
    if let Some(entity_service) = entity_service {
        api = api.nest_service("/v1", entity_service);
    }
    let mut routes = Router::new()
        .nest("/api", api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::not_found);
    if let Some(limits) = limits {
        routes = limits::apply(routes, limits);
    }
    routes
        .layer(axum::middleware::from_fn(metrics_layer::track_requests))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` fires, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
