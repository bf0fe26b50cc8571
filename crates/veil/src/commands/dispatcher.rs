//! `veil dispatcher`: the secure environment's process. It takes tasks for `dispatcher.environment`
//! from the broker, reads the private sources configured here and nowhere else, writes results to
//! the shared object store and reports status back; it needs no metadata database. With
//! `runner = "kubernetes"` each task runs as a Kubernetes Job in the dispatcher's namespace, whose pod
//! runs `veil dispatcher run-message`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::{Args, Subcommand};
use secrecy::ExposeSecret;
use veil_config::{Config, RunnerKind};
use veil_dispatch::{DispatchMessage, MESSAGE_VERSION};

use crate::cli::ProcessArgs;
use crate::dispatch::{self, STATUS_EXCHANGE};
use crate::UsageError;

/// `veil dispatcher …`
#[derive(Debug, Args)]
pub struct DispatcherArgs {
    #[command(subcommand)]
    action: Option<DispatcherAction>,
    #[command(flatten)]
    process: ProcessArgs,
    /// The environment whose tasks to take (overrides `dispatcher.environment`).
    #[arg(long)]
    environment: Option<String>,
    /// Tasks run at once (overrides `dispatcher.concurrency`).
    #[arg(long)]
    concurrency: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum DispatcherAction {
    /// Run one task message here and commit its result (what a dispatcher's task Job runs).
    RunMessage {
        /// The task message: base64 of its JSON.
        #[arg(long)]
        message: String,
    },
}

/// Runs the dispatcher until SIGTERM or SIGINT, or one message.
pub async fn run(args: DispatcherArgs) -> anyhow::Result<()> {
    let mut config = super::process::load(&args.process)?;
    if let Some(environment) = args.environment {
        config.dispatcher.environment = environment;
    }
    if let Some(concurrency) = args.concurrency {
        if concurrency == 0 {
            return Err(UsageError("--concurrency must be at least 1".into()).into());
        }
        config.dispatcher.concurrency = concurrency;
    }
    match args.action {
        Some(DispatcherAction::RunMessage { message }) => run_message(&config, &message).await,
        None => serve(config, args.process.config).await,
    }
}

async fn serve(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
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
    let mut dispatcher = dispatch::dispatcher(&config, queue, blobs, Arc::new(status));
    if config.runner == RunnerKind::Kubernetes {
        let runner = crate::kube::message_runner(&config, config_path).await?;
        dispatcher = dispatcher.with_runner(runner);
        tracing::info!(namespace = %config.kubernetes.namespace, "tasks run as Kubernetes Jobs");
    }
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

/// The pod's side: decode the message, run it with this environment's sources, commit the result.
async fn run_message(config: &Config, encoded: &str) -> anyhow::Result<()> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|err| UsageError(format!("--message is not base64: {err}")))?;
    let message: DispatchMessage = serde_json::from_slice(&bytes)
        .map_err(|err| UsageError(format!("--message is not a task message: {err}")))?;
    if message.version != MESSAGE_VERSION {
        return Err(UsageError(format!(
            "task message version {} is not supported (this binary speaks {MESSAGE_VERSION})",
            message.version
        ))
        .into());
    }
    let blobs = crate::platform::open_blobs(config)?;
    let handlers = dispatch::handlers(config, blobs);
    let cancel = super::process::shutdown_on_signal();
    handlers
        .run_here(message, 1, cancel)
        .await
        .map_err(|err| anyhow::anyhow!("the task failed: {}", err.message))
}

/// The pod arguments that run `message` with the dispatcher's config file.
pub fn run_message_args(message: &DispatchMessage, config_path: Option<&PathBuf>) -> Vec<String> {
    let mut args = vec!["dispatcher".to_string()];
    if let Some(path) = config_path {
        args.push("--config".to_string());
        args.push(path.display().to_string());
    }
    args.push("run-message".to_string());
    args.push("--message".to_string());
    args.push(STANDARD.encode(serde_json::to_vec(message).unwrap_or_default()));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_arguments_carry_the_config_and_the_message() {
        let job_id = veil_domain::JobId::new_random();
        let message = DispatchMessage {
            version: MESSAGE_VERSION,
            task_id: veil_domain::TaskId::for_job(job_id, 0),
            job_id,
            index: 0,
            kind: "source.profile".into(),
            params: serde_json::json!({"source": "clinic"}),
            result_key: "jobs/x/result".into(),
        };
        let args = run_message_args(&message, Some(&PathBuf::from("/etc/veil/veil.toml")));
        assert_eq!(
            args[..5],
            [
                "dispatcher",
                "--config",
                "/etc/veil/veil.toml",
                "run-message",
                "--message"
            ]
        );
        let decoded: DispatchMessage =
            serde_json::from_slice(&STANDARD.decode(&args[5]).unwrap()).unwrap();
        assert_eq!(decoded, message);
    }
}
