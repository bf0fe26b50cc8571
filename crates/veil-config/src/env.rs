//! `VEIL_*` environment overrides, applied on top of the config file.
//!
//! The environment is passed in as a map (never read here), so tests stay hermetic. Only the variables
//! listed in [`ENV_OVERRIDES`] are consulted.

use std::collections::{BTreeMap, HashMap};

use crate::file::ConfigFile;
use crate::ConfigError;

/// Every environment variable that overrides a config key, with the key it overrides.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("VEIL_DATA_DIR", "data_dir"),
    ("VEIL_LISTEN", "server.listen"),
    ("VEIL_SERVER_WORKERS", "server.workers"),
    ("VEIL_MAX_BODY_MIB", "server.max_body_mib"),
    ("VEIL_RATE_LIMIT_PER_SECOND", "server.rate_limit_per_second"),
    ("VEIL_RATE_LIMIT_BURST", "server.rate_limit_burst"),
    ("VEIL_MAX_REQUEST_KIB", "server.max_request_kib"),
    ("VEIL_TLS_CERT_FILE", "server.tls.cert_file"),
    ("VEIL_TLS_KEY_FILE", "server.tls.key_file"),
    (
        "VEIL_REQUEST_TIMEOUT_SECONDS",
        "server.request_timeout_seconds",
    ),
    (
        "VEIL_UPLOAD_TIMEOUT_SECONDS",
        "server.upload_timeout_seconds",
    ),
    (
        "VEIL_MAX_CONCURRENT_UPLOADS",
        "server.max_concurrent_uploads",
    ),
    (
        "VEIL_GLOBAL_RATE_LIMIT_PER_SECOND",
        "server.global_rate_limit_per_second",
    ),
    ("VEIL_METADATA_URL", "metadata.url"),
    ("VEIL_METADATA_URL_FILE", "metadata.url_file"),
    ("VEIL_QUEUE_URL", "queue.url"),
    ("VEIL_AUTH_TOKEN_KEY", "auth.token_key"),
    ("VEIL_AUTH_TOKEN_KEY_FILE", "auth.token_key_file"),
    (
        "VEIL_AUTH_PROTECT_PROJECT_CREATION",
        "auth.protect_project_creation",
    ),
    ("VEIL_ADMIN_USER", "auth.admin_user"),
    ("VEIL_ADMIN_PASSWORD", "auth.admin_password"),
    ("VEIL_ADMIN_PASSWORD_FILE", "auth.admin_password_file"),
    ("VEIL_QUEUE_URL_FILE", "queue.url_file"),
    ("VEIL_DISPATCHER_ENVIRONMENT", "dispatcher.environment"),
    ("VEIL_DISPATCHER_CONCURRENCY", "dispatcher.concurrency"),
    ("VEIL_METADATA_MAX_CONNECTIONS", "metadata.max_connections"),
    ("VEIL_BLOB_URL", "blob.url"),
    ("VEIL_S3_ENDPOINT", "blob.s3.endpoint"),
    ("VEIL_S3_REGION", "blob.s3.region"),
    ("VEIL_S3_ACCESS_KEY_ID", "blob.s3.access_key_id"),
    ("VEIL_S3_ACCESS_KEY_ID_FILE", "blob.s3.access_key_id_file"),
    ("VEIL_S3_SECRET_ACCESS_KEY", "blob.s3.secret_access_key"),
    (
        "VEIL_S3_SECRET_ACCESS_KEY_FILE",
        "blob.s3.secret_access_key_file",
    ),
    ("VEIL_S3_ALLOW_HTTP", "blob.s3.allow_http"),
    ("VEIL_QUEUE_LEASE_SECONDS", "queue.lease_seconds"),
    ("VEIL_QUEUE_HEARTBEAT_SECONDS", "queue.heartbeat_seconds"),
    ("VEIL_QUEUE_MAX_ATTEMPTS", "queue.max_attempts"),
    ("VEIL_QUEUE_BACKOFF_BASE_MS", "queue.backoff_base_ms"),
    ("VEIL_QUEUE_BACKOFF_MAX_MS", "queue.backoff_max_ms"),
    ("VEIL_QUEUE_POLL_INTERVAL_MS", "queue.poll_interval_ms"),
    ("VEIL_WORKER_CONCURRENCY", "worker.concurrency"),
    (
        "VEIL_WORKER_SHUTDOWN_GRACE_SECONDS",
        "worker.shutdown_grace_seconds",
    ),
    (
        "VEIL_LINKAGE_CHUNK_COMPARISONS",
        "linkage.chunk_comparisons",
    ),
    ("VEIL_LINKAGE_MAX_CANDIDATES", "linkage.max_candidates"),
    ("VEIL_RUNNER", "runner"),
    ("VEIL_KUBERNETES_NAMESPACE", "kubernetes.namespace"),
    ("VEIL_KUBERNETES_IMAGE", "kubernetes.image"),
    (
        "VEIL_KUBERNETES_SERVICE_ACCOUNT",
        "kubernetes.service_account",
    ),
    (
        "VEIL_KUBERNETES_ENV_FROM_SECRET",
        "kubernetes.env_from_secret",
    ),
    ("VEIL_REGISTRATION_API_URL", "registration.api_url"),
    ("VEIL_REGISTRATION_NAMESPACE", "registration.namespace"),
    (
        "VEIL_REGISTRATION_SERVICE_NAME",
        "registration.service_name",
    ),
    ("VEIL_REGISTRATION_TOKEN_FILE", "registration.token_file"),
    (
        "VEIL_REGISTRATION_CLIENT_CERT_FILE",
        "registration.client_cert_file",
    ),
    (
        "VEIL_REGISTRATION_CLIENT_KEY_FILE",
        "registration.client_key_file",
    ),
    ("VEIL_REGISTRATION_CA_FILE", "registration.ca_file"),
    ("VEIL_REGISTRATION_IN_CLUSTER", "registration.in_cluster"),
    ("VEIL_REGISTRATION_ADDRESS", "registration.address"),
    ("VEIL_REGISTRATION_FILE_PATH", "registration.file_path"),
    ("VEIL_LOG_FORMAT", "log.format"),
    ("VEIL_LOG", "log.filter"),
];

