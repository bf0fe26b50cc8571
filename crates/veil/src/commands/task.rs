//! `veil task run --task-id ID`: runs one stored task's handler in this process and commits its result,
//! as the Kubernetes Job of `runner = "kubernetes"` does. The worker that created the Job keeps the
//! task's lease, state and retries; a failure here ends the process non-zero with the error, which the
//! Job's pod log (and so the task's error) shows.

use clap::{Args, Subcommand};
use veil_domain::TaskId;

use super::process;
use crate::cli::ProcessArgs;
use crate::platform;

/// `veil task …`
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Run one stored task here and commit its result.
    Run(RunArgs),
}

/// Arguments of `veil task run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    process: ProcessArgs,
    /// The task to run.
    #[arg(long)]
    task_id: String,
}

/// Runs a `veil task` subcommand.
pub async fn run(command: TaskCommand) -> anyhow::Result<()> {
    let TaskCommand::Run(args) = command;
    let task_id: TaskId = args
        .task_id
        .parse()
        .map_err(|err: veil_domain::IdParseError| crate::UsageError(err.to_string()))?;
    let config = process::load(&args.process)?;
    let backends = platform::connect(&config).await?;
    let cancel = process::shutdown_on_signal();
    let result =
        veil_service::run_task_standalone(&backends.platform, task_id, cancel.clone()).await;
    backends.database.close().await;
    match result {
        Ok(key) => {
            tracing::info!(task = %task_id, result = %key, "task succeeded");
            Ok(())
        }
        Err(err) if err.permanent => Err(anyhow::anyhow!("task {task_id} failed for good: {err}")),
        Err(err) => Err(anyhow::anyhow!("task {task_id} failed: {err}")),
    }
}
