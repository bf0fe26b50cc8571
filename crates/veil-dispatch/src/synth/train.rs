//! `synth.train`: private table → sealed model, inside the secure environment.

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;
use veil_service::TaskError;
use veil_synth::{prepare, type_raw_table};

use super::environment_job::{EnvironmentJob, EnvironmentTaskParams};
use super::{run_blocking, seal_error, synth_error, RootKeys, TrainParams, MODEL_CONTEXT};
use crate::{DispatchContext, DispatchTask};

/// The task and job kind.
pub const SYNTH_TRAIN: &str = "synth.train";

/// The hub's job kind: one task for the named environment; the job's result is the sealed model.
pub type SynthTrainJob = EnvironmentJob<TrainParams>;

impl EnvironmentTaskParams for TrainParams {
    const KIND: &'static str = SYNTH_TRAIN;

    fn check(params: &Value) -> Result<(), String> {
        TrainParams::parse(params).map(|_| ())
    }
}

/// The dispatcher's handler: reads the table through the environment's sources, suppresses rare
/// values, fits, and returns the model sealed under the root key (context `model`).
pub struct SynthTrainTask {
    keys: RootKeys,
}

impl SynthTrainTask {
    /// A handler sealing with `keys`.
    pub fn new(keys: RootKeys) -> Self {
        Self { keys }
    }
}

#[async_trait]
impl DispatchTask for SynthTrainTask {
    fn kind(&self) -> &'static str {
        SYNTH_TRAIN
    }

    async fn run(&self, ctx: &DispatchContext) -> Result<Bytes, TaskError> {
        let params = TrainParams::parse(&ctx.message.params).map_err(TaskError::permanent)?;
        // Before any reading: without a key nothing could be kept.
        let ring = self.keys.ring()?;
        ctx.report_progress(0, None, Some("reading the table"));
        let raw = ctx
            .sources
            .read_table(&params.source, &params.path)
            .await
            .map_err(|err| TaskError::permanent(err.to_string()))?;
        let spec = params.spec().map_err(TaskError::permanent)?;
        let report = |current, total, description: Option<&str>| {
            ctx.report_progress(current, total, description)
        };
        run_blocking(&ctx.cancel, &report, move |progress| {
            let (table, schema) = type_raw_table(raw, &params.read_options())
                .map_err(|err| synth_error("read the table", err))?;
            progress.check()?;
            let rows = table.row_count() as u64;
            progress.report(rows, "suppressing rare values");
            let prepared = prepare(&table, &schema, &params.prepare_options())
                .map_err(|err| synth_error("prepare the table", err))?;
            drop(table);
            progress.check()?;
            progress.report(rows, "fitting the model");
            let model = spec
                .fit(&prepared)
                .map_err(|err| synth_error("fit the model", err))?;
            progress.check()?;
            progress.report(rows, "sealing the model");
            let json = model
                .to_json()
                .map_err(|err| synth_error("serialise the model", err))?;
            let sealed = veil_seal::seal(json.as_bytes(), &ring, MODEL_CONTEXT)
                .map_err(|err| seal_error("seal the model", err))?;
            Ok(Bytes::from(sealed))
        })
        .await
    }
}
