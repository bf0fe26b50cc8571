//! Renders the effective configuration for `veil config show`, secrets redacted.

use std::fmt::Write;

use secrecy::ExposeSecret;

use crate::{Config, LogFormat, RunnerKind};

const REDACTED: &str = "[redacted]";

/// Removes the password (if any) from a connection URL.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some(REDACTED));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

fn quoted(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

pub(crate) fn redacted_toml(config: &Config) -> String {
    let mut out = String::new();
    let optional = |out: &mut String, key: &str, value: Option<String>| match value {
        Some(value) => writeln!(out, "{key} = {}", quoted(&value)),
        None => writeln!(out, "# {key} is not set"),
    };
    // Writing to a String cannot fail.
    let _ = writeln!(out, "version = {}", crate::CONFIG_VERSION);
    let _ = writeln!(
        out,
        "data_dir = {}",
        quoted(&config.data_dir.display().to_string())
    );
    let runner = match config.runner {
        RunnerKind::Process => "process",
        RunnerKind::Kubernetes => "kubernetes",
    };
    let _ = writeln!(out, "runner = {}", quoted(runner));
    let _ = writeln!(out, "\n[server]");
    let _ = writeln!(
        out,
        "listen = {}",
        quoted(&config.server.listen.to_string())
    );
    let _ = writeln!(out, "workers = {}", config.server.workers);
    let _ = writeln!(
        out,
        "max_body_mib = {}",
        config.server.max_body_bytes / (1024 * 1024)
    );
    let _ = writeln!(
        out,
        "rate_limit_per_second = {}",
        config.server.rate_limit_per_second
    );
    let _ = writeln!(out, "rate_limit_burst = {}", config.server.rate_limit_burst);
    let server = &config.server;
    let _ = writeln!(out, "max_request_kib = {}", server.max_request_bytes / 1024);
    let _ = writeln!(
        out,
        "request_timeout_seconds = {}",
        server.request_timeout.as_secs()
    );
    let _ = writeln!(
        out,
        "upload_timeout_seconds = {}",
        server.upload_timeout.as_secs()
    );
    let _ = writeln!(
        out,
        "max_concurrent_uploads = {}",
        server.max_concurrent_uploads
    );
    let _ = writeln!(
        out,
        "global_rate_limit_per_second = {}",
        server.global_rate_limit_per_second
    );
    if let Some(tls) = &server.tls {
        let _ = writeln!(out, "\n[server.tls]");
        let _ = writeln!(
            out,
            "cert_file = {}",
            quoted(&tls.cert_file.display().to_string())
        );
        let _ = writeln!(
            out,
            "key_file = {}",
            quoted(&tls.key_file.display().to_string())
        );
    }
    let _ = writeln!(out, "\n[metadata]");
    let _ = writeln!(
        out,
        "url = {}",
        quoted(&redact_url(config.metadata.url.expose_secret()))
    );
    let _ = writeln!(out, "max_connections = {}", config.metadata.max_connections);
    let _ = writeln!(out, "\n[blob]");
    let _ = writeln!(out, "url = {}", quoted(&config.blob.url));
    let _ = writeln!(out, "\n[blob.s3]");
    let _ = optional(&mut out, "endpoint", config.blob.s3.endpoint.clone());
    let _ = writeln!(out, "region = {}", quoted(&config.blob.s3.region));
    let redacted =
        |value: &Option<secrecy::SecretString>| value.as_ref().map(|_| REDACTED.to_string());
    let _ = optional(
        &mut out,
        "access_key_id",
        redacted(&config.blob.s3.access_key_id),
    );
    let _ = optional(
        &mut out,
        "secret_access_key",
        redacted(&config.blob.s3.secret_access_key),
    );
    let _ = writeln!(out, "allow_http = {}", config.blob.s3.allow_http);
    let queue = &config.queue;
    let _ = writeln!(out, "\n[queue]");
    if let Some(url) = &queue.url {
        let _ = writeln!(out, "url = {}", quoted(&redact_url(url.expose_secret())));
    }
    let _ = writeln!(out, "lease_seconds = {}", queue.lease.as_secs());
    let _ = writeln!(out, "heartbeat_seconds = {}", queue.heartbeat.as_secs());
    let _ = writeln!(out, "max_attempts = {}", queue.max_attempts);
    let _ = writeln!(out, "backoff_base_ms = {}", queue.backoff_base.as_millis());
    let _ = writeln!(out, "backoff_max_ms = {}", queue.backoff_max.as_millis());
    let _ = writeln!(
        out,
        "poll_interval_ms = {}",
        queue.poll_interval.as_millis()
    );
    let dispatcher = &config.dispatcher;
    let _ = writeln!(out, "\n[dispatcher]");
    let _ = writeln!(out, "environment = {}", quoted(&dispatcher.environment));
    let _ = writeln!(out, "concurrency = {}", dispatcher.concurrency);
    for (name, source) in &dispatcher.sources {
        write_source(&mut out, name, source);
    }
    crate::auth::write_redacted(&mut out, &config.auth);
    let _ = writeln!(out, "\n[worker]");
    let _ = writeln!(out, "concurrency = {}", config.worker.concurrency);
    let _ = writeln!(
        out,
        "shutdown_grace_seconds = {}",
        config.worker.shutdown_grace.as_secs()
    );
    let _ = writeln!(out, "\n[linkage]");
    let _ = writeln!(
        out,
        "chunk_comparisons = {}",
        config.linkage.chunk_comparisons
    );
    let _ = writeln!(out, "max_candidates = {}", config.linkage.max_candidates);
    let _ = writeln!(out, "\n[log]");
    let format = match config.log.format {
        LogFormat::Human => "human",
        LogFormat::Json => "json",
    };
    let _ = writeln!(out, "format = {}", quoted(format));
    let _ = writeln!(out, "filter = {}", quoted(&config.log.filter));
    write_kubernetes(&mut out, config);
    write_registration(&mut out, config);
    out
}

/// `[dispatcher.sources.NAME]`: the postgres URL's password and the S3 keys redacted.
fn write_source(out: &mut String, name: &str, source: &crate::SourceConfig) {
    let _ = writeln!(out, "\n[dispatcher.sources.{}]", quoted(name));
    match source {
        crate::SourceConfig::Files { root } => {
            let _ = writeln!(out, "type = \"files\"");
            let _ = writeln!(out, "root = {}", quoted(&root.display().to_string()));
        }
        crate::SourceConfig::Postgres { url, max_rows } => {
            let _ = writeln!(out, "type = \"postgres\"");
            let _ = writeln!(out, "url = {}", quoted(&redact_url(url.expose_secret())));
            let _ = match max_rows {
                Some(rows) => writeln!(out, "max_rows = {rows}"),
                None => writeln!(out, "# max_rows is not set"),
            };
        }
        crate::SourceConfig::S3 { bucket, prefix, s3 } => {
            let _ = writeln!(out, "type = \"s3\"");
            let _ = writeln!(out, "bucket = {}", quoted(bucket));
            let _ = writeln!(out, "prefix = {}", quoted(prefix));
            optional(out, "endpoint", s3.endpoint.clone());
            let _ = writeln!(out, "region = {}", quoted(&s3.region));
            let redacted = |value: &Option<secrecy::SecretString>| {
                value.as_ref().map(|_| REDACTED.to_string())
            };
            optional(out, "access_key_id", redacted(&s3.access_key_id));
            optional(out, "secret_access_key", redacted(&s3.secret_access_key));
            let _ = writeln!(out, "allow_http = {}", s3.allow_http);
        }
    }
}

fn optional(out: &mut String, key: &str, value: Option<String>) {
    let _ = match value {
        Some(value) => writeln!(out, "{key} = {}", quoted(&value)),
        None => writeln!(out, "# {key} is not set"),
    };
}

fn inline_table<'a>(pairs: impl Iterator<Item = (&'a String, String)>) -> String {
    let items: Vec<String> = pairs
        .map(|(key, value)| format!("{} = {}", quoted(key), quoted(&value)))
        .collect();
    if items.is_empty() {
        return "{}".to_string();
    }
    format!("{{ {} }}", items.join(", "))
}

