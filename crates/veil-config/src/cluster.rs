//! The Kubernetes settings: which runner executes tasks (`runner`), how task Jobs are built
//! (`[kubernetes]`) and how `veil serve --register-k8s` registers the server as a Service
//! (`[registration]`). Credential files are only named here; they are read when the API is called.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::env::KeySources;
use crate::file::{KubernetesSection, RegistrationSection};
use crate::ConfigError;

/// Where a claimed task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerKind {
    /// In the worker process (the default).
    Process,
    /// In a Kubernetes Job per task, running `veil task run --task-id ID`.
    Kubernetes,
}

/// How task Jobs are built (`[kubernetes]`); used when `runner = "kubernetes"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesConfig {
    /// Namespace of the task Jobs.
    pub namespace: String,
    /// Image with the `veil` binary; required with `runner = "kubernetes"`.
    pub image: Option<String>,
    /// Service account of the task pods.
    pub service_account: Option<String>,
    /// Pod retries of the Job controller before the Job fails.
    pub backoff_limit: u32,
    /// Seconds a finished Job is kept.
    pub ttl_seconds_after_finished: u32,
    /// CPU request of the task container (a Kubernetes quantity).
    pub cpu_request: Option<String>,
    /// Memory request of the task container.
    pub memory_request: Option<String>,
    /// CPU limit of the task container.
    pub cpu_limit: Option<String>,
    /// Memory limit of the task container.
    pub memory_limit: Option<String>,
    /// Log lines of each pod included in a failed task's error.
    pub log_tail_lines: u32,
    /// A Secret whose keys become the task pods' environment (e.g. `VEIL_METADATA_URL`).
    pub env_from_secret: Option<String>,
    /// Extra environment variables of the task pods.
    pub env: BTreeMap<String, String>,
    /// The program the task container runs with `task run --task-id ID`; empty runs the image's
    /// entrypoint (the `veil` binary in Veil's image).
    pub command: Vec<String>,
    /// Volumes mounted into task pods (a dispatcher's config and private data).
    pub volumes: Vec<KubernetesVolume>,
}

/// A volume of task pods: exactly one of a claim, a ConfigMap or a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesVolume {
    /// The volume's name in the pod.
    pub name: String,
    /// Where it is mounted.
    pub mount_path: String,
    /// What backs it.
    pub source: KubernetesVolumeSource,
    /// Mounted read-only (the default).
    pub read_only: bool,
}

/// What backs a [`KubernetesVolume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubernetesVolumeSource {
    /// A PersistentVolumeClaim.
    Claim(String),
    /// A ConfigMap.
    ConfigMap(String),
    /// A Secret.
    Secret(String),
}

/// One port of the registered Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPort {
    /// Port name (a DNS label).
    pub name: String,
    /// The Service's port.
    pub port: u16,
    /// The port the server listens on.
    pub target_port: u16,
}

/// How `veil serve --register-k8s` registers the server (`[registration]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// The API server; the in-cluster account or the kubeconfig when absent.
    pub api_url: Option<String>,
    /// Namespace of the Service.
    pub namespace: String,
    /// Name of the Service.
    pub service_name: String,
    /// The Service's ports; one `http` port on the listen port when not configured.
    pub ports: Vec<RegistrationPort>,
    /// Labels of the server's pods, selected by the Service in the cluster.
    pub selector: BTreeMap<String, String>,
    /// Bearer-token file.
    pub token_file: Option<PathBuf>,
    /// Client certificate file (PEM).
    pub client_cert_file: Option<PathBuf>,
    /// Client key file (PEM).
    pub client_key_file: Option<PathBuf>,
    /// CA certificates (PEM) that sign the API server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Whether the server runs in the cluster; detected from `KUBERNETES_SERVICE_HOST` when absent.
    pub in_cluster: Option<bool>,
    /// This host's address outside the cluster; detected when absent.
    pub address: Option<IpAddr>,
    /// Write the requests as JSON files to this directory instead of calling the API.
    pub file_path: Option<PathBuf>,
}

