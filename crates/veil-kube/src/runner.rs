//! Runs one task as a Kubernetes Job: create it (or adopt the one a previous delivery created), follow its
//! status until it succeeds or fails, collect the pods' last log lines on failure, and delete it on
//! cancellation.
//!
//! The Job's name is derived from the task id, so a redelivered task finds the Job its earlier delivery
//! created (HTTP 409 on create) and follows that one instead of starting a second copy. A Job that had
//! already failed when it was found belongs to an earlier attempt: it is deleted and created afresh.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::Client;
use tokio_util::sync::CancellationToken;
use veil_domain::QueueItem;

use crate::job_spec::{
    build_job_with_args, job_name, task_run_args, JOB_NAME_POD_LABEL, TASK_CONTAINER,
};
use crate::{KubeRunnerError, TaskRunnerSettings};

/// How many times creating a Job is retried while a failed Job of the same name is still being deleted.
const RECREATE_ATTEMPTS: u32 = 30;

/// Where a Job stands, from its status conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Still running (or not started).
    Running,
    /// The `Complete` condition is true.
    Succeeded,
    /// The `Failed` condition is true; the reason and message of the condition.
    Failed(String),
}

/// The outcome of `job` according to its `Complete` and `Failed` conditions.
pub fn job_outcome(job: &Job) -> JobOutcome {
    let conditions = job
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    for condition in conditions {
        if condition.status != "True" {
            continue;
        }
        match condition.type_.as_str() {
            "Complete" => return JobOutcome::Succeeded,
            "Failed" => {
                let reason = condition.reason.as_deref().unwrap_or("no reason given");
                let reason = match condition.message.as_deref() {
                    Some(message) if !message.is_empty() => format!("{reason}: {message}"),
                    _ => reason.to_string(),
                };
                return JobOutcome::Failed(reason);
            }
            _ => {}
        }
    }
    JobOutcome::Running
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(response) if response.code == code)
}

/// Runs tasks as Jobs in one namespace.
#[derive(Clone)]
pub struct KubernetesTaskRunner {
    client: Client,
    settings: TaskRunnerSettings,
}

impl KubernetesTaskRunner {
    /// A runner that submits Jobs through `client` as `settings` describe.
    pub fn new(client: Client, settings: TaskRunnerSettings) -> Self {
        Self { client, settings }
    }

