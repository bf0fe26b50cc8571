//! Turns the raw file (with overrides applied) into a validated [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::env::KeySources;
use crate::file::{ConfigFile, CONFIG_VERSION};
use crate::{
    BlobConfig, Config, ConfigError, DispatcherConfig, LinkageConfig, LogConfig, LogFormat,
    MetadataConfig, QueueConfig, S3Config, ServerConfig, TlsConfig, WorkerConfig, DEFAULT_DATA_DIR,
    DEFAULT_LISTEN,
};

pub(crate) fn resolve(file: ConfigFile, sources: &KeySources) -> Result<Config, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::invalid(sources.label(key), message);

    match file.version {
        Some(CONFIG_VERSION) => {}
        Some(other) => {
            return Err(invalid(
                "version",
                format!("unsupported version {other} (expected {CONFIG_VERSION})"),
            ))
        }
        None => {
            return Err(invalid(
                "version",
                format!("missing (add `version = {CONFIG_VERSION}`)"),
            ))
        }
    }

    let data_dir = PathBuf::from(file.data_dir.as_deref().unwrap_or(DEFAULT_DATA_DIR));
    if data_dir.as_os_str().is_empty() {
        return Err(invalid("data_dir", "must not be empty".into()));
    }

    let listen_text = file.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        invalid(
            "server.listen",
            format!("expected HOST:PORT with an IP address, got `{listen_text}`"),
        )
    })?;
    let workers = file.server.workers.unwrap_or(2);
    let max_body_mib = positive(
        file.server.max_body_mib.unwrap_or(1024),
        "server.max_body_mib",
        sources,
    )?;
    let max_request_kib = positive(
        file.server.max_request_kib.unwrap_or(1024),
        "server.max_request_kib",
        sources,
    )?;
    let seconds = |value: Option<u64>, default: u64, key: &str| {
        positive(value.unwrap_or(default), key, sources).map(Duration::from_secs)
    };
    let server = ServerConfig {
        listen,
        workers,
        max_body_bytes: max_body_mib.saturating_mul(1024 * 1024),
        max_request_bytes: max_request_kib.saturating_mul(1024),
        request_timeout: seconds(
            file.server.request_timeout_seconds,
            60,
            "server.request_timeout_seconds",
        )?,
        upload_timeout: seconds(
            file.server.upload_timeout_seconds,
            3600,
            "server.upload_timeout_seconds",
        )?,
        max_concurrent_uploads: file.server.max_concurrent_uploads.unwrap_or(4),
        rate_limit_per_second: file.server.rate_limit_per_second.unwrap_or(100),
        rate_limit_burst: positive(
            file.server.rate_limit_burst.unwrap_or(200),
            "server.rate_limit_burst",
            sources,
        )?,
        global_rate_limit_per_second: file.server.global_rate_limit_per_second.unwrap_or(0),
        tls: tls(&file.server.tls, sources)?,
    };
    let linkage = LinkageConfig {
        chunk_comparisons: positive(
            file.linkage.chunk_comparisons.unwrap_or(500_000_000),
            "linkage.chunk_comparisons",
            sources,
        )?,
        max_candidates: positive(
            file.linkage.max_candidates.unwrap_or(50_000_000),
            "linkage.max_candidates",
            sources,
        )?,
    };

    let metadata_url = match secret_value(
        file.metadata.url,
        file.metadata.url_file,
        "metadata.url",
        sources,
    )? {
        Some(url) => url,
        None => format!("sqlite://{}", data_dir.join("veil.db").display()),
    };
    check_metadata_url(&metadata_url).map_err(|message| invalid("metadata.url", message))?;
    let max_connections = positive(
        file.metadata.max_connections.unwrap_or(8),
        "metadata.max_connections",
        sources,
    )?;

    let blob_url = file
        .blob
        .url
        .unwrap_or_else(|| format!("file://{}", absolute(&data_dir.join("blobs")).display()));
    check_blob_url(&blob_url).map_err(|message| invalid("blob.url", message))?;
    if let Some(endpoint) = &file.blob.s3.endpoint {
        check_http_url(endpoint).map_err(|message| invalid("blob.s3.endpoint", message))?;
    }
    let s3 = S3Config {
        endpoint: file.blob.s3.endpoint,
        region: file
            .blob
            .s3
            .region
            .unwrap_or_else(|| "us-east-1".to_string()),
        access_key_id: secret_value(
            file.blob.s3.access_key_id,
            file.blob.s3.access_key_id_file,
            "blob.s3.access_key_id",
            sources,
        )?
        .map(SecretString::from),
        secret_access_key: secret_value(
            file.blob.s3.secret_access_key,
            file.blob.s3.secret_access_key_file,
            "blob.s3.secret_access_key",
            sources,
        )?
        .map(SecretString::from),
        allow_http: file.blob.s3.allow_http.unwrap_or(false),
    };

    let queue_url = secret_value(file.queue.url, file.queue.url_file, "queue.url", sources)?;
    if let Some(url) = &queue_url {
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err(invalid(
                "queue.url",
                "expected an amqp:// or amqps:// URL of the RabbitMQ broker".into(),
            ));
        }
    }
    let queue = QueueConfig {
        url: queue_url.map(SecretString::from),
        lease: Duration::from_secs(positive(
            file.queue.lease_seconds.unwrap_or(30),
            "queue.lease_seconds",
            sources,
        )?),
        heartbeat: Duration::from_secs(positive(
            file.queue.heartbeat_seconds.unwrap_or(10),
            "queue.heartbeat_seconds",
            sources,
        )?),
        max_attempts: positive(
            file.queue.max_attempts.unwrap_or(5),
            "queue.max_attempts",
            sources,
        )?,
        backoff_base: Duration::from_millis(file.queue.backoff_base_ms.unwrap_or(500)),
        backoff_max: Duration::from_millis(file.queue.backoff_max_ms.unwrap_or(60_000)),
        poll_interval: Duration::from_millis(positive(
            file.queue.poll_interval_ms.unwrap_or(200),
            "queue.poll_interval_ms",
            sources,
        )?),
    };
    if queue.heartbeat >= queue.lease {
        return Err(invalid(
            "queue.heartbeat_seconds",
            format!(
                "must be shorter than queue.lease_seconds ({}s), or leases expire between heartbeats",
                queue.lease.as_secs()
            ),
        ));
    }
    if queue.backoff_max < queue.backoff_base {
        return Err(invalid(
            "queue.backoff_max_ms",
            "must not be smaller than queue.backoff_base_ms".into(),
        ));
    }

    let worker = WorkerConfig {
        concurrency: positive(
            file.worker.concurrency.unwrap_or(2),
            "worker.concurrency",
            sources,
        )?,
        shutdown_grace: Duration::from_secs(file.worker.shutdown_grace_seconds.unwrap_or(10)),
    };

    let format = match file.log.format.as_deref().unwrap_or("human") {
        "human" => LogFormat::Human,
        "json" => LogFormat::Json,
        other => {
            return Err(invalid(
                "log.format",
                format!("expected `human` or `json`, got `{other}`"),
            ))
        }
    };
    let log = LogConfig {
        format,
        filter: file.log.filter.unwrap_or_else(|| "info".to_string()),
    };

    let runner = crate::cluster::resolve_runner(file.runner, sources)?;
    let kubernetes = crate::cluster::resolve_kubernetes(file.kubernetes, runner, sources)?;
    let registration =
        crate::cluster::resolve_registration(file.registration, server.listen.port(), sources)?;

    let dispatcher = dispatcher(file.dispatcher, sources)?;
    let auth = crate::auth::resolve_auth(file.auth, sources)?;
    Ok(Config {
        auth,
        dispatcher,
        data_dir,
        server,
        metadata: MetadataConfig {
            url: SecretString::from(metadata_url),
            max_connections,
        },
        blob: BlobConfig { url: blob_url, s3 },
        queue,
        worker,
        log,
        linkage,
        runner,
        kubernetes,
        registration,
    })
}

