//! The batch/v1 Job that runs one task: its name, labels, container, resources and security settings.
//!
//! Building the Job is pure (no I/O), so the exact object the runner submits is unit-tested here and
//! compared against a golden file in the crate's integration tests.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecretEnvSource, SecretVolumeSource, SecurityContext,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use veil_domain::QueueItem;

use crate::KubeRunnerError;

/// The most characters a Kubernetes label value or DNS-1123 label may have.
pub const MAX_NAME_LENGTH: usize = 63;
/// Prefix of every task Job's name.
pub const JOB_NAME_PREFIX: &str = "veil-task-";
/// Label naming the task a Job runs.
pub const TASK_ID_LABEL: &str = "veil.dev/task-id";
/// Label naming the Veil job a task belongs to.
pub const JOB_ID_LABEL: &str = "veil.dev/job-id";
/// Label the Job controller puts on the pods of a Job, with the Job's name.
pub const JOB_NAME_POD_LABEL: &str = "batch.kubernetes.io/job-name";
/// Name of the container that runs the task.
pub const TASK_CONTAINER: &str = "task";

/// CPU and memory requests and limits of the task container (Kubernetes quantities, e.g. `500m`, `1Gi`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceSettings {
    /// CPU request.
    pub cpu_request: Option<String>,
    /// Memory request.
    pub memory_request: Option<String>,
    /// CPU limit.
    pub cpu_limit: Option<String>,
    /// Memory limit.
    pub memory_limit: Option<String>,
}

/// How task Jobs are built and watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRunnerSettings {
    /// Namespace the Jobs are created in.
    pub namespace: String,
    /// Container image with the `veil` binary.
    pub image: String,
    /// Service account of the task pods; the namespace's default when absent.
    pub service_account: Option<String>,
    /// Pod restarts the Job controller tries before it marks the Job failed.
    pub backoff_limit: i32,
    /// Seconds a finished Job is kept before Kubernetes deletes it; kept forever when absent.
    pub ttl_seconds_after_finished: Option<i32>,
    /// Requests and limits of the task container.
    pub resources: ResourceSettings,
    /// Extra environment variables of the task container, in order.
    pub env: Vec<(String, String)>,
    /// A Secret whose keys become environment variables (e.g. `VEIL_METADATA_URL`).
    pub env_from_secret: Option<String>,
    /// The program the container runs, given `task run --task-id ID` as arguments; empty runs the
    /// image's entrypoint (which must be the `veil` binary).
    pub command: Vec<String>,
    /// Log lines collected from each pod of a failed Job.
    pub log_tail_lines: u32,
    /// Extra volumes mounted into the task container (e.g. a dispatcher's config and private data).
    pub volumes: Vec<MountedVolume>,
    /// How often a running Job's status is read.
    pub poll_interval: Duration,
}

impl TaskRunnerSettings {
    /// Settings with the defaults: backoff limit 2, finished Jobs kept one hour, the image's
    /// entrypoint, 50 log lines, status read every two seconds.
    pub fn new(namespace: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            image: image.into(),
            service_account: None,
            backoff_limit: 2,
            ttl_seconds_after_finished: Some(3600),
            resources: ResourceSettings::default(),
            env: Vec::new(),
            env_from_secret: None,
            command: Vec::new(),
            log_tail_lines: 50,
            volumes: Vec::new(),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// What backs a [`MountedVolume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A PersistentVolumeClaim by name.
    Claim(String),
    /// A ConfigMap by name.
    ConfigMap(String),
    /// A Secret by name.
    Secret(String),
}

/// A volume mounted into task containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedVolume {
    /// The volume's name in the pod (a DNS-1123 label, not `tmp`).
    pub name: String,
    /// What backs it.
    pub source: VolumeSource,
    /// Where it is mounted.
    pub mount_path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

fn pod_volume(volume: &MountedVolume) -> Volume {
    let mut pod_volume = Volume {
        name: volume.name.clone(),
        ..Default::default()
    };
    match &volume.source {
        VolumeSource::Claim(claim) => {
            pod_volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: Some(volume.read_only),
            })
        }
        VolumeSource::ConfigMap(name) => {
            pod_volume.config_map = Some(ConfigMapVolumeSource {
                name: name.clone(),
                ..Default::default()
            })
        }
        VolumeSource::Secret(name) => {
            pod_volume.secret = Some(SecretVolumeSource {
                secret_name: Some(name.clone()),
                ..Default::default()
            })
        }
    }
    pod_volume
}

