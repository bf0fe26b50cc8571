//! `synth.generate`: sealed model → N synthetic rows, streamed as CSV or Parquet (params.format)
//! into the object store.
//!
//! It needs only the model, so without an `environment` it runs on the hub's own workers (which then
//! need the root key); with one, that environment's dispatcher runs it. The rows are written to
//! [`staging_key`] while they are drawn (memory stays bounded whatever the row count); the task's
//! result is a small summary, and the job's final step copies the file, again chunk by chunk, to the
//! job's result. The file is not sealed: synthetic rows are the product, meant to be shared.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use veil_blob::{BlobError, BlobStore};
use veil_domain::{JobId, TaskSpec};
use veil_service::{job_result_key, JobKind, TaskContext, TaskError};
use veil_synth::{sample_to_csv, sample_to_parquet, AnyModel, SynthError};

use super::stream::{channel, copy_object};
use super::{
    run_blocking, seal_error, synth_error, GenerateParams, OutputFormat, Reporter, RootKeys,
    MODEL_CONTEXT,
};
use crate::{DispatchContext, DispatchTask};

/// The task and job kind.
pub const SYNTH_GENERATE: &str = "synth.generate";

/// Where a generate job's task streams its rows in `format`, before the final step makes the file
/// the job's result.
pub fn staging_key(job: JobId, format: OutputFormat) -> String {
    format!("jobs/{job}/synthetic.{}", format.extension())
}

/// Opens the sealed model, draws the rows into [`staging_key`] and returns a summary.
async fn generate(
    blobs: Arc<dyn BlobStore>,
    keys: &RootKeys,
    params: &Value,
    job: JobId,
    cancel: &CancellationToken,
    report: Reporter<'_>,
) -> Result<Bytes, TaskError> {
    let params = GenerateParams::parse(params).map_err(TaskError::permanent)?;
    let ring = keys.ring()?;
    let model_key = params.model_key().map_err(TaskError::permanent)?;
    let sealed = match blobs.get(&model_key).await {
        Ok(sealed) => sealed,
        Err(BlobError::NotFound { .. }) => {
            return Err(TaskError::permanent(format!(
            "no model at {model_key}: the train job has not succeeded, or the reference is wrong"
        )))
        }
        Err(err) => return Err(TaskError::retryable(format!("read the model: {err}"))),
    };
    report(0, Some(params.rows), Some("opening the model"));
    let model = run_blocking(cancel, report, move |_| {
        let json = veil_seal::open(&sealed, &ring, MODEL_CONTEXT)
            .map_err(|err| seal_error("open the model", err))?;
        let json = String::from_utf8(json)
            .map_err(|_| TaskError::permanent("open the model: it is not a model document"))?;
        AnyModel::from_json(&json).map_err(|err| synth_error("open the model", err))
    })
    .await?;

    let (rows, seed, format) = (params.rows, params.seed(job), params.format);
    let key = staging_key(job, format);
    let (writer, source, lines) = channel(cancel.child_token());
    let sampling = tokio::task::spawn_blocking(move || {
        let count = usize::try_from(rows).map_err(|_| SynthError::Model("too many rows".into()))?;
        let writer = match format {
            OutputFormat::Csv => sample_to_csv(&model, count, seed, writer)?,
            OutputFormat::Parquet => sample_to_parquet(&model, count, seed, writer)?,
        };
        writer
            .finish()
            .map_err(|err| SynthError::Write(err.to_string()))
    });
    let upload = blobs.put_stream(&key, source);
    tokio::pin!(upload);
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    let stored = loop {
        tokio::select! {
            stored = &mut upload => break stored,
            // Parquet has no lines to count: its rows are known once the file is written.
            _ = beat.tick() => match format {
                OutputFormat::Csv => {
                    let written = lines.load(Ordering::Relaxed).saturating_sub(1);
                    report(written, Some(rows), Some("rows written"));
                }
                OutputFormat::Parquet => report(0, Some(rows), Some("writing Parquet")),
            }
        }
    };
    let sampled = sampling
        .await
        .map_err(|err| TaskError::retryable(err.to_string()))?;
    if cancel.is_cancelled() {
        return Err(TaskError::retryable("cancelled"));
    }
    let bytes = match (stored, sampled) {
        (_, Err(err)) if !matches!(err, SynthError::Write(_)) => {
            return Err(synth_error("sample the model", err))
        }
        (Err(err), _) => {
            return Err(TaskError::retryable(format!(
                "store the synthetic rows: {err}"
            )))
        }
        (Ok(_), Err(err)) => return Err(TaskError::retryable(err.to_string())),
        (Ok(bytes), Ok(())) => bytes,
    };
    report(rows, Some(rows), Some("rows written"));
    let summary = json!({
        "rows": rows,
        "seed": seed,
        "format": format.extension(),
        "bytes": bytes,
        "key": key,
    });
    Ok(Bytes::from(summary.to_string()))
}

