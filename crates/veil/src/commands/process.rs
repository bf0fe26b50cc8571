//! `veil serve` and `veil worker`: the long-running processes.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use veil_config::{Config, LogFormat};
use veil_service::JobService;
use veil_worker::{WorkerPool, WorkerSettings};

use crate::cli::{LogFormatArg, ProcessArgs};
use crate::platform;
use crate::UsageError;

pub(crate) fn load(process: &ProcessArgs) -> anyhow::Result<Config> {
    let mut config = platform::load_config(process.config.as_deref())?;
    if let Some(format) = process.log_format {
        config.log.format = match format {
            LogFormatArg::Human => LogFormat::Human,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    crate::logging::init(config.log.format, &config.log.filter);
    Ok(config)
}

/// Like [`load`], but logs only warnings: for one-shot commands whose output is their answer.
pub(crate) fn load_quiet(process: &ProcessArgs) -> anyhow::Result<Config> {
    let config = platform::load_config(process.config.as_deref())?;
    crate::logging::init(config.log.format, "warn");
    Ok(config)
}

/// Fires the returned token on SIGTERM or SIGINT.
pub(crate) fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fired = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        fired.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!(
            "shutdown requested: no new tasks are claimed; in-flight work finishes or is released"
        );
        fired.cancel();
    });
    token
}

async fn spawn_workers(
    config: &Config,
    platform: &veil_service::Platform,
    count: u32,
    shutdown: &CancellationToken,
    links: &crate::dispatch::DispatchLinks,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if count == 0 {
        return Ok(None);
    }
    let mut settings = WorkerSettings::new(count, config.queue.poll_interval);
    settings.shutdown_grace = config.worker.shutdown_grace;
    let pool = WorkerPool::new(
        platform::task_runner(config, platform, links).await?,
        settings,
    );
    Ok(Some(tokio::spawn(pool.run(shutdown.clone()))))
}

/// `veil serve`: the HTTP API plus in-process workers; with `register_k8s`, registered as a Kubernetes
/// Service while it serves (deregistered after a graceful shutdown).
pub async fn serve(
    process: ProcessArgs,
    listen: Option<SocketAddr>,
    workers: Option<u32>,
    register_k8s: bool,
) -> anyhow::Result<()> {
    let mut config = load(&process)?;
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    if let Some(workers) = workers {
        config.server.workers = workers;
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listen on {}", config.server.listen))?;
    if !register_k8s {
        return serve_on(config, listener, shutdown_on_signal).await;
    }
    let registration = crate::kube::registration(&config).await?;
    registration
        .register()
        .await
        .context("register with Kubernetes (--register-k8s)")?;
    let served = serve_on(config, listener, shutdown_on_signal).await;
    if let Err(err) = registration.deregister().await {
        tracing::warn!(error = %err, "deregistering from Kubernetes failed");
    }
    served
}

/// Serves the HTTP API and `server.workers` in-process workers on `listener` until the token
/// made by `shutdown` (called once the backends are up) fires, then drains the workers.
/// `config.server.listen` should be the listener's address.
pub async fn serve_on(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl FnOnce() -> CancellationToken,
) -> anyhow::Result<()> {
    let backends = platform::connect(&config).await?;
    let jobs = JobService::new(backends.platform.clone());
    let recovered = jobs
        .recover_unqueued()
        .await
        .context("recover jobs left pending")?;
    if recovered > 0 {
        tracing::info!(
            recovered,
            "re-queued jobs left pending by a previous process"
        );
    }
    let shutdown = shutdown();
    let links = crate::dispatch::links(&config, true).await?;
    let workers = spawn_workers(
        &config,
        &backends.platform,
        config.server.workers,
        &shutdown,
        &links,
    )
    .await?;
    let embedded_dispatcher = crate::dispatch::spawn_embedded(
        &config,
        &links,
        backends.platform.blobs.clone(),
        &shutdown,
    );
    let access = crate::access::access_service(&config, &backends.database).await?;
    crate::access::ensure_first_admin(&config, &access).await?;
    let state = veil_server::AppState {
        jobs,
        redacted_config: Arc::from(config.to_redacted_toml()),
        access,
        protect_project_creation: config.auth.protect_project_creation,
    };
    tracing::info!(
        listen = %config.server.listen,
        workers = config.server.workers,
        data_dir = %config.data_dir.display(),
        "veil is serving; try: curl http://{}/healthz",
        config.server.listen
    );
    let entity_state = veil_entity_service::EntityState::new(
        backends.database.clone(),
        backends.platform.blobs.clone(),
        JobService::new(backends.platform.clone()),
        veil_entity_service::RunSettings {
            chunk_comparisons: config.linkage.chunk_comparisons,
            max_candidates: config.linkage.max_candidates,
        },
    );
    match entity_state.recover().await {
        Ok((0, 0)) => {}
        Ok((uploads, projects)) => tracing::info!(
            uploads,
            projects,
            "recovered linkage uploads and runs interrupted by a previous process"
        ),
        Err(err) => {
            tracing::warn!(error = %err, "cannot recover interrupted linkage uploads and runs")
        }
    }
    let entity_service = veil_entity_service::router(entity_state);
    let server = &config.server;
    let limits = veil_server::Limits {
        max_body_bytes: server.max_body_bytes,
        max_request_bytes: server.max_request_bytes,
        request_timeout: server.request_timeout,
        upload_timeout: server.upload_timeout,
        max_concurrent_uploads: server.max_concurrent_uploads,
        rate_limit_per_second: server.rate_limit_per_second,
        rate_limit_burst: server.rate_limit_burst,
        global_rate_limit_per_second: server.global_rate_limit_per_second,
    };
    let router = veil_server::router_with_limits(state, Some(entity_service), &limits);
    match &config.server.tls {
        None => veil_server::serve(listener, router, shutdown.clone())
            .await
            .context("serve HTTP")?,
        Some(tls) => {
            let files = veil_server::TlsFiles {
                cert_file: tls.cert_file.clone(),
                key_file: tls.key_file.clone(),
            };
            let tls = veil_server::load_tls(&files).map_err(|err| UsageError(err.to_string()))?;
            tracing::info!(cert = %files.cert_file.display(), "serving HTTPS (server.tls)");
            veil_server::serve_tls(
                listener,
                router,
                tls,
                shutdown.clone(),
                config.worker.shutdown_grace,
            )
            .await
            .context("serve HTTPS")?
        }
    }
    if let Some(workers) = workers {
        let _ = workers.await;
    }
    if let Some(dispatcher) = embedded_dispatcher {
        let _ = dispatcher.await;
    }
    backends.database.close().await;
    Ok(())
}

/// `veil worker`: workers only.
pub async fn worker(process: ProcessArgs, concurrency: Option<u32>) -> anyhow::Result<()> {
    let config = load(&process)?;
    let count = concurrency.unwrap_or(config.worker.concurrency);
    if count == 0 {
        return Err(crate::UsageError("--concurrency must be at least 1".into()).into());
    }
    let backends = platform::connect(&config).await?;
    let shutdown = shutdown_on_signal();
    // On the embedded SQLite metadata, workers share the machine (and data directory) with `veil serve`.
    let embedded = config.metadata.url.expose_secret().starts_with("sqlite:");
    let links = crate::dispatch::links(&config, embedded).await?;
    if let Some(workers) =
        spawn_workers(&config, &backends.platform, count, &shutdown, &links).await?
    {
        let _ = workers.await;
    }
    backends.database.close().await;
    Ok(())
}