fn path_text(path: &Option<std::path::PathBuf>) -> Option<String> {
    path.as_ref().map(|path| path.display().to_string())
}

/// `[kubernetes]`; the values of `env` are redacted, as they may hold secrets.
fn write_kubernetes(out: &mut String, config: &Config) {
    let kubernetes = &config.kubernetes;
    let _ = writeln!(out, "\n[kubernetes]");
    let _ = writeln!(out, "namespace = {}", quoted(&kubernetes.namespace));
    optional(out, "image", kubernetes.image.clone());
    optional(out, "service_account", kubernetes.service_account.clone());
    let _ = writeln!(out, "backoff_limit = {}", kubernetes.backoff_limit);
    let _ = writeln!(
        out,
        "ttl_seconds_after_finished = {}",
        kubernetes.ttl_seconds_after_finished
    );
    optional(out, "cpu_request", kubernetes.cpu_request.clone());
    optional(out, "memory_request", kubernetes.memory_request.clone());
    optional(out, "cpu_limit", kubernetes.cpu_limit.clone());
    optional(out, "memory_limit", kubernetes.memory_limit.clone());
    let _ = writeln!(out, "log_tail_lines = {}", kubernetes.log_tail_lines);
    optional(out, "env_from_secret", kubernetes.env_from_secret.clone());
    let env = kubernetes.env.keys().map(|key| (key, REDACTED.to_string()));
    let _ = writeln!(out, "env = {}", inline_table(env));
    let command: Vec<String> = kubernetes.command.iter().map(|part| quoted(part)).collect();
    let _ = writeln!(out, "command = [{}]", command.join(", "));
    let volumes: Vec<String> = kubernetes
        .volumes
        .iter()
        .map(|volume| {
            let (key, name) = match &volume.source {
                crate::KubernetesVolumeSource::Claim(name) => ("claim", name),
                crate::KubernetesVolumeSource::ConfigMap(name) => ("config_map", name),
                crate::KubernetesVolumeSource::Secret(name) => ("secret", name),
            };
            format!(
                "{{ name = {}, mount_path = {}, {key} = {}, read_only = {} }}",
                quoted(&volume.name),
                quoted(&volume.mount_path),
                quoted(name),
                volume.read_only
            )
        })
        .collect();
    let _ = writeln!(out, "volumes = [{}]", volumes.join(", "));
}