/// Which keys were set from the environment, so that errors name the variable the operator set.
#[derive(Debug, Default)]
pub(crate) struct KeySources {
    overridden: BTreeMap<&'static str, &'static str>,
}

impl KeySources {
    /// How to name `key` in an error: the environment variable that set it, or the key itself.
    pub fn label(&self, key: &str) -> String {
        match self.overridden.get(key) {
            Some(var) => (*var).to_string(),
            None => key.to_string(),
        }
    }
}

fn parse<T: std::str::FromStr>(var: &str, value: &str, expected: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::invalid(var, format!("expected {expected}, got `{value}`")))
}

fn parse_bool(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::invalid(
            var,
            format!("expected true or false, got `{value}`"),
        )),
    }
}

/// Applies every listed variable present in `env` to `file`.
pub(crate) fn apply(
    file: &mut ConfigFile,
    env: &HashMap<String, String>,
) -> Result<KeySources, ConfigError> {
    let mut sources = KeySources::default();
    for (var, key) in ENV_OVERRIDES {
        let Some(value) = env.get(*var) else { continue };
        let text = Some(value.clone());
        match *key {
            "data_dir" => file.data_dir = text,
            "server.listen" => file.server.listen = text,
            "server.workers" => file.server.workers = Some(parse(var, value, "a whole number")?),
            "server.max_body_mib" => {
                file.server.max_body_mib = Some(parse(var, value, "a whole number")?)
            }
            "server.rate_limit_per_second" => {
                file.server.rate_limit_per_second = Some(parse(var, value, "a whole number")?)
            }
            "server.rate_limit_burst" => {
                file.server.rate_limit_burst = Some(parse(var, value, "a whole number")?)
            }
            "server.tls.cert_file" => file.server.tls.cert_file = text,
            "server.tls.key_file" => file.server.tls.key_file = text,
            "server.max_request_kib" => {
                file.server.max_request_kib = Some(parse(var, value, "a whole number")?)
            }
            "server.request_timeout_seconds" => {
                file.server.request_timeout_seconds = Some(parse(var, value, "a whole number")?)
            }
            "server.upload_timeout_seconds" => {
                file.server.upload_timeout_seconds = Some(parse(var, value, "a whole number")?)
            }
            "server.max_concurrent_uploads" => {
                file.server.max_concurrent_uploads = Some(parse(var, value, "a whole number")?)
            }
            "server.global_rate_limit_per_second" => {
                file.server.global_rate_limit_per_second =
                    Some(parse(var, value, "a whole number")?)
            }
            "linkage.chunk_comparisons" => {
                file.linkage.chunk_comparisons = Some(parse(var, value, "a whole number")?)
            }
            "linkage.max_candidates" => {
                file.linkage.max_candidates = Some(parse(var, value, "a whole number")?)
            }
            "metadata.url" => file.metadata.url = text,
            "metadata.url_file" => file.metadata.url_file = text,
            "queue.url" => file.queue.url = text,
            "auth.token_key" => file.auth.token_key = text,
            "auth.token_key_file" => file.auth.token_key_file = text,
            "auth.protect_project_creation" => {
                file.auth.protect_project_creation = Some(parse_bool(var, value)?)
            }
            "auth.admin_user" => file.auth.admin_user = text,
            "auth.admin_password" => file.auth.admin_password = text,
            "auth.admin_password_file" => file.auth.admin_password_file = text,
            "queue.url_file" => file.queue.url_file = text,
            "dispatcher.environment" => file.dispatcher.environment = text,
            "dispatcher.concurrency" => {
                file.dispatcher.concurrency = Some(parse(var, value, "a whole number")?)
            }
            "metadata.max_connections" => {
                file.metadata.max_connections = Some(parse(var, value, "a whole number")?)
            }
            "blob.url" => file.blob.url = text,
            "blob.s3.endpoint" => file.blob.s3.endpoint = text,
            "blob.s3.region" => file.blob.s3.region = text,
            "blob.s3.access_key_id" => file.blob.s3.access_key_id = text,
            "blob.s3.access_key_id_file" => file.blob.s3.access_key_id_file = text,
            "blob.s3.secret_access_key" => file.blob.s3.secret_access_key = text,
            "blob.s3.secret_access_key_file" => file.blob.s3.secret_access_key_file = text,
            "blob.s3.allow_http" => file.blob.s3.allow_http = Some(parse_bool(var, value)?),
            "queue.lease_seconds" => {
                file.queue.lease_seconds = Some(parse(var, value, "a whole number")?)
            }
            "queue.heartbeat_seconds" => {
                file.queue.heartbeat_seconds = Some(parse(var, value, "a whole number")?)
            }
            "queue.max_attempts" => {
                file.queue.max_attempts = Some(parse(var, value, "a whole number")?)
            }
            "queue.backoff_base_ms" => {
                file.queue.backoff_base_ms = Some(parse(var, value, "a whole number")?)
            }
            "queue.backoff_max_ms" => {
                file.queue.backoff_max_ms = Some(parse(var, value, "a whole number")?)
            }
            "queue.poll_interval_ms" => {
                file.queue.poll_interval_ms = Some(parse(var, value, "a whole number")?)
            }
            "worker.shutdown_grace_seconds" => {
                file.worker.shutdown_grace_seconds = Some(parse(var, value, "a whole number")?)
            }
            "worker.concurrency" => {
                file.worker.concurrency = Some(parse(var, value, "a whole number")?)
            }
            "runner" => file.runner = text,
            "kubernetes.namespace" => file.kubernetes.namespace = text,
            "kubernetes.image" => file.kubernetes.image = text,
            "kubernetes.service_account" => file.kubernetes.service_account = text,
            "kubernetes.env_from_secret" => file.kubernetes.env_from_secret = text,
            "registration.api_url" => file.registration.api_url = text,
            "registration.namespace" => file.registration.namespace = text,
            "registration.service_name" => file.registration.service_name = text,
            "registration.token_file" => file.registration.token_file = text,
            "registration.client_cert_file" => file.registration.client_cert_file = text,
            "registration.client_key_file" => file.registration.client_key_file = text,
            "registration.ca_file" => file.registration.ca_file = text,
            "registration.in_cluster" => {
                file.registration.in_cluster = Some(parse_bool(var, value)?)
            }
            "registration.address" => file.registration.address = text,
            "registration.file_path" => file.registration.file_path = text,
            "log.format" => file.log.format = text,
            "log.filter" => file.log.filter = text,
            other => unreachable!("ENV_OVERRIDES names unknown key {other}"),
        }
        sources.overridden.insert(key, var);
    }
    Ok(sources)
}
