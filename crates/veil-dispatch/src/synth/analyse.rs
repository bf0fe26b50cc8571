//! `synth.analyse`: private table + synthetic CSV or Parquet (+ holdout) → sealed report, computed
//! inside the secure environment so that only aggregates leave it, and those only sealed. The
//! synthetic table is read from the object store whole, into memory (the kernel's analysis works on in-memory tables).

use std::collections::HashSet;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Value};
use veil_blob::BlobError;
use veil_service::TaskError;
use veil_synth::{
    analyse, read_raw_csv, render_html, type_raw_table, ColumnOverride, RawTable, ReadOptions,
    Table,
};

use super::environment_job::{EnvironmentJob, EnvironmentTaskParams};
use super::{run_blocking, seal_error, synth_error, AnalyseParams, RootKeys, REPORT_CONTEXT};
use crate::tables::read_parquet;
use crate::{DispatchContext, DispatchTask};

/// The first bytes of every Parquet file.
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// The task and job kind.
pub const SYNTH_ANALYSE: &str = "synth.analyse";

/// The `format` field of the sealed bundle: `{"format", "report": {…}, "html": "…"}`.
pub const REPORT_FORMAT: &str = "veil-synth-report-v1";

/// The hub's job kind: one task for the named environment; the job's result is the sealed bundle.
pub type SynthAnalyseJob = EnvironmentJob<AnalyseParams>;

impl EnvironmentTaskParams for AnalyseParams {
    const KIND: &'static str = SYNTH_ANALYSE;

    fn check(params: &Value) -> Result<(), String> {
        AnalyseParams::parse(params).map(|_| ())
    }
}

/// The dispatcher's handler.
pub struct SynthAnalyseTask {
    keys: RootKeys,
}

impl SynthAnalyseTask {
    /// A handler sealing reports with `keys`.
    pub fn new(keys: RootKeys) -> Self {
        Self { keys }
    }
}

/// Reads `raw` with each column typed as the real table's column of the same name.
fn typed_like(real: &Table, raw: RawTable, what: &str) -> Result<Table, TaskError> {
    let present: HashSet<&String> = raw.names.iter().collect();
    let overrides = real
        .columns()
        .iter()
        .filter(|column| present.contains(&column.name))
        .map(|column| ColumnOverride {
            name: column.name.clone(),
            kind: Some(column.kind()),
            exclude: false,
        })
        .collect();
    let options = ReadOptions {
        overrides,
        ..ReadOptions::default()
    };
    let (table, _) = type_raw_table(raw, &options)
        .map_err(|err| synth_error(&format!("read the {what}"), err))?;
    Ok(table)
}

#[async_trait]
impl DispatchTask for SynthAnalyseTask {
    fn kind(&self) -> &'static str {
        SYNTH_ANALYSE
    }

    async fn run(&self, ctx: &DispatchContext) -> Result<Bytes, TaskError> {
        let params = AnalyseParams::parse(&ctx.message.params).map_err(TaskError::permanent)?;
        let ring = self.keys.ring()?;
        ctx.report_progress(0, None, Some("reading the tables"));
        let raw_real = ctx
            .sources
            .read_table(&params.source, &params.path)
            .await
            .map_err(|err| TaskError::permanent(err.to_string()))?;
        let holdout = match &params.holdout {
            Some(path) => Some(
                ctx.sources
                    .read_table(&params.source, path)
                    .await
                    .map_err(|err| TaskError::permanent(err.to_string()))?,
            ),
            None => None,
        };
        let synthetic_key = params.synthetic_key().map_err(TaskError::permanent)?;
        let synthetic = match ctx.blobs.get(&synthetic_key).await {
            Ok(bytes) => bytes,
            Err(BlobError::NotFound { .. }) => {
                return Err(TaskError::permanent(format!(
                    "no synthetic table at {synthetic_key}: the generate job has not succeeded, or \
                     the reference is wrong"
                )))
            }
            Err(err) => {
                return Err(TaskError::retryable(format!(
                    "read the synthetic table: {err}"
                )))
            }
        };
        let report = |current, total, description: Option<&str>| {
            ctx.report_progress(current, total, description)
        };
        run_blocking(&ctx.cancel, &report, move |progress| {
            let (real, _) = type_raw_table(raw_real, &params.read_options())
                .map_err(|err| synth_error("read the table", err))?;
            // A generate job writes CSV or Parquet; Parquet files start with its magic bytes.
            let synthetic = if synthetic.starts_with(PARQUET_MAGIC) {
                read_parquet(synthetic, &synthetic_key).map_err(|err| {
                    TaskError::permanent(format!("read the synthetic table: {err}"))
                })?
            } else {
                read_raw_csv(&synthetic[..])
                    .map_err(|err| synth_error("read the synthetic table", err))?
            };
            // Only the modelled columns are compared: identifiers and excluded ones are not in it.
            let modelled: HashSet<String> = synthetic.names.iter().cloned().collect();
            let kept = real
                .into_columns()
                .into_iter()
                .filter(|column| modelled.contains(&column.name))
                .collect();
            let real = Table::new(kept).map_err(|err| synth_error("read the table", err))?;
            let synthetic = typed_like(&real, synthetic, "synthetic table")?;
            let holdout = match holdout {
                Some(raw) => Some(typed_like(&real, raw, "holdout")?),
                None => None,
            };
            progress.check()?;
            progress.report(real.row_count() as u64, "analysing");
            let analysis = analyse(
                &real,
                &synthetic,
                holdout.as_ref(),
                &params.analyse_options(),
            )
            .map_err(|err| synth_error("analyse", err))?;
            progress.check()?;
            progress.report(real.row_count() as u64, "sealing the report");
            let html = render_html(&analysis);
            let bundle = json!({"format": REPORT_FORMAT, "report": analysis, "html": html});
            let sealed = veil_seal::seal(bundle.to_string().as_bytes(), &ring, REPORT_CONTEXT)
                .map_err(|err| seal_error("seal the report", err))?;
            Ok(Bytes::from(sealed))
        })
        .await
    }
}
