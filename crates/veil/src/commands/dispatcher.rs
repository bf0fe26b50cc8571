//! `veil dispatcher`: the secure environment's process. It takes tasks for `dispatcher.environment`
//! from the broker, reads the private sources configured here and nowhere else, writes results to
//! the shared object store and reports status back; it needs no metadata database.

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::cli::ProcessArgs;
use crate::dispatch::{self, STATUS_EXCHANGE};

/// Runs the dispatcher until SIGTERM or SIGINT.
pub async fn run(
    process: ProcessArgs,
    environment: Option<String>,
    concurrency: Option<u32>,
) -> anyhow::Result<()> {
    let mut config = super::process::load(&process)?;
    if let Some(environment) = environment {
        config.dispatcher.environment = environment;
    }
    if let Some(concurrency) = concurrency {
        if concurrency == 0 {
            return Err(crate::UsageError("--concurrency must be at least 1".into()).into());
        }
        config.dispatcher.concurrency = concurrency;
    }
    let queue = dispatch::environment_queue(&config).await?;
    let url = config
        .queue
        .url
        .as_ref()
        .map(|url| url.expose_secret().to_string())
        .unwrap_or_default();
    let status = veil_dispatch::RabbitStatusChannel::connect(&url, STATUS_EXCHANGE)
        .await
        .context("connect the status channel to the broker (queue.url)")?;
    let blobs = crate::platform::open_blobs(&config)?;
    let dispatcher = dispatch::dispatcher(&config, queue, blobs, Arc::new(status));
    tracing::info!(
        environment = %config.dispatcher.environment,
        sources = config.dispatcher.sources.len(),
        "veil dispatcher is running"
    );
    Arc::new(dispatcher)
        .run(super::process::shutdown_on_signal())
        .await;
    Ok(())
}
