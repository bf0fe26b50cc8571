//! Renders the effective configuration for `veil config show`, secrets redacted.

use std::fmt::Write;

use secrecy::ExposeSecret;

use crate::{Config, LogFormat};

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
    out
}