/// The hub's job kind. Its task runs on the hub's workers, or in `environment` when one is given;
/// the job's result is the synthetic CSV or Parquet file.
pub struct SynthGenerateJob {
    keys: RootKeys,
}

impl SynthGenerateJob {
    /// The kind; hub workers open models with `keys`.
    pub fn new(keys: RootKeys) -> Self {
        Self { keys }
    }
}

#[async_trait]
impl JobKind for SynthGenerateJob {
    fn name(&self) -> &'static str {
        SYNTH_GENERATE
    }

    fn plan(&self, params: &Value) -> Result<Vec<TaskSpec>, String> {
        GenerateParams::parse(params)?;
        Ok(vec![TaskSpec {
            kind: SYNTH_GENERATE.to_string(),
            params: params.clone(),
        }])
    }

    async fn run_task(&self, ctx: &TaskContext) -> Result<Bytes, TaskError> {
        let report = |current, total, description: Option<&str>| {
            ctx.report_progress(current, total, description)
        };
        let blobs = Arc::clone(&ctx.blobs);
        generate(
            blobs,
            &self.keys,
            &ctx.params,
            ctx.job.id,
            &ctx.cancel,
            &report,
        )
        .await
    }

    async fn finalize(
        &self,
        ctx: &TaskContext,
        _task_results: &[String],
    ) -> Result<Option<Bytes>, TaskError> {
        // The final step's own params are empty: the format is the job's.
        let params = GenerateParams::parse(&ctx.job.params).map_err(TaskError::permanent)?;
        let staging = staging_key(ctx.job.id, params.format);
        let result = job_result_key(ctx.job.id);
        match copy_object(ctx.blobs.as_ref(), &staging, &result).await {
            Ok(_) => {}
            // An earlier attempt copied it and removed the staging object.
            Err(BlobError::NotFound { .. }) if ctx.blobs.head(&result).await.is_ok() => {}
            Err(err) => {
                return Err(TaskError::retryable(format!(
                    "copy the synthetic rows: {err}"
                )))
            }
        }
        if let Err(err) = ctx.blobs.delete(&staging).await {
            tracing::warn!(job = %ctx.job.id, error = %err, "cannot remove the staged synthetic rows");
        }
        // The result is committed above, in chunks; nothing more to store.
        Ok(None)
    }
}

/// The dispatcher's handler, for a generate job sent to an environment.
pub struct SynthGenerateTask {
    keys: RootKeys,
}

impl SynthGenerateTask {
    /// A handler opening models with `keys`.
    pub fn new(keys: RootKeys) -> Self {
        Self { keys }
    }
}

#[async_trait]
impl DispatchTask for SynthGenerateTask {
    fn kind(&self) -> &'static str {
        SYNTH_GENERATE
    }

    async fn run(&self, ctx: &DispatchContext) -> Result<Bytes, TaskError> {
        let report = |current, total, description: Option<&str>| {
            ctx.report_progress(current, total, description)
        };
        let blobs = Arc::clone(&ctx.blobs);
        let job = ctx.message.job_id;
        generate(
            blobs,
            &self.keys,
            &ctx.message.params,
            job,
            &ctx.cancel,
            &report,
        )
        .await
    }
}