/// A secret given either inline (`key`) or as a file (`key_file`); both at once is an error.
pub(crate) fn secret_value(
    inline: Option<String>,
    file: Option<String>,
    key: &str,
    sources: &KeySources,
) -> Result<Option<String>, ConfigError> {
    let file_key = format!("{key}_file");
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            sources.label(key),
            format!(
                "set either {} or {}, not both",
                sources.label(key),
                sources.label(&file_key)
            ),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => {
            let text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                    key: sources.label(&file_key),
                    path: PathBuf::from(&path),
                    source,
                })?;
            Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
        }
        (None, None) => Ok(None),
    }
}

/// Refuses zero for settings that count something (workers, attempts, seconds).
fn positive<T: PartialEq + Default>(
    value: T,
    key: &str,
    sources: &KeySources,
) -> Result<T, ConfigError> {
    if value == T::default() {
        return Err(ConfigError::invalid(
            sources.label(key),
            "must be at least 1",
        ));
    }
    Ok(value)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn check_metadata_url(url: &str) -> Result<(), String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("sqlite:// URL has no file path".into());
        }
        return Ok(());
    }
    if url == "sqlite::memory:" {
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|err| format!("not a valid URL ({err})"))?;
    match parsed.scheme() {
        "postgres" | "postgresql" if parsed.host_str().is_some() => Ok(()),
        "postgres" | "postgresql" => Err("postgres URL has no host".into()),
        other => Err(format!(
            "unsupported scheme `{other}` (expected sqlite:// or postgres://)"
        )),
    }
}

