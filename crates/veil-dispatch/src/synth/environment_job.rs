//! [`EnvironmentJob`]: a hub job kind whose one task only a secure environment runs (the hub's
//! `DispatchExecutor` forwards it there); the job's result is that task's result.

use std::marker::PhantomData;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;
use veil_domain::TaskSpec;
use veil_service::{JobKind, TaskContext, TaskError};

use super::copy_task_result;

/// What an [`EnvironmentJob`] needs from its parameters type.
pub trait EnvironmentTaskParams {
    /// The job and task kind.
    const KIND: &'static str;

    /// Checks the parameters when the job is submitted, naming the one at fault.
    fn check(params: &Value) -> Result<(), String>;
}

/// A job of one task run in a secure environment, its parameters checked by `P`.
pub struct EnvironmentJob<P>(PhantomData<fn() -> P>);

impl<P> Default for EnvironmentJob<P> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

#[async_trait]
impl<P: EnvironmentTaskParams + 'static> JobKind for EnvironmentJob<P> {
    fn name(&self) -> &'static str {
        P::KIND
    }

    fn plan(&self, params: &Value) -> Result<Vec<TaskSpec>, String> {
        P::check(params)?;
        Ok(vec![TaskSpec {
            kind: P::KIND.to_string(),
            params: params.clone(),
        }])
    }

    async fn run_task(&self, _ctx: &TaskContext) -> Result<Bytes, TaskError> {
        Err(TaskError::permanent(format!(
            "{} runs in a secure environment, and this worker has no dispatch set up",
            P::KIND
        )))
    }

    async fn finalize(
        &self,
        ctx: &TaskContext,
        task_results: &[String],
    ) -> Result<Option<Bytes>, TaskError> {
        copy_task_result(ctx, task_results).await
    }
}
