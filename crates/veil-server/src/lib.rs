//! Veil's HTTP layer: a thin axum router over the service layer.
//!
//! Handlers parse the request, call one use case and serialise its answer; every error is turned into
//! a status code and a problem-JSON body in one place ([`ApiError`]). Besides the native API under
//! `/api`, the server answers `/healthz` (the process is up), `/readyz` (its backends answer) and
//! `/metrics` (Prometheus text format). [`router_with_limits`] adds a request body limit and a
//! per-client rate limit ([`Limits`]).

mod auth;
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

use axum::http::Method;
use axum::Router;
use tokio_util::sync::CancellationToken;
use veil_service::{AccessService, JobService};

use auth::routes::{SecuredRoutes, ADMIN_ONLY, PUBLIC, SIGNED_IN, STARTS_JOBS};

pub use auth::routes::RouteRule;
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
    /// Users, tokens and the audit log.
    pub access: AccessService,
    /// Whether creating an Entity Service project needs a user token.
    pub protect_project_creation: bool,
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

/// Every native route with its requirement, the table the auth gate enforces.
fn native_routes() -> SecuredRoutes<AppState> {
    SecuredRoutes::new()
        .add(Method::GET, "/healthz", PUBLIC, ops::healthz)
        .add(Method::GET, "/readyz", PUBLIC, ops::readyz)
        .add(Method::GET, "/metrics", PUBLIC, ops::metrics)
        .add(
            Method::POST,
            "/api/auth/login",
            PUBLIC,
            auth::handlers::login,
        )
        .add(
            Method::POST,
            "/api/auth/refresh",
            PUBLIC,
            auth::handlers::refresh,
        )
        .add(
            Method::POST,
            "/api/auth/logout",
            SIGNED_IN,
            auth::handlers::logout,
        )
        .add(Method::GET, "/api/auth/me", SIGNED_IN, auth::handlers::me)
        .add(Method::GET, "/api/jobs", SIGNED_IN, jobs::list)
        .add(Method::POST, "/api/jobs", STARTS_JOBS, jobs::submit)
        .add(Method::GET, "/api/jobs/{id}", SIGNED_IN, jobs::describe)
        .add(
            Method::POST,
            "/api/jobs/{id}/cancel",
            STARTS_JOBS,
            jobs::cancel,
        )
        .add(
            Method::GET,
            "/api/jobs/{id}/result",
            SIGNED_IN,
            jobs::result,
        )
        .add(Method::GET, "/api/config", ADMIN_ONLY, ops::config)
        .add(Method::GET, "/api/queue", ADMIN_ONLY, ops::queue_stats)
}

/// Every native route and who may call it (the Entity Service API under `/api/v1` keeps its own
/// per-project tokens and is not listed).
pub fn route_rules() -> Vec<RouteRule> {
    native_routes().finish().1
}

fn build_router(
    state: AppState,
    entity_service: Option<Router>,
    limits: Option<&Limits>,
) -> Router {
    // Install the recorder now: until it is installed, every counter and histogram update (requests,
    // tasks run by in-process workers) goes nowhere, so waiting for the first scrape would lose them.
    let _ = prometheus_handle();
    let (native, rules) = native_routes().finish();
    let gate = auth::gate::Gate {
        access: state.access.clone(),
        rules: Arc::new(rules),
    };
    let mut routes = native.route_layer(axum::middleware::from_fn_with_state(
        gate,
        auth::gate::authorize,
    ));
    if let Some(entity_service) = entity_service {
        let guard = auth::entity_guard::EntityGuard {
            access: state.access.clone(),
            protect_project_creation: state.protect_project_creation,
        };
        let guarded = entity_service.layer(axum::middleware::from_fn_with_state(
            guard,
            auth::entity_guard::guard,
        ));
        routes = routes.nest_service("/api/v1", guarded);
    }
    let mut routes = routes
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
