//! Operations endpoints: liveness, readiness, metrics, effective config and queue state.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use veil_domain::QueueStats;

use crate::{ApiError, AppState};

/// `GET /healthz`: the process is up and serving.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the metadata store and the queue answer.
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let platform = state.jobs.platform();
    if let Err(err) = platform.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("metadata store not ready: {err}"),
        );
    }
    if let Err(err) = platform.queue.stats().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("task queue not ready: {err}"),
        );
    }
    (StatusCode::OK, "ready".to_string())
}

/// `GET /metrics`: Prometheus text format; queue depth is sampled at scrape time.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(stats) = state.jobs.platform().queue.stats().await {
        for (condition, count) in [
            ("ready", stats.ready),
            ("delayed", stats.delayed),
            ("leased", stats.leased),
            ("dead", stats.dead),
        ] {
            metrics::gauge!("veil_queue_depth", "condition" => condition).set(count as f64);
        }
    }
    let body = crate::prometheus_handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// `GET /api/config`: the effective configuration, secrets redacted, as TOML.
pub(crate) async fn config(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/toml")],
        state.redacted_config.to_string(),
    )
}

/// `GET /api/queue`: how many items are ready, delayed, leased and dead.
pub(crate) async fn queue_stats(
    State(state): State<AppState>,
) -> Result<Json<QueueStats>, ApiError> {
    let stats = state
        .jobs
        .platform()
        .queue
        .stats()
        .await
        .map_err(veil_service::ServiceError::from)?;
    Ok(Json(stats))
}