/// A DNS-1123 label (lowercase letters, digits and `-`, starting and ending with a letter or digit, at
/// most 63 characters) made from `prefix` and `id`. Other characters become `-`; runs of `-` collapse.
/// `None` when nothing usable is left of `id`.
pub fn dns_label(prefix: &str, id: &str) -> Option<String> {
    let mut cleaned = String::with_capacity(id.len());
    for character in id.chars() {
        let character = character.to_ascii_lowercase();
        if character.is_ascii_lowercase() || character.is_ascii_digit() {
            cleaned.push(character);
        } else if !cleaned.is_empty() && !cleaned.ends_with('-') {
            cleaned.push('-');
        }
    }
    let cleaned = cleaned.trim_end_matches('-');
    if cleaned.is_empty() {
        return None;
    }
    let mut name = format!("{prefix}{cleaned}");
    name.truncate(MAX_NAME_LENGTH);
    Some(name.trim_end_matches('-').to_string())
}

/// The name of the Job that runs task `task_id`: the same for every delivery of the task.
pub fn job_name(task_id: &str) -> Result<String, KubeRunnerError> {
    dns_label(JOB_NAME_PREFIX, task_id)
        .ok_or_else(|| KubeRunnerError::InvalidTaskId(task_id.to_string()))
}

/// The labels of a task's Job and of its pods.
pub fn task_labels(item: &QueueItem) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "veil".to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            "task".to_string(),
        ),
        (TASK_ID_LABEL.to_string(), item.task_id.to_string()),
        (JOB_ID_LABEL.to_string(), item.job_id.to_string()),
    ])
}

fn quantities(cpu: &Option<String>, memory: &Option<String>) -> Option<BTreeMap<String, Quantity>> {
    let mut map = BTreeMap::new();
    if let Some(cpu) = cpu {
        map.insert("cpu".to_string(), Quantity(cpu.clone()));
    }
    if let Some(memory) = memory {
        map.insert("memory".to_string(), Quantity(memory.clone()));
    }
    (!map.is_empty()).then_some(map)
}

fn resources(settings: &ResourceSettings) -> Option<ResourceRequirements> {
    let requests = quantities(&settings.cpu_request, &settings.memory_request);
    let limits = quantities(&settings.cpu_limit, &settings.memory_limit);
    if requests.is_none() && limits.is_none() {
        return None;
    }
    Some(ResourceRequirements {
        requests,
        limits,
        ..Default::default()
    })
}

/// The Job that runs `item` with `veil task run --task-id ID`: never restarted in place, retried by the
/// Job controller up to the backoff limit, as a non-root user on a read-only root file system with
/// every capability dropped and the runtime's default seccomp profile. `/tmp` is a writable scratch
/// volume.
pub fn build_job(item: &QueueItem, settings: &TaskRunnerSettings) -> Result<Job, KubeRunnerError> {
    build_job_with_args(item, settings, task_run_args(item))
}

/// The arguments of a task Job's container by default: `task run --task-id ID`.
pub fn task_run_args(item: &QueueItem) -> Vec<String> {
    vec![
        "task".to_string(),
        "run".to_string(),
        "--task-id".to_string(),
        item.task_id.to_string(),
    ]
}

