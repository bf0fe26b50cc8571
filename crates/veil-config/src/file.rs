//! The on-disk shape of `veil.toml`: every key optional, unknown keys refused.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The only config file version this build understands.
pub const CONFIG_VERSION: u32 = 1;

/// `veil.toml` as written by the operator.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    pub version: Option<u32>,
    pub data_dir: Option<String>,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub metadata: MetadataSection,
    #[serde(default)]
    pub blob: BlobSection,
    #[serde(default)]
    pub queue: QueueSection,
    #[serde(default)]
    pub worker: WorkerSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub linkage: LinkageSection,
    /// `process` (default) or `kubernetes`.
    pub runner: Option<String>,
    #[serde(default)]
    pub kubernetes: KubernetesSection,
    #[serde(default)]
    pub registration: RegistrationSection,
    #[serde(default)]
    pub dispatcher: DispatcherSection,
    #[serde(default)]
    pub auth: crate::auth::AuthSection,
}

/// `[dispatcher]`: the secure-environment dispatcher and its private sources.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DispatcherSection {
    pub environment: Option<String>,
    pub concurrency: Option<u32>,
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, SourceSection>,
}

/// `[dispatcher.sources.NAME]`: which keys apply depends on `type` (`files`, `postgres`, `s3`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceSection {
    #[serde(rename = "type")]
    pub kind: String,
    /// `files`: the directory.
    pub root: Option<String>,
    /// `postgres`: the connection string, inline or in a file.
    pub url: Option<String>,
    pub url_file: Option<String>,
    /// `postgres`: tables with more rows are refused.
    pub max_rows: Option<u64>,
    /// `s3`: where the objects are and the dispatcher's own credentials.
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub access_key_id_file: Option<String>,
    pub secret_access_key: Option<String>,
    pub secret_access_key_file: Option<String>,
    pub allow_http: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    pub listen: Option<String>,
    /// Number of in-process workers `veil serve` runs beside the API.
    pub workers: Option<u32>,
    pub max_body_mib: Option<u64>,
    pub max_request_kib: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
    pub upload_timeout_seconds: Option<u64>,
    pub max_concurrent_uploads: Option<u32>,
    pub rate_limit_per_second: Option<u32>,
    pub rate_limit_burst: Option<u32>,
    pub global_rate_limit_per_second: Option<u32>,
    #[serde(default)]
    pub tls: TlsSection,
}

/// `[server.tls]`: serve HTTPS from the process itself.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetadataSection {
    pub url: Option<String>,
    pub url_file: Option<String>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlobSection {
    pub url: Option<String>,
    #[serde(default)]
    pub s3: S3Section,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct S3Section {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub access_key_id_file: Option<String>,
    pub secret_access_key: Option<String>,
    pub secret_access_key_file: Option<String>,
    pub allow_http: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueSection {
    /// `amqp://…`: secure environments' queues and status on RabbitMQ.
    pub url: Option<String>,
    pub url_file: Option<String>,
    pub lease_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    pub max_attempts: Option<u32>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub poll_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerSection {
    pub concurrency: Option<u32>,
    pub shutdown_grace_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    pub format: Option<String>,
    pub filter: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkageSection {
    pub chunk_comparisons: Option<u64>,
    pub max_candidates: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KubernetesSection {
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub service_account: Option<String>,
    pub backoff_limit: Option<u32>,
    pub ttl_seconds_after_finished: Option<u32>,
    pub cpu_request: Option<String>,
    pub memory_request: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_limit: Option<String>,
    pub log_tail_lines: Option<u32>,
    pub env_from_secret: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub volumes: Vec<VolumeSection>,
}

/// `[[kubernetes.volumes]]`: a volume mounted into task pods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VolumeSection {
    pub name: String,
    pub mount_path: String,
    pub claim: Option<String>,
    pub config_map: Option<String>,
    pub secret: Option<String>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrationSection {
    pub api_url: Option<String>,
    pub namespace: Option<String>,
    pub service_name: Option<String>,
    pub ports: Option<Vec<RegistrationPortEntry>>,
    pub selector: Option<BTreeMap<String, String>>,
    pub token_file: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub ca_file: Option<String>,
    pub in_cluster: Option<bool>,
    pub address: Option<String>,
    pub file_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrationPortEntry {
    pub name: String,
    pub port: u16,
    pub target_port: Option<u16>,
}
