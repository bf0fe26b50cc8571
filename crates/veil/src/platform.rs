//! Composition: turns a validated config into running backends and the service layer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use veil_config::{Config, RunnerKind};
use veil_metadata::Database;
use veil_queue::{QueueSettings, SqlQueue};
use veil_service::{Platform, Registry, TaskRunner};

/// The `VEIL_*` variables of this process, the only environment the config sees.
pub fn veil_environment() -> HashMap<String, String> {
    std::env::vars()
        .filter(|(name, _)| name.starts_with("VEIL_"))
        .collect()
}

/// Loads and validates the configuration from `path` and the process's `VEIL_*` variables.
pub fn load_config(path: Option<&Path>) -> Result<Config, veil_config::ConfigError> {
    Config::load(path, &veil_environment())
}

/// The connected backends.
pub struct Backends {
    /// The service layer's view of them.
    pub platform: Platform,
    /// The metadata database (kept to close it on shutdown).
    pub database: Database,
}

/// Connects the metadata database (applying migrations), the queue and the blob store.
pub async fn connect(config: &Config) -> anyhow::Result<Backends> {
    let database = open_database(config).await?;
    let settings = QueueSettings {
        backoff_base: config.queue.backoff_base,
        backoff_max: config.queue.backoff_max,
    };
    let queue = Arc::new(SqlQueue::new(&database, settings));
    let blobs = open_blobs(config)?;
    let platform = Platform {
        store: database.metadata_store(),
        queue,
        blobs,
        registry: Arc::new(registry()),
        max_attempts: config.queue.max_attempts,
    };
    Ok(Backends { platform, database })
}

/// Opens the metadata database (creating the data directory for SQLite) and applies migrations.
pub async fn open_database(config: &Config) -> anyhow::Result<Database> {
    let url = config.metadata.url.expose_secret();
    if url.starts_with("sqlite://") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
    }
    let database = Database::connect(url, config.metadata.max_connections)
        .await
        .context("connect to the metadata database")?;
    database
        .migrate()
        .await
        .context("migrate the metadata database")?;
    Ok(database)
}

/// Opens the configured blob store.
pub fn open_blobs(config: &Config) -> anyhow::Result<Arc<dyn veil_blob::BlobStore>> {
    let s3 = veil_blob::S3Settings {
        endpoint: config.blob.s3.endpoint.clone(),
        region: config.blob.s3.region.clone(),
        access_key_id: config
            .blob
            .s3
            .access_key_id
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
        secret_access_key: config
            .blob
            .s3
            .secret_access_key
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
        allow_http: config.blob.s3.allow_http,
    };
    veil_blob::open(&config.blob.url, &s3).context("open the blob store")
}

/// The job kinds every Veil process can run: the built-in test kinds, linkage runs (whose
/// comparison tasks use every core), the source profile and the synth kinds.
fn registry() -> Registry {
    let mut registry = Registry::with_builtin_kinds();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    registry.register(Arc::new(veil_entity_service::runs::LinkageRunJob::new(
        threads,
    )));
    registry.register(Arc::new(veil_dispatch::SourceProfileJob::default()));
    // synth.generate runs on hub workers too: they open models with this process's root key.
    let keys = veil_dispatch::RootKeys::from_env_map(&veil_environment());
    registry.register(Arc::new(veil_dispatch::SynthTrainJob::default()));
    registry.register(Arc::new(veil_dispatch::SynthGenerateJob::new(keys)));
    registry.register(Arc::new(veil_dispatch::SynthAnalyseJob::default()));
    registry
}

/// A task runner with the configured lease and heartbeat. Tasks that name a secure `environment` go
/// to that environment's dispatcher through `links`; the others run in this process or, with
/// `runner = "kubernetes"`, as Kubernetes Jobs.
pub async fn task_runner(
    config: &Config,
    platform: &Platform,
    links: &crate::dispatch::DispatchLinks,
) -> anyhow::Result<TaskRunner> {
    let runner = TaskRunner::new(platform.clone(), config.queue.lease, config.queue.heartbeat);
    let inner = match config.runner {
        RunnerKind::Process => None,
        RunnerKind::Kubernetes => {
            let executor = crate::kube::task_executor(config, platform).await?;
            tracing::info!(
                namespace = %config.kubernetes.namespace,
                "tasks run as Kubernetes Jobs (runner = \"kubernetes\")"
            );
            Some(executor)
        }
    };
    let executor = veil_dispatch::DispatchExecutor::new(
        Arc::clone(&links.queues),
        Arc::clone(&links.status),
        platform.blobs.clone(),
        platform.store.clone(),
        inner,
        config.queue.max_attempts,
    );
    Ok(runner.with_executor(Arc::new(executor)))
}
