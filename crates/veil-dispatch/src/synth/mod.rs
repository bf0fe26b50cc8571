//! Synthetic data across the secure-environment boundary.
//!
//! * `synth.train` ([`SynthTrainJob`], [`SynthTrainTask`]) runs in a secure environment: it reads a
//!   private table, suppresses rare values, fits a model and returns it sealed (context `model`).
//! * `synth.generate` ([`SynthGenerateJob`], [`SynthGenerateTask`]) needs only the sealed model, so
//!   without an `environment` it runs on the hub's own workers; it streams the synthetic rows as
//!   plain CSV into the object store (synthetic data is the product, so it is not sealed).
//! * `synth.analyse` ([`SynthAnalyseJob`], [`SynthAnalyseTask`]) runs in a secure environment: the
//!   private table, the synthetic CSV and an optional holdout go in, and a sealed bundle (context
//!   `report`) of the report's JSON and HTML comes out, so only aggregates ever leave.
//!
//! Task parameters carry names, paths and job ids only, never data. The root key is read from
//! `VEIL_ROOT_KEY` / `VEIL_ROOT_KEY_FILE` of the process that runs the task ([`RootKeys`]).

mod analyse;
mod environment_job;
mod generate;
mod params;
mod stream;
mod train;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use veil_seal::{KeyRing, SealError};
use veil_service::{TaskContext, TaskError};
use veil_synth::SynthError;

pub use analyse::{SynthAnalyseJob, SynthAnalyseTask, REPORT_FORMAT, SYNTH_ANALYSE};
pub use environment_job::{EnvironmentJob, EnvironmentTaskParams};
pub use generate::{staging_key, SynthGenerateJob, SynthGenerateTask, SYNTH_GENERATE};
pub use params::{AnalyseParams, GenerateParams, OutputFormat, TrainParams};
pub use train::{SynthTrainJob, SynthTrainTask, SYNTH_TRAIN};

/// The seal context of models.
pub const MODEL_CONTEXT: &str = "model";
/// The seal context of report bundles.
pub const REPORT_CONTEXT: &str = "report";

/// Where the root key comes from: a snapshot of the `VEIL_ROOT_KEY` / `VEIL_ROOT_KEY_FILE`
/// variables, read into a [`KeyRing`] for each task (so a rotated key file is picked up).
#[derive(Clone, Default)]
pub struct RootKeys {
    env: HashMap<String, String>,
}

impl std::fmt::Debug for RootKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKeys { [kept secret] }")
    }
}

impl RootKeys {
    /// Keys from a snapshot of the environment; only the two root-key variables are kept.
    pub fn from_env_map(env: &HashMap<String, String>) -> Self {
        let env = [veil_seal::ROOT_KEY_ENV, veil_seal::ROOT_KEY_FILE_ENV]
            .into_iter()
            .filter_map(|name| Some((name.to_string(), env.get(name)?.clone())))
            .collect();
        Self { env }
    }

    /// The key ring; without a usable key, a permanent task failure saying how to give one.
    pub fn ring(&self) -> Result<KeyRing, TaskError> {
        KeyRing::from_env_map(&self.env).map_err(|err| {
            TaskError::permanent(format!("cannot load the root key on this process: {err}"))
        })
    }
}

/// A kernel error as a permanent task failure, without any cell value (an unparsable value is
/// named by its row and column only).
pub(crate) fn synth_error(what: &str, err: SynthError) -> TaskError {
    let message = match err {
        SynthError::InvalidValue {
            row, column, kind, ..
        } => format!("row {row}, column {column:?}: a value is not a valid {kind}"),
        other => other.to_string(),
    };
    TaskError::permanent(format!("{what}: {message}"))
}

/// A seal error as a permanent task failure (a wrong key or a corrupt file will not heal).
pub(crate) fn seal_error(what: &str, err: SealError) -> TaskError {
    TaskError::permanent(format!("{what}: {err}"))
}

/// Progress of blocking work, sent to the task's reporter; also tells the work to stop.
pub(crate) struct Progress {
    sender: tokio::sync::mpsc::UnboundedSender<(u64, String)>,
    cancel: CancellationToken,
}

impl Progress {
    /// Reports `current` with a description.
    pub(crate) fn report(&self, current: u64, description: &str) {
        let _ = self.sender.send((current, description.to_string()));
    }

    /// Fails with a retryable error once the task must stop.
    pub(crate) fn check(&self) -> Result<(), TaskError> {
        if self.cancel.is_cancelled() {
            return Err(TaskError::retryable("cancelled"));
        }
        Ok(())
    }
}

/// Reports progress the way both task contexts do.
pub(crate) type Reporter<'a> = &'a (dyn Fn(u64, Option<u64>, Option<&str>) + Send + Sync);

/// Runs `work` on a blocking thread, relaying its progress to `report`, until it ends or `cancel`
/// fires.
pub(crate) async fn run_blocking<T: Send + 'static>(
    cancel: &CancellationToken,
    report: Reporter<'_>,
    work: impl FnOnce(&Progress) -> Result<T, TaskError> + Send + 'static,
) -> Result<T, TaskError> {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let progress = Progress {
        sender,
        cancel: cancel.child_token(),
    };
    let stop = progress.cancel.clone();
    let running = tokio::task::spawn_blocking(move || work(&progress));
    tokio::pin!(running);
    let outcome = loop {
        tokio::select! {
            done = &mut running => break done.map_err(|err| TaskError::retryable(err.to_string()))?,
            Some((current, description)) = receiver.recv() => report(current, None, Some(&description)),
            _ = cancel.cancelled() => {
                stop.cancel();
                return Err(TaskError::retryable("cancelled"));
            }
        }
    };
    outcome
}

/// The hub's final step for kinds whose job result is their one task's result.
pub(crate) async fn copy_task_result(
    ctx: &TaskContext,
    task_results: &[String],
) -> Result<Option<Bytes>, TaskError> {
    let Some(key) = task_results.first() else {
        return Ok(None);
    };
    let bytes = ctx
        .blobs
        .get(key)
        .await
        .map_err(|err| TaskError::retryable(err.to_string()))?;
    Ok(Some(bytes))
}