pub(crate) fn resolve_runner(
    runner: Option<String>,
    sources: &KeySources,
) -> Result<RunnerKind, ConfigError> {
    match runner.as_deref().unwrap_or("process") {
        "process" => Ok(RunnerKind::Process),
        "kubernetes" => Ok(RunnerKind::Kubernetes),
        other => Err(ConfigError::invalid(
            sources.label("runner"),
            format!("expected `process` or `kubernetes`, got `{other}`"),
        )),
    }
}

pub(crate) fn resolve_kubernetes(
    section: KubernetesSection,
    runner: RunnerKind,
    sources: &KeySources,
) -> Result<KubernetesConfig, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::invalid(sources.label(key), message);
    let namespace = section.namespace.unwrap_or_else(|| "default".to_string());
    check_dns_label(&namespace, false).map_err(|m| invalid("kubernetes.namespace", m))?;
    if runner == RunnerKind::Kubernetes && section.image.as_deref().unwrap_or("").is_empty() {
        return Err(invalid(
            "kubernetes.image",
            "required when runner = \"kubernetes\" (the image with the veil binary)".into(),
        ));
    }
    let quantities = [
        ("kubernetes.cpu_request", &section.cpu_request),
        ("kubernetes.memory_request", &section.memory_request),
        ("kubernetes.cpu_limit", &section.cpu_limit),
        ("kubernetes.memory_limit", &section.memory_limit),
    ];
    for (key, value) in quantities {
        if let Some(value) = value {
            check_quantity(value).map_err(|m| invalid(key, m))?;
        }
    }
    let log_tail_lines = section.log_tail_lines.unwrap_or(50);
    if log_tail_lines == 0 {
        return Err(invalid(
            "kubernetes.log_tail_lines",
            "must be at least 1".into(),
        ));
    }
    let command = section.command.unwrap_or_default();
    if command.first().is_some_and(|program| program.is_empty()) {
        return Err(invalid(
            "kubernetes.command",
            "must name a program, or be [] for the image's entrypoint".into(),
        ));
    }
    let mut volumes = Vec::new();
    for (index, volume) in section.volumes.into_iter().enumerate() {
        let key = format!("kubernetes.volumes[{index}]");
        check_dns_label(&volume.name, false).map_err(|m| invalid(&format!("{key}.name"), m))?;
        if volume.name == "tmp" || !volume.mount_path.starts_with('/') {
            return Err(invalid(
                &key,
                "needs a name other than `tmp` and an absolute mount_path".into(),
            ));
        }
        let source = match (volume.claim, volume.config_map, volume.secret) {
            (Some(claim), None, None) => KubernetesVolumeSource::Claim(claim),
            (None, Some(map), None) => KubernetesVolumeSource::ConfigMap(map),
            (None, None, Some(secret)) => KubernetesVolumeSource::Secret(secret),
            _ => {
                return Err(invalid(
                    &key,
                    "needs exactly one of claim, config_map or secret".into(),
                ))
            }
        };
        volumes.push(KubernetesVolume {
            name: volume.name,
            mount_path: volume.mount_path,
            source,
            read_only: volume.read_only.unwrap_or(true),
        });
    }
    Ok(KubernetesConfig {
        volumes,
        namespace,
        image: section.image,
        service_account: section.service_account,
        backoff_limit: section.backoff_limit.unwrap_or(2),
        ttl_seconds_after_finished: section.ttl_seconds_after_finished.unwrap_or(3600),
        cpu_request: section.cpu_request,
        memory_request: section.memory_request,
        cpu_limit: section.cpu_limit,
        memory_limit: section.memory_limit,
        log_tail_lines,
        env_from_secret: section.env_from_secret,
        env: section.env.unwrap_or_default(),
        command,
    })
}

