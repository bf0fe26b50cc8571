//! Composition of the Kubernetes pieces: the task executor behind `runner = "kubernetes"` and the
//! Service registration of `veil serve --register-k8s`, both built from the validated config.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use veil_config::{Config, KubernetesConfig, KubernetesVolumeSource, RegistrationConfig};
use veil_domain::{JobState, QueueItem};
use veil_kube::{
    ApiSettings, Channel, KubeRunnerError, KubernetesTaskRunner, Placement, PortSettings,
    Registration, RegistrationSettings, ResourceSettings, TaskRunnerSettings,
};
use veil_service::{JobKind, Platform, TaskContext, TaskError, TaskExecutor};

/// Runs each task as a Kubernetes Job executing `veil task run --task-id ID`, which commits the task's
/// result itself. When the worker must stop following the task (its lease was lost, or the process is
/// shutting down) the Job is left running, so that the task's next delivery adopts it; only a cancelled
/// job's Job is deleted.
struct KubernetesExecutor {
    runner: KubernetesTaskRunner,
    platform: Platform,
}

#[async_trait]
impl TaskExecutor for KubernetesExecutor {
    async fn execute(
        &self,
        _kind: Arc<dyn JobKind>,
        ctx: &TaskContext,
        item: &QueueItem,
    ) -> Result<Option<Bytes>, TaskError> {
        let follow = CancellationToken::new();
        tokio::select! {
            result = self.runner.run(item, follow.clone()) => match result {
                Ok(()) => Ok(None),
                Err(err @ KubeRunnerError::InvalidTaskId(_)) => Err(TaskError::permanent(err.to_string())),
                Err(err) => Err(TaskError::retryable(err.to_string())),
            },
            _ = ctx.cancel.cancelled() => {
                let cancelled = matches!(
                    self.platform.store.get_job(item.job_id).await,
                    Ok(job) if job.state == JobState::Cancelled
                );
                if cancelled {
                    if let Err(err) = self.runner.cancel(item).await {
                        tracing::warn!(task = %item.task_id, error = %err, "deleting the cancelled task's Job failed");
                    }
                }
                Err(TaskError::retryable("stopped following the task's Kubernetes Job"))
            }
        }
    }
}

fn runner_settings(config: &KubernetesConfig) -> anyhow::Result<TaskRunnerSettings> {
    let image = config
        .image
        .clone()
        .context("kubernetes.image is required when runner = \"kubernetes\"")?;
    let mut settings = TaskRunnerSettings::new(config.namespace.clone(), image);
    settings.service_account = config.service_account.clone();
    settings.backoff_limit = i32::try_from(config.backoff_limit).unwrap_or(i32::MAX);
    settings.ttl_seconds_after_finished =
        Some(i32::try_from(config.ttl_seconds_after_finished).unwrap_or(i32::MAX));
    settings.resources = ResourceSettings {
        cpu_request: config.cpu_request.clone(),
        memory_request: config.memory_request.clone(),
        cpu_limit: config.cpu_limit.clone(),
        memory_limit: config.memory_limit.clone(),
    };
    settings.env = config
        .env
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    settings.env_from_secret = config.env_from_secret.clone();
    settings.command = config.command.clone();
    settings.log_tail_lines = config.log_tail_lines;
    settings.volumes = config
        .volumes
        .iter()
        .map(|volume| veil_kube::MountedVolume {
            name: volume.name.clone(),
            source: match &volume.source {
                KubernetesVolumeSource::Claim(name) => veil_kube::VolumeSource::Claim(name.clone()),
                KubernetesVolumeSource::ConfigMap(name) => {
                    veil_kube::VolumeSource::ConfigMap(name.clone())
                }
                KubernetesVolumeSource::Secret(name) => {
                    veil_kube::VolumeSource::Secret(name.clone())
                }
            },
            mount_path: volume.mount_path.clone(),
            read_only: volume.read_only,
        })
        .collect();
    Ok(settings)
}

/// The executor for `runner = "kubernetes"`: Jobs in `kubernetes.namespace`, through the in-cluster
/// service account (or the kubeconfig).
pub async fn task_executor(
    config: &Config,
    platform: &Platform,
) -> anyhow::Result<Arc<dyn TaskExecutor>> {
    Ok(Arc::new(KubernetesExecutor {
        runner: job_runner(config).await?,
        platform: platform.clone(),
    }))
}

/// Jobs in `kubernetes.namespace` as `[kubernetes]` describes them, through the in-cluster service
/// account (or the kubeconfig).
async fn job_runner(config: &Config) -> anyhow::Result<KubernetesTaskRunner> {
    let settings = runner_settings(&config.kubernetes)?;
    let api = ApiSettings {
        namespace: Some(settings.namespace.clone()),
        ..Default::default()
    };
    let client = veil_kube::connect(&api)
        .await
        .context("connect to the Kubernetes API for runner = \"kubernetes\"")?;
    Ok(KubernetesTaskRunner::new(client, settings))
}

