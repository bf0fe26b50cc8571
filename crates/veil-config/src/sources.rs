//! `[dispatcher.sources.NAME]`: a private source of the dispatcher, by `type`. Keys of another type
//! are refused by name, and no error shows a secret's value.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::env::KeySources;
use crate::file::SourceSection;
use crate::resolve::{check_http_url, secret_value};
use crate::{ConfigError, S3Config, SourceConfig};

/// The source types and the keys each takes besides `type`.
const TYPES: [(&str, &[&str]); 3] = [
    ("files", &["root"]),
    ("postgres", &["url", "url_file", "max_rows"]),
    (
        "s3",
        &[
            "bucket",
            "prefix",
            "endpoint",
            "region",
            "access_key_id",
            "access_key_id_file",
            "secret_access_key",
            "secret_access_key_file",
            "allow_http",
        ],
    ),
];

/// Validates source `name`.
pub(crate) fn resolve_source(
    name: &str,
    section: SourceSection,
    sources: &KeySources,
) -> Result<SourceConfig, ConfigError> {
    let key = |field: &str| format!("dispatcher.sources.{name}.{field}");
    let invalid = |field: &str, message: String| ConfigError::invalid(key(field), message);
    let Some((kind, allowed)) = TYPES.iter().find(|(kind, _)| *kind == section.kind) else {
        let names: Vec<String> = TYPES.iter().map(|(kind, _)| format!("{kind:?}")).collect();
        return Err(invalid(
            "type",
            format!(
                "unknown source type {:?}: expected one of {}",
                section.kind,
                names.join(", ")
            ),
        ));
    };
    for (field, set) in set_fields(&section) {
        if set && !allowed.contains(&field) {
            return Err(invalid(
                field,
                format!("does not apply to a source of type {kind}"),
            ));
        }
    }
    match *kind {
        "files" => match section.root {
            Some(root) if !root.is_empty() => Ok(SourceConfig::Files {
                root: PathBuf::from(root),
            }),
            _ => Err(invalid(
                "root",
                "is needed for a source of type files".into(),
            )),
        },
        "postgres" => {
            let url = secret_value(section.url, section.url_file, &key("url"), sources)?
                .ok_or_else(|| {
                    invalid(
                        "url",
                        "is needed for a source of type postgres (or url_file)".into(),
                    )
                })?;
            check_postgres_url(&url).map_err(|message| invalid("url", message))?;
            if section.max_rows == Some(0) {
                return Err(invalid("max_rows", "must be at least 1".into()));
            }
            Ok(SourceConfig::Postgres {
                url: SecretString::from(url),
                max_rows: section.max_rows,
            })
        }
        _ => s3_source(section, &key, sources),
    }
}

fn s3_source(
    section: SourceSection,
    key: &dyn Fn(&str) -> String,
    sources: &KeySources,
) -> Result<SourceConfig, ConfigError> {
    let invalid = |field: &str, message: &str| ConfigError::invalid(key(field), message);
    let bucket = match section.bucket {
        Some(bucket) if !bucket.is_empty() && !bucket.contains('/') => bucket,
        Some(_) => return Err(invalid("bucket", "must be a bucket name without `/`")),
        None => return Err(invalid("bucket", "is needed for a source of type s3")),
    };
    let prefix = section
        .prefix
        .unwrap_or_default()
        .trim_matches('/')
        .to_string();
    if !prefix.is_empty()
        && prefix
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(invalid(
            "prefix",
            "may not contain empty, `.` or `..` segments",
        ));
    }
    if let Some(endpoint) = &section.endpoint {
        check_http_url(endpoint).map_err(|message| invalid("endpoint", &message))?;
    }
    let access_key_id = secret_value(
        section.access_key_id,
        section.access_key_id_file,
        &key("access_key_id"),
        sources,
    )?;
    let secret_access_key = secret_value(
        section.secret_access_key,
        section.secret_access_key_file,
        &key("secret_access_key"),
        sources,
    )?;
    match (&access_key_id, &secret_access_key) {
        (Some(_), None) => {
            return Err(invalid("secret_access_key", "is needed with access_key_id"))
        }
        (None, Some(_)) => {
            return Err(invalid("access_key_id", "is needed with secret_access_key"))
        }
        _ => {}
    }
    Ok(SourceConfig::S3 {
        bucket,
        prefix,
        s3: S3Config {
            endpoint: section.endpoint,
            region: section.region.unwrap_or_else(|| "us-east-1".to_string()),
            access_key_id: access_key_id.map(SecretString::from),
            secret_access_key: secret_access_key.map(SecretString::from),
            allow_http: section.allow_http.unwrap_or(false),
        },
    })
}

/// Which keys the operator set.
fn set_fields(section: &SourceSection) -> [(&'static str, bool); 13] {
    [
        ("root", section.root.is_some()),
        ("url", section.url.is_some()),
        ("url_file", section.url_file.is_some()),
        ("max_rows", section.max_rows.is_some()),
        ("bucket", section.bucket.is_some()),
        ("prefix", section.prefix.is_some()),
        ("endpoint", section.endpoint.is_some()),
        ("region", section.region.is_some()),
        ("access_key_id", section.access_key_id.is_some()),
        ("access_key_id_file", section.access_key_id_file.is_some()),
        ("secret_access_key", section.secret_access_key.is_some()),
        (
            "secret_access_key_file",
            section.secret_access_key_file.is_some(),
        ),
        ("allow_http", section.allow_http.is_some()),
    ]
}

/// A `postgres://` URL with a host; the message never repeats the URL.
fn check_postgres_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|err| format!("not a valid URL ({err})"))?;
    match parsed.scheme() {
        "postgres" | "postgresql" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "postgres" | "postgresql" => Err("the postgres URL has no host".into()),
        _ => Err("expected a postgres:// or postgresql:// URL".into()),
    }
}