pub(crate) fn resolve_registration(
    section: RegistrationSection,
    listen_port: u16,
    sources: &KeySources,
) -> Result<RegistrationConfig, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::invalid(sources.label(key), message);
    if let Some(url) = &section.api_url {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => {}
            Ok(parsed) => {
                return Err(invalid(
                    "registration.api_url",
                    format!(
                        "unsupported scheme `{}` (expected https://)",
                        parsed.scheme()
                    ),
                ))
            }
            Err(err) => {
                return Err(invalid(
                    "registration.api_url",
                    format!("not a valid URL: `{url}` ({err})"),
                ))
            }
        }
    }
    let namespace = section.namespace.unwrap_or_else(|| "default".to_string());
    check_dns_label(&namespace, false).map_err(|m| invalid("registration.namespace", m))?;
    let service_name = section.service_name.unwrap_or_else(|| "veil".to_string());
    check_dns_label(&service_name, true).map_err(|m| invalid("registration.service_name", m))?;
    let ports = match section.ports {
        None => vec![RegistrationPort {
            name: "http".to_string(),
            port: listen_port,
            target_port: listen_port,
        }],
        Some(entries) if entries.is_empty() => {
            return Err(invalid(
                "registration.ports",
                "needs at least one port".into(),
            ))
        }
        Some(entries) => {
            let mut ports = Vec::with_capacity(entries.len());
            for entry in entries {
                check_dns_label(&entry.name, true)
                    .map_err(|m| invalid("registration.ports", format!("port name: {m}")))?;
                let target_port = entry.target_port.unwrap_or(entry.port);
                if entry.port == 0 || target_port == 0 {
                    return Err(invalid(
                        "registration.ports",
                        format!("port `{}` must not be 0", entry.name),
                    ));
                }
                ports.push(RegistrationPort {
                    name: entry.name,
                    port: entry.port,
                    target_port,
                });
            }
            ports
        }
    };
    let selector = section.selector.unwrap_or_else(|| {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "veil".to_string()),
            (
                "app.kubernetes.io/component".to_string(),
                "server".to_string(),
            ),
        ])
    });
    if selector.is_empty() {
        return Err(invalid(
            "registration.selector",
            "must not be empty (the Service would select nothing)".into(),
        ));
    }
    if section.client_cert_file.is_some() != section.client_key_file.is_some() {
        return Err(invalid(
            "registration.client_cert_file",
            format!(
                "set together with {}",
                sources.label("registration.client_key_file")
            ),
        ));
    }
    if section.file_path.is_some() && section.api_url.is_some() {
        return Err(invalid(
            "registration.file_path",
            format!(
                "set either {} (write requests to files) or {}, not both",
                sources.label("registration.file_path"),
                sources.label("registration.api_url")
            ),
        ));
    }
    let address = match &section.address {
        None => None,
        Some(text) => Some(text.trim().parse::<IpAddr>().map_err(|_| {
            invalid(
                "registration.address",
                format!("expected an IP address, got `{text}`"),
            )
        })?),
    };
    Ok(RegistrationConfig {
        api_url: section.api_url,
        namespace,
        service_name,
        ports,
        selector,
        token_file: section.token_file.map(PathBuf::from),
        client_cert_file: section.client_cert_file.map(PathBuf::from),
        client_key_file: section.client_key_file.map(PathBuf::from),
        ca_file: section.ca_file.map(PathBuf::from),
        in_cluster: section.in_cluster,
        address,
        file_path: section.file_path.map(PathBuf::from),
    })
}

/// A DNS-1123 label (namespaces) or, with `letter_first`, a DNS-1035 label (Service and port names).
fn check_dns_label(value: &str, letter_first: bool) -> Result<(), String> {
    let valid_characters = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let first_ok = match value.chars().next() {
        Some(c) if letter_first => c.is_ascii_lowercase(),
        Some(c) => c.is_ascii_alphanumeric(),
        None => false,
    };
    if value.len() > 63 || !valid_characters || !first_ok || value.ends_with('-') {
        let first = if letter_first {
            "a letter"
        } else {
            "a letter or digit"
        };
        return Err(format!(
            "`{value}` is not a valid name (lowercase letters, digits and `-`, starting with {first}, at most 63)"
        ));
    }
    Ok(())
}

/// A Kubernetes quantity such as `500m`, `2`, `1.5`, `512Mi` or `1G`.
fn check_quantity(value: &str) -> Result<(), String> {
    let number_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(number_end);
    let number_ok = !number.is_empty() && number.parse::<f64>().is_ok();
    let suffixes = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    if !number_ok || !suffixes.contains(&suffix) {
        return Err(format!(
            "`{value}` is not a Kubernetes quantity (e.g. `500m`, `2`, `512Mi`, `1Gi`)"
        ));
    }
    Ok(())
}
