//! Veil's configuration.
//!
//! One versioned TOML file (every key optional, unknown keys refused), then `VEIL_*` environment
//! overrides (see [`ENV_OVERRIDES`]), then secrets read from `*_file` keys / `*_FILE` variables (for
//! Kubernetes Secrets), then validation into [`Config`]. Every error names the key or variable at fault.
//! Nothing here reads the process environment or the working directory: callers pass both in.

mod auth;
mod cluster;
mod env;
mod error;
mod file;
mod resolve;
mod show;
mod sources;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

pub use auth::{AuthConfig, FirstAdmin, OidcConfig};
pub use cluster::{
    KubernetesConfig, KubernetesVolume, KubernetesVolumeSource, RegistrationConfig,
    RegistrationPort, RunnerKind,
};
pub use env::ENV_OVERRIDES;
pub use error::ConfigError;
pub use file::CONFIG_VERSION;

/// The default address of `veil serve`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8851";
/// The default data directory of the embedded backends.
pub const DEFAULT_DATA_DIR: &str = "./veil-data";

/// The validated, effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where embedded backends keep their files.
    pub data_dir: PathBuf,
    /// HTTP server settings.
    pub server: ServerConfig,
    /// Metadata database.
    pub metadata: MetadataConfig,
    /// Blob store.
    pub blob: BlobConfig,
    /// Task queue behaviour.
    pub queue: QueueConfig,
    /// Worker pool.
    pub worker: WorkerConfig,
    /// Logging.
    pub log: LogConfig,
    /// Record-linkage runs.
    pub linkage: LinkageConfig,
    /// Where claimed tasks run: in the worker process or as Kubernetes Jobs.
    pub runner: RunnerKind,
    /// How task Jobs are built when `runner` is `Kubernetes`.
    pub kubernetes: KubernetesConfig,
    /// How `veil serve --register-k8s` registers the server as a Kubernetes Service.
    pub registration: RegistrationConfig,
    /// The secure-environment dispatcher.
    pub dispatcher: DispatcherConfig,
    /// Users, tokens and the OpenID Connect issuer of the native API.
    pub auth: AuthConfig,
}

/// `[dispatcher]`: which environment a dispatcher serves and what it may read there.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// The environment's name (`veil dispatcher` consumes its queue; embedded: `local`).
    pub environment: String,
    /// Tasks run at once.
    pub concurrency: u32,
    /// Private sources by name.
    pub sources: std::collections::BTreeMap<String, SourceConfig>,
}

/// One private source of a dispatcher.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// Files (CSV, Parquet) under a root directory.
    Files {
        /// The directory.
        root: PathBuf,
    },
    /// Tables of a PostgreSQL database.
    Postgres {
        /// `postgres://…`; secret because it may carry a password.
        url: SecretString,
        /// Tables with more rows than this are refused.
        max_rows: Option<u64>,
    },
    /// Objects (CSV, Parquet) under a key prefix of an S3 bucket.
    S3 {
        /// The bucket.
        bucket: String,
        /// Key prefix, without leading or trailing `/` (empty: the whole bucket).
        prefix: String,
        /// Connection settings: endpoint, region, the dispatcher's own credentials.
        s3: S3Config,
    },
}

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// In-process workers run by `veil serve` beside the API.
    pub workers: u32,
    /// The largest upload body accepted, in bytes (larger bodies get 413).
    pub max_body_bytes: u64,
    /// The largest body of any other request, in bytes (larger bodies get 413).
    pub max_request_bytes: u64,
    /// How long a request other than an upload may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long an upload may take before it is answered 503.
    pub upload_timeout: Duration,
    /// Uploads served at once; 0 is no limit (over it: 503 with `Retry-After`).
    pub max_concurrent_uploads: u32,
    /// Requests per second one client IP may make on average; 0 turns the limit off (over it: 503).
    pub rate_limit_per_second: u32,
    /// Requests one client IP may make in a burst above the average rate.
    pub rate_limit_burst: u32,
    /// Requests per second the server accepts from all clients together; 0 turns the limit off.
    pub global_rate_limit_per_second: u32,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsConfig>,
}

/// The PEM files of in-process TLS termination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// How record-linkage runs are split and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkageConfig {
    /// Comparisons per comparison task; larger blocks are split into chunks of about this many.
    pub chunk_comparisons: u64,
    /// The most candidate pairs a run may produce; more puts the run in error, never out of memory.
    pub max_candidates: u64,
}

/// Metadata database settings.
#[derive(Debug, Clone)]
pub struct MetadataConfig {
    /// `sqlite://PATH` or `postgres://…`; secret because it may carry a password.
    pub url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
}

/// Blob store settings.
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// `file://DIR` (or a plain directory) or `s3://bucket/prefix`.
    pub url: String,
    /// Connection settings used when `url` is `s3://`.
    pub s3: S3Config,
}

/// S3 connection settings.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Custom endpoint (MinIO, moto); AWS when absent.
    pub endpoint: Option<String>,
    /// Region name.
    pub region: String,
    /// Access key id.
    pub access_key_id: Option<SecretString>,
    /// Secret access key.
    pub secret_access_key: Option<SecretString>,
    /// Whether plain-HTTP endpoints are allowed.
    pub allow_http: bool,
}

/// Task queue behaviour.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The RabbitMQ broker of secure environments' queues and status (`queue.url`); without it,
    /// only the embedded environment `local` exists.
    pub url: Option<SecretString>,
    /// How long a claimed task stays leased without a heartbeat.
    pub lease: Duration,
    /// How often a worker renews its lease.
    pub heartbeat: Duration,
    /// Deliveries before a task is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay, doubled per attempt.
    pub backoff_base: Duration,
    /// Largest retry delay.
    pub backoff_max: Duration,
    /// How long an idle worker waits before polling the queue again.
    pub poll_interval: Duration,
}

/// Worker pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Tasks one `veil worker` process runs at once.
    pub concurrency: u32,
    /// How long in-flight tasks may run on after SIGTERM before they are released to the queue.
    pub shutdown_grace: Duration,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info,veil_worker=debug`.
    pub filter: String,
}

impl Config {
    /// Loads the configuration: the file at `path` if given, then overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: &std::collections::HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut file = match path {
            Some(path) => read_file(path)?,
            None => file::ConfigFile {
                version: Some(CONFIG_VERSION),
                ..Default::default()
            },
        };
        let sources = env::apply(&mut file, env)?;
        resolve::resolve(file, &sources)
    }

    /// Loads the embedded defaults with no file and no environment.
    pub fn defaults() -> Config {
        match Config::load(None, &Default::default()) {
            Ok(config) => config,
            Err(err) => unreachable!("built-in defaults are valid: {err}"),
        }
    }

    /// The effective configuration as TOML, every secret replaced by `[redacted]`.
    pub fn to_redacted_toml(&self) -> String {
        show::redacted_toml(self)
    }
}

fn read_file(path: &Path) -> Result<file::ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let deserializer = toml::Deserializer::new(&text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key = err.path().to_string();
        let message = err.inner().message().to_string();
        ConfigError::Parse {
            path: path.to_path_buf(),
            key,
            message,
        }
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_sources;