/// A dispatcher's task runner for `runner = "kubernetes"`: each task message runs as a Job in
/// `kubernetes.namespace` whose pod runs `veil dispatcher run-message` with the dispatcher's config
/// file (mount it, and the sources, with `kubernetes.volumes`).
pub async fn message_runner(
    config: &Config,
    config_path: Option<std::path::PathBuf>,
) -> anyhow::Result<Arc<dyn veil_dispatch::MessageRunner>> {
    Ok(Arc::new(KubernetesMessageRunner {
        runner: job_runner(config).await?,
        config_path,
    }))
}

/// Runs dispatcher task messages as Kubernetes Jobs.
struct KubernetesMessageRunner {
    runner: KubernetesTaskRunner,
    config_path: Option<std::path::PathBuf>,
}

#[async_trait::async_trait]
impl veil_dispatch::MessageRunner for KubernetesMessageRunner {
    async fn run(
        &self,
        message: &veil_dispatch::DispatchMessage,
        item: &veil_domain::QueueItem,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<(), veil_service::TaskError> {
        let args =
            crate::commands::dispatcher::run_message_args(message, self.config_path.as_ref());
        self.runner
            .run_with_args(item, args, cancel)
            .await
            .map_err(|err| veil_service::TaskError::retryable(err.to_string()))
    }
}

/// Whether this process runs in a Kubernetes cluster: `registration.in_cluster`, or else whether
/// `KUBERNETES_SERVICE_HOST` is set.
fn in_cluster(config: &RegistrationConfig) -> bool {
    config
        .in_cluster
        .unwrap_or_else(|| std::env::var_os("KUBERNETES_SERVICE_HOST").is_some())
}

/// The registration `veil serve --register-k8s` performs, from `[registration]`.
pub async fn registration(config: &Config) -> anyhow::Result<Registration> {
    let registration = &config.registration;
    let api = ApiSettings {
        api_url: registration.api_url.clone(),
        token_file: registration.token_file.clone(),
        client_cert_file: registration.client_cert_file.clone(),
        client_key_file: registration.client_key_file.clone(),
        ca_file: registration.ca_file.clone(),
        namespace: Some(registration.namespace.clone()),
    };
    let (channel, api_host) = match &registration.file_path {
        Some(dir) => (Channel::File(dir.clone()), None),
        None => {
            let client_config = veil_kube::client_config(&api)
                .await
                .context("configure the Kubernetes API for --register-k8s")?;
            let host = client_config.cluster_url.host().map(|host| {
                let port = client_config.cluster_url.port_u16().unwrap_or(443);
                (host.trim_matches(['[', ']']).to_string(), port)
            });
            let client = veil_kube::Client::try_from(client_config)
                .context("build the Kubernetes client for --register-k8s")?;
            (Channel::Api(client), host)
        }
    };
    let placement = if in_cluster(registration) {
        Placement::InCluster {
            selector: registration.selector.clone(),
        }
    } else {
        let address = match (registration.address, api_host) {
            (Some(address), _) => address,
            (None, Some((host, port))) => veil_kube::detect_address(&host, port)?,
            (None, None) => anyhow::bail!(crate::UsageError(
                "registration.address must be set to register through registration.file_path \
                 from outside the cluster"
                    .into()
            )),
        };
        Placement::OutOfCluster { address }
    };
    let settings = RegistrationSettings {
        namespace: registration.namespace.clone(),
        service_name: registration.service_name.clone(),
        ports: registration
            .ports
            .iter()
            .map(|port| PortSettings {
                name: port.name.clone(),
                port: port.port,
                target_port: port.target_port,
            })
            .collect(),
        placement,
    };
    Ok(Registration::new(settings, channel)?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn runner_settings_follow_the_config() {
        let env = HashMap::from([
            ("VEIL_RUNNER".to_string(), "kubernetes".to_string()),
            ("VEIL_KUBERNETES_IMAGE".to_string(), "veil:1".to_string()),
            ("VEIL_KUBERNETES_NAMESPACE".to_string(), "tasks".to_string()),
        ]);
        let config = Config::load(None, &env).unwrap();
        let settings = runner_settings(&config.kubernetes).unwrap();
        assert_eq!(settings.image, "veil:1");
        assert_eq!(settings.namespace, "tasks");
        assert_eq!(settings.backoff_limit, 2);
        assert_eq!(settings.ttl_seconds_after_finished, Some(3600));
        assert_eq!(settings.log_tail_lines, 50);
        assert!(settings.command.is_empty());
    }

    #[tokio::test]
    async fn file_channel_registration_needs_no_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let env = HashMap::from([
            (
                "VEIL_REGISTRATION_FILE_PATH".to_string(),
                dir.path().display().to_string(),
            ),
            (
                "VEIL_REGISTRATION_IN_CLUSTER".to_string(),
                "false".to_string(),
            ),
            (
                "VEIL_REGISTRATION_ADDRESS".to_string(),
                "10.9.8.7".to_string(),
            ),
        ]);
        let config = Config::load(None, &env).unwrap();
        let registration = registration(&config).await.unwrap();
        registration.register().await.unwrap();
        let written =
            std::fs::read_to_string(dir.path().join("create-endpoints-veil.json")).unwrap();
        assert!(written.contains("10.9.8.7"), "{written}");
    }
}