fn write_registration(out: &mut String, config: &Config) {
    let registration = &config.registration;
    let _ = writeln!(out, "\n[registration]");
    optional(out, "api_url", registration.api_url.clone());
    let _ = writeln!(out, "namespace = {}", quoted(&registration.namespace));
    let _ = writeln!(out, "service_name = {}", quoted(&registration.service_name));
    let ports: Vec<String> = registration
        .ports
        .iter()
        .map(|port| {
            format!(
                "{{ name = {}, port = {}, target_port = {} }}",
                quoted(&port.name),
                port.port,
                port.target_port
            )
        })
        .collect();
    let _ = writeln!(out, "ports = [{}]", ports.join(", "));
    let selector = registration
        .selector
        .iter()
        .map(|(key, value)| (key, value.clone()));
    let _ = writeln!(out, "selector = {}", inline_table(selector));
    optional(out, "token_file", path_text(&registration.token_file));
    optional(
        out,
        "client_cert_file",
        path_text(&registration.client_cert_file),
    );
    optional(
        out,
        "client_key_file",
        path_text(&registration.client_key_file),
    );
    optional(out, "ca_file", path_text(&registration.ca_file));
    match registration.in_cluster {
        Some(in_cluster) => {
            let _ = writeln!(out, "in_cluster = {in_cluster}");
        }
        None => {
            let _ = writeln!(out, "# in_cluster is detected from KUBERNETES_SERVICE_HOST");
        }
    }
    optional(
        out,
        "address",
        registration.address.map(|ip| ip.to_string()),
    );
    optional(out, "file_path", path_text(&registration.file_path));
}