    /// The settings Jobs are built with.
    pub fn settings(&self) -> &TaskRunnerSettings {
        &self.settings
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.settings.namespace)
    }

    /// Runs `item` as a Job and waits until it finishes. `cancel` deletes the Job (its pods are removed
    /// in the background) and returns [`KubeRunnerError::Cancelled`].
    pub async fn run(
        &self,
        item: &QueueItem,
        cancel: CancellationToken,
    ) -> Result<(), KubeRunnerError> {
        self.run_with_args(item, task_run_args(item), cancel).await
    }

    /// [`run`](Self::run) with the container given `args` instead of `task run --task-id ID`.
    pub async fn run_with_args(
        &self,
        item: &QueueItem,
        args: Vec<String>,
        cancel: CancellationToken,
    ) -> Result<(), KubeRunnerError> {
        let job = build_job_with_args(item, &self.settings, args)?;
        let name = job_name(&item.task_id.to_string())?;
        let mut current = tokio::select! {
            biased;
            _ = cancel.cancelled() => return self.cancelled(&name).await,
            created = self.create_or_adopt(&name, &job) => created?,
        };
        loop {
            match job_outcome(&current) {
                JobOutcome::Succeeded => {
                    tracing::debug!(job = %name, "task Job succeeded");
                    return Ok(());
                }
                JobOutcome::Failed(reason) => {
                    let logs = self.log_tail(&name).await;
                    return Err(KubeRunnerError::Failed {
                        job: name,
                        reason,
                        logs,
                    });
                }
                JobOutcome::Running => {}
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return self.cancelled(&name).await,
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
            current = match self.jobs().get(&name).await {
                Ok(job) => job,
                Err(err) if is_status(&err, 404) => {
                    return Err(KubeRunnerError::Disappeared { job: name })
                }
                Err(err) => return Err(KubeRunnerError::api("read", &name, err)),
            };
        }
    }

    /// Deletes the Job of `item`, if there is one; its pods are removed in the background.
    pub async fn cancel(&self, item: &QueueItem) -> Result<(), KubeRunnerError> {
        let name = job_name(&item.task_id.to_string())?;
        self.delete(&name).await
    }

    async fn cancelled(&self, name: &str) -> Result<(), KubeRunnerError> {
        self.delete(name).await?;
        tracing::info!(job = %name, "task Job deleted on cancellation");
        Err(KubeRunnerError::Cancelled {
            job: name.to_string(),
        })
    }

    async fn delete(&self, name: &str) -> Result<(), KubeRunnerError> {
        match self.jobs().delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(err) if is_status(&err, 404) => Ok(()),
            Err(err) => Err(KubeRunnerError::api("delete", name, err)),
        }
    }

    /// Creates the Job; on 409 adopts the existing one, unless that one already failed (an earlier
    /// attempt's), which is replaced.
    async fn create_or_adopt(&self, name: &str, job: &Job) -> Result<Job, KubeRunnerError> {
        let jobs = self.jobs();
        let mut replaced_failed = false;
        for _ in 0..RECREATE_ATTEMPTS {
            match jobs.create(&PostParams::default(), job).await {
                Ok(created) => {
                    tracing::info!(job = %name, namespace = %self.settings.namespace, "task Job created");
                    return Ok(created);
                }
                Err(err) if is_status(&err, 409) => {}
                Err(err) => return Err(KubeRunnerError::api("create", name, err)),
            }
            let existing = match jobs.get(name).await {
                Ok(existing) => existing,
                // Deleted between our create and get: try creating again.
                Err(err) if is_status(&err, 404) => continue,
                Err(err) => return Err(KubeRunnerError::api("read", name, err)),
            };
            let failed = matches!(job_outcome(&existing), JobOutcome::Failed(_));
            let terminating = existing.metadata.deletion_timestamp.is_some();
            if !failed && !terminating {
                tracing::info!(job = %name, "task Job already exists; following it");
                return Ok(existing);
            }
            if failed && !replaced_failed {
                tracing::info!(job = %name, "task Job of an earlier attempt failed; replacing it");
                self.delete(name).await?;
                replaced_failed = true;
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
        Err(KubeRunnerError::api(
            "create",
            name,
            kube::Error::Api(kube::core::ErrorResponse {
                status: "Failure".to_string(),
                message: "a failed Job of the same name is still being deleted".to_string(),
                reason: "AlreadyExists".to_string(),
                code: 409,
            }),
        ))
    }

    /// The last `log_tail_lines` lines of each pod of Job `name`, oldest pod first. Never fails: what
    /// cannot be read is described instead.
    async fn log_tail(&self, name: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let selector = ListParams::default().labels(&format!("{JOB_NAME_POD_LABEL}={name}"));
        let mut list = match pods.list(&selector).await {
            Ok(list) => list.items,
            Err(err) => return format!("(cannot list the Job's pods: {err})"),
        };
        if list.is_empty() {
            return "(the Job has no pods left)".to_string();
        }
        list.sort_by(|a, b| {
            let created = |pod: &Pod| pod.metadata.creation_timestamp.clone();
            created(a).cmp(&created(b))
        });
        let params = LogParams {
            container: Some(TASK_CONTAINER.to_string()),
            tail_lines: Some(i64::from(self.settings.log_tail_lines)),
            ..Default::default()
        };
        let mut out = String::new();
        for pod in list {
            let pod_name = pod.metadata.name.unwrap_or_default();
            out.push_str(&format!("--- pod {pod_name} ---\n"));
            match pods.logs(&pod_name, &params).await {
                Ok(text) => {
                    out.push_str(text.trim_end());
                    out.push('\n');
                }
                Err(err) => out.push_str(&format!("(cannot read the log: {err})\n")),
            }
        }
        out.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    use super::*;

    fn job_with(conditions: &[(&str, &str)]) -> Job {
        Job {
            status: Some(JobStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(type_, status)| JobCondition {
                            type_: type_.to_string(),
                            status: status.to_string(),
                            reason: Some("BackoffLimitExceeded".to_string()),
                            message: Some("Job has reached the specified backoff limit".into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn outcome_follows_the_true_terminal_condition() {
        assert_eq!(job_outcome(&Job::default()), JobOutcome::Running);
        assert_eq!(
            job_outcome(&job_with(&[("Failed", "False"), ("Suspended", "True")])),
            JobOutcome::Running
        );
        assert_eq!(
            job_outcome(&job_with(&[
                ("SuccessCriteriaMet", "True"),
                ("Complete", "True")
            ])),
            JobOutcome::Succeeded
        );
        assert_eq!(
            job_outcome(&job_with(&[("Failed", "True")])),
            JobOutcome::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
    }
}
