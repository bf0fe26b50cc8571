//! Composition of the secure-environment dispatch: the environments' queues and the status channel
//! the hub's workers use, and the dispatcher that runs in `veil serve` (embedded) or as
//! `veil dispatcher` (on the broker).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use veil_blob::BlobStore;
use veil_config::{Config, SourceConfig};
use veil_dispatch::{
    DispatchHandlers, DispatchTask, Dispatcher, DispatcherSettings, EnvironmentQueues,
    LocalStatusChannel, RabbitStatusChannel, RootKeys, S3Settings, Source, SourceProfileTask,
    Sources, StatusChannel, SynthAnalyseTask, SynthGenerateTask, SynthTrainTask,
};
use veil_queue::{QueueSettings, SqlQueue, TaskQueue};

/// The broker exchange that carries dispatched tasks' status.
pub const STATUS_EXCHANGE: &str = "veil.status";

/// How the hub reaches secure environments.
pub struct DispatchLinks {
    /// Each environment's queue.
    pub queues: Arc<EnvironmentQueues>,
    /// Status from the dispatchers.
    pub status: Arc<dyn StatusChannel>,
    /// Without a broker: the embedded environment's queue, for the in-process dispatcher.
    pub local: Option<Arc<dyn TaskQueue>>,
}

fn queue_settings(config: &Config) -> QueueSettings {
    QueueSettings {
        backoff_base: config.queue.backoff_base,
        backoff_max: config.queue.backoff_max,
    }
}

/// With `queue.url`, every environment's queue on the broker. Without, the one embedded environment
/// (`dispatcher.environment`, `local` by default) on a SQLite queue in the data directory, which the
/// in-process dispatcher of `veil serve` consumes; `embedded = false` (a `veil worker` on PostgreSQL,
/// which may be on another machine) reaches no environment at all, so such tasks fail at once with
/// a message naming `queue.url` instead of waiting for a dispatcher that never comes.
pub async fn links(config: &Config, embedded: bool) -> anyhow::Result<DispatchLinks> {
    if let Some(url) = &config.queue.url {
        let url = url.expose_secret();
        let status = RabbitStatusChannel::connect(url, STATUS_EXCHANGE)
            .await
            .context("connect the status channel to the broker (queue.url)")?;
        return Ok(DispatchLinks {
            queues: Arc::new(EnvironmentQueues::broker(url, queue_settings(config))),
            status: Arc::new(status),
            local: None,
        });
    }
    if !embedded {
        return Ok(DispatchLinks {
            queues: Arc::new(EnvironmentQueues::fixed(HashMap::new())),
            status: Arc::new(LocalStatusChannel::default()),
            local: None,
        });
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
    let url = format!("sqlite://{}", config.data_dir.join("dispatch.db").display());
    let database = veil_metadata::Database::connect(&url, 4)
        .await
        .context("open the embedded dispatch queue")?;
    database
        .migrate()
        .await
        .context("migrate the embedded dispatch queue")?;
    let queue: Arc<dyn TaskQueue> = Arc::new(SqlQueue::new(&database, queue_settings(config)));
    let environment = config.dispatcher.environment.clone();
    Ok(DispatchLinks {
        queues: Arc::new(EnvironmentQueues::fixed(HashMap::from([(
            environment,
            Arc::clone(&queue),
        )]))),
        status: Arc::new(LocalStatusChannel::default()),
        local: Some(queue),
    })
}

/// The configured private sources. An S3 source whose (already validated) settings the client still
/// refuses is logged and left out, so tasks naming it fail as for any unknown source.
fn sources(config: &Config) -> Sources {
    let mut sources = Sources::new();
    for (name, source) in &config.dispatcher.sources {
        let source = match source {
            SourceConfig::Files { root } => Source::Files { root: root.clone() },
            SourceConfig::Postgres { url, max_rows } => Source::Postgres {
                url: url.clone(),
                max_rows: *max_rows,
            },
            SourceConfig::S3 { bucket, prefix, s3 } => {
                let settings = S3Settings {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    endpoint: s3.endpoint.clone(),
                    region: s3.region.clone(),
                    access_key_id: s3.access_key_id.clone(),
                    secret_access_key: s3.secret_access_key.clone(),
                    allow_http: s3.allow_http,
                };
                match Source::s3(settings) {
                    Ok(source) => source,
                    Err(error) => {
                        tracing::error!(source = %name, %error, "private source left out");
                        continue;
                    }
                }
            }
        };
        sources.insert(name.clone(), source);
    }
    sources
}

/// Every task kind this build runs in a secure environment. The synth kinds seal and open with the
/// root key of this process's environment (`VEIL_ROOT_KEY` / `VEIL_ROOT_KEY_FILE`), read per task.
fn tasks() -> Vec<Arc<dyn DispatchTask>> {
    let keys = RootKeys::from_env_map(&crate::platform::veil_environment());
    vec![
        Arc::new(SourceProfileTask),
        Arc::new(SynthTrainTask::new(keys.clone())),
        Arc::new(SynthGenerateTask::new(keys.clone())),
        Arc::new(SynthAnalyseTask::new(keys)),
    ]
}

/// Every task kind this build runs in a secure environment, with the configured sources.
pub fn handlers(config: &Config, blobs: Arc<dyn BlobStore>) -> DispatchHandlers {
    let mut handlers = DispatchHandlers::new(blobs, sources(config));
    for task in tasks() {
        handlers.register(task);
    }
    handlers
}

/// A dispatcher with every task kind this build has.
pub fn dispatcher(
    config: &Config,
    queue: Arc<dyn TaskQueue>,
    blobs: Arc<dyn BlobStore>,
    status: Arc<dyn StatusChannel>,
) -> Dispatcher {
    let settings = DispatcherSettings {
        environment: config.dispatcher.environment.clone(),
        concurrency: config.dispatcher.concurrency,
        lease: config.queue.lease,
        heartbeat: config.queue.heartbeat,
        poll_interval: config.queue.poll_interval,
    };
    let mut dispatcher = Dispatcher::new(queue, blobs, sources(config), status, settings);
    for task in tasks() {
        dispatcher.register(task);
    }
    dispatcher
}

/// Without a broker, runs the embedded environment's dispatcher in this process.
pub fn spawn_embedded(
    config: &Config,
    links: &DispatchLinks,
    blobs: Arc<dyn BlobStore>,
    shutdown: &CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let queue = links.local.clone()?;
    let dispatcher = dispatcher(config, queue, blobs, Arc::clone(&links.status));
    Some(tokio::spawn(Arc::new(dispatcher).run(shutdown.clone())))
}

/// `veil dispatcher`'s queue: environment `dispatcher.environment` on the broker.
pub async fn environment_queue(config: &Config) -> anyhow::Result<Arc<dyn TaskQueue>> {
    let Some(url) = &config.queue.url else {
        return Err(crate::UsageError(
            "veil dispatcher needs the broker it takes tasks from: set queue.url (VEIL_QUEUE_URL or \
             VEIL_QUEUE_URL_FILE)"
                .into(),
        )
        .into());
    };
    let settings = EnvironmentQueues::rabbit_settings(
        url.expose_secret(),
        queue_settings(config),
        &config.dispatcher.environment,
    );
    let queue = veil_queue::RabbitQueue::connect(settings)
        .await
        .context("connect to the broker (queue.url)")?;
    Ok(Arc::new(queue))
}