/// [`build_job`] with other container arguments (e.g. a dispatcher's `dispatcher run-message …`, which
/// needs no metadata database); everything else about the Job is the same.
pub fn build_job_with_args(
    item: &QueueItem,
    settings: &TaskRunnerSettings,
    args: Vec<String>,
) -> Result<Job, KubeRunnerError> {
    let task_id = item.task_id.to_string();
    let name = job_name(&task_id)?;
    let labels = task_labels(item);
    let command = (!settings.command.is_empty()).then(|| settings.command.clone());
    let env: Vec<EnvVar> = settings
        .env
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(value.clone()),
            ..Default::default()
        })
        .collect();
    let env_from = settings.env_from_secret.as_ref().map(|secret| {
        vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: secret.clone(),
                optional: Some(false),
            }),
            ..Default::default()
        }]
    });
    let container = Container {
        name: TASK_CONTAINER.to_string(),
        image: Some(settings.image.clone()),
        command,
        args: Some(args),
        env: (!env.is_empty()).then_some(env),
        env_from,
        resources: resources(&settings.resources),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                add: None,
            }),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..Default::default()
        }),
        volume_mounts: Some(
            std::iter::once(VolumeMount {
                name: "tmp".to_string(),
                mount_path: "/tmp".to_string(),
                ..Default::default()
            })
            .chain(settings.volumes.iter().map(|volume| VolumeMount {
                name: volume.name.clone(),
                mount_path: volume.mount_path.clone(),
                read_only: Some(volume.read_only),
                ..Default::default()
            }))
            .collect(),
        ),
        ..Default::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".to_string()),
        service_account_name: settings.service_account.clone(),
        automount_service_account_token: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..Default::default()
        }),
        containers: vec![container],
        volumes: Some(
            std::iter::once(Volume {
                name: "tmp".to_string(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            })
            .chain(settings.volumes.iter().map(pod_volume))
            .collect(),
        ),
        ..Default::default()
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(settings.backoff_limit),
            ttl_seconds_after_finished: settings.ttl_seconds_after_finished,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        status: None,
    })
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_string(),
        localhost_profile: None,
    }
}

#[cfg(test)]
mod tests {
    use veil_domain::{JobId, TaskId};

    use super::*;

    fn item() -> QueueItem {
        let job_id = JobId("7b0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3".parse().unwrap());
        QueueItem {
            task_id: TaskId::for_job(job_id, 3),
            job_id,
            index: 3,
            kind: "sleep".to_string(),
            params: serde_json::json!({"millis": 5}),
            max_attempts: 5,
        }
    }

    #[test]
    fn names_are_dns_labels_of_at_most_63_characters() {
        let uuid = "0F8FAD5B-D9CB-469F-A165-70867728950E";
        assert_eq!(
            job_name(uuid).unwrap(),
            "veil-task-0f8fad5b-d9cb-469f-a165-70867728950e"
        );
        assert_eq!(dns_label("p-", "a__b..C").as_deref(), Some("p-a-b-c"));
        let long = "x".repeat(100) + "-y";
        let name = job_name(&long).unwrap();
        assert_eq!(name.len(), MAX_NAME_LENGTH);
        let cut_at_dash = dns_label("veil-task-", &("a".repeat(52) + "-bbbb")).unwrap();
        assert!(!cut_at_dash.ends_with('-'), "{cut_at_dash}");
        assert!(matches!(
            job_name("--__--"),
            Err(KubeRunnerError::InvalidTaskId(_))
        ));
        assert!(job_name("").is_err());
    }

    #[test]
    fn job_runs_the_task_command_hardened_and_never_restarts() {
        let settings = TaskRunnerSettings::new("veil", "ghcr.io/example/veil:1");
        let item = item();
        let job = build_job(&item, &settings).unwrap();
        let spec = job.spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(2));
        assert_eq!(spec.ttl_seconds_after_finished, Some(3600));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let container = &pod.containers[0];
        assert_eq!(container.command, None, "the image's entrypoint runs");
        let args = container.args.clone().unwrap();
        assert_eq!(args[..3], ["task", "run", "--task-id"]);
        assert_eq!(args[3], item.task_id.to_string());
        let security = container.security_context.clone().unwrap();
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.run_as_non_root, Some(true));
        assert_eq!(security.capabilities.unwrap().drop.unwrap(), ["ALL"]);
        assert!(container.resources.is_none(), "no empty resources object");
        let labels = job.metadata.labels.unwrap();
        assert_eq!(labels[TASK_ID_LABEL], item.task_id.to_string());
        assert_eq!(labels[JOB_ID_LABEL], item.job_id.to_string());
    }

    #[test]
    fn only_the_configured_resources_are_set() {
        let mut settings = TaskRunnerSettings::new("veil", "veil:1");
        settings.resources.memory_limit = Some("1Gi".to_string());
        let job = build_job(&item(), &settings).unwrap();
        let pod = job.spec.unwrap().template.spec.unwrap();
        let resources = pod.containers[0].resources.clone().unwrap();
        assert!(resources.requests.is_none());
        assert_eq!(
            resources.limits.unwrap()["memory"],
            Quantity("1Gi".to_string())
        );
    }
}