fn check_blob_url(url: &str) -> Result<(), String> {
    if url.starts_with("file://") || url.starts_with("memory://") || url.starts_with('/') {
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|err| format!("not a valid URL: `{url}` ({err})"))?;
    match parsed.scheme() {
        "s3" if parsed.host_str().is_some_and(|bucket| !bucket.is_empty()) => Ok(()),
        "s3" => Err(format!(
            "`{url}` names no bucket (expected s3://bucket/prefix)"
        )),
        other => Err(format!(
            "unsupported scheme `{other}` (expected file:// or s3://)"
        )),
    }
}

pub(crate) fn check_http_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|err| format!("not a valid URL: `{url}` ({err})"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!(
            "unsupported scheme `{other}` (expected http:// or https://)"
        )),
    }
}

/// `[server.tls]`: both files or neither.
fn tls(
    section: &crate::file::TlsSection,
    sources: &KeySources,
) -> Result<Option<TlsConfig>, ConfigError> {
    match (&section.cert_file, &section.key_file) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some(TlsConfig {
            cert_file: PathBuf::from(cert),
            key_file: PathBuf::from(key),
        })),
        (Some(_), None) => Err(ConfigError::invalid(
            sources.label("server.tls.key_file"),
            "is needed with server.tls.cert_file",
        )),
        (None, Some(_)) => Err(ConfigError::invalid(
            sources.label("server.tls.cert_file"),
            "is needed with server.tls.key_file",
        )),
    }
}

/// `[dispatcher]`: environment names are letters, digits, `-` and `_` (they name broker queues).
fn dispatcher(
    section: crate::file::DispatcherSection,
    sources: &KeySources,
) -> Result<DispatcherConfig, ConfigError> {
    let environment = section.environment.unwrap_or_else(|| "local".to_string());
    let valid_name = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !valid_name(&environment) {
        return Err(ConfigError::invalid(
            sources.label("dispatcher.environment"),
            "use letters, digits, `-` and `_`",
        ));
    }
    let mut resolved = std::collections::BTreeMap::new();
    for (name, source) in section.sources {
        let source = crate::sources::resolve_source(&name, source, sources)?;
        resolved.insert(name, source);
    }
    Ok(DispatcherConfig {
        environment,
        concurrency: positive(
            section.concurrency.unwrap_or(2),
            "dispatcher.concurrency",
            sources,
        )?,
        sources: resolved,
    })
}
