//! Built-in job kinds used to exercise the platform: `sleep` (N tasks that each take a while) and `echo`.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;
use veil_domain::TaskSpec;

use crate::{JobKind, TaskContext, TaskError};

/// Most tasks a `sleep` job may fan out into.
const MAX_SLEEP_TASKS: u32 = 100_000;

/// Parameters of a `sleep` job.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepParams {
    /// How many tasks to fan out into.
    tasks: u32,
    /// How long each task sleeps.
    #[serde(default)]
    millis: u64,
    /// Tasks with an index below this fail their first attempt (to exercise retries).
    #[serde(default)]
    fail_first_attempt_below: u32,
}

/// `sleep`: fans out into `tasks` tasks that each sleep `millis` ms, reporting progress, and return their
/// index; the final step collects every task's result into one JSON document.
pub struct SleepJob;

fn parse_params<T: for<'de> Deserialize<'de>>(
    kind: &str,
    params: &serde_json::Value,
) -> Result<T, String> {
    serde_json::from_value(params.clone())
        .map_err(|err| format!("invalid `{kind}` parameters: {err}"))
}

#[async_trait]
impl JobKind for SleepJob {
    fn name(&self) -> &'static str {
        "sleep"
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Vec<TaskSpec>, String> {
        let parsed: SleepParams = parse_params("sleep", params)?;
        if parsed.tasks == 0 || parsed.tasks > MAX_SLEEP_TASKS {
            return Err(format!(
                "params.tasks must be between 1 and {MAX_SLEEP_TASKS}, got {}",
                parsed.tasks
            ));
        }
        if parsed.millis > 3_600_000 {
            return Err(format!(
                "params.millis must be at most 3600000, got {}",
                parsed.millis
            ));
        }
        let spec = |_| TaskSpec {
            kind: "sleep".into(),
            params: params.clone(),
        };
        Ok((0..parsed.tasks).map(spec).collect())
    }

    async fn run_task(&self, ctx: &TaskContext) -> Result<Bytes, TaskError> {
        let params: SleepParams =
            parse_params("sleep", &ctx.params).map_err(TaskError::permanent)?;
        if ctx.index < params.fail_first_attempt_below && ctx.attempt == 1 {
            return Err(TaskError::retryable(format!(
                "task {} fails its first attempt on purpose",
                ctx.index
            )));
        }
        const STEPS: u64 = 10;
        for step in 0..STEPS {
            ctx.report_progress(step, Some(STEPS), Some("sleeping"));
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(TaskError::retryable("interrupted")),
                _ = tokio::time::sleep(Duration::from_millis(params.millis / STEPS)) => {}
            }
        }
        ctx.report_progress(STEPS, Some(STEPS), Some("done"));
        let result = serde_json::json!({ "index": ctx.index });
        Ok(Bytes::from(result.to_string()))
    }

    async fn finalize(
        &self,
        ctx: &TaskContext,
        task_results: &[String],
    ) -> Result<Option<Bytes>, TaskError> {
        let mut results = Vec::with_capacity(task_results.len());
        for key in task_results {
            let bytes = ctx
                .blobs
                .get(key)
                .await
                .map_err(|err| TaskError::retryable(err.to_string()))?;
            let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|err| {
                TaskError::permanent(format!("task result {key} is not JSON: {err}"))
            })?;
            results.push(value);
        }
        Ok(Some(Bytes::from(
            serde_json::json!({ "results": results }).to_string(),
        )))
    }
}

/// `echo`: one task that returns `params.message`.
pub struct EchoJob;

#[async_trait]
impl JobKind for EchoJob {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Vec<TaskSpec>, String> {
        match params.get("message") {
            Some(serde_json::Value::String(_)) => Ok(vec![TaskSpec {
                kind: "echo".into(),
                params: params.clone(),
            }]),
            _ => Err("params.message must be a string".into()),
        }
    }

    async fn run_task(&self, ctx: &TaskContext) -> Result<Bytes, TaskError> {
        let message = ctx
            .params
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        Ok(Bytes::from(message.to_string()))
    }
}
