//! S3 sources: CSV or Parquet objects under a key prefix of a bucket, fetched with the dispatcher's
//! own credentials. Errors name the key relative to the prefix, never the bucket, the endpoint or a
//! credential.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use secrecy::{ExposeSecret, SecretString};
use veil_synth::RawTable;

use crate::sources::Source;
use crate::tables::{self, TableFormat};
use crate::DispatchError;

/// Where an S3 source is and how the dispatcher signs in to it.
#[derive(Clone)]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// Key prefix tasks' keys are relative to (`""` for the whole bucket).
    pub prefix: String,
    /// Custom endpoint (MinIO and the like); AWS when `None`.
    pub endpoint: Option<String>,
    /// Region name.
    pub region: String,
    /// Access key id; without it, the environment's usual credential chain.
    pub access_key_id: Option<SecretString>,
    /// Secret access key.
    pub secret_access_key: Option<SecretString>,
    /// Whether a plain-HTTP endpoint is allowed.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("S3Settings { [kept on the dispatcher] }")
    }
}

impl Source {
    /// An S3 source from its settings. Nothing is contacted until a table is read.
    pub fn s3(settings: S3Settings) -> Result<Source, DispatchError> {
        let prefix = settings.prefix.trim_matches('/').to_string();
        if !prefix.is_empty() && ObjectPath::parse(&prefix).is_err() {
            return Err(DispatchError::SourceSettings(
                "the S3 key prefix has empty, `.` or `..` segments".into(),
            ));
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &settings.access_key_id {
            builder = builder.with_access_key_id(id.expose_secret());
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose_secret());
        }
        let store = builder.build().map_err(|_| {
            DispatchError::SourceSettings("the S3 bucket, region or endpoint is not usable".into())
        })?;
        Ok(Source::S3 {
            store: Arc::new(store),
            prefix,
        })
    }
}

/// Why an object was not read.
pub(crate) enum ReadError {
    /// The key is refused before anything is fetched.
    Refused(String),
    /// Fetching or parsing failed.
    Failed(String),
}

/// The object key of `key` under `prefix`: relative, with no empty, `.` or `..` segment.
pub(crate) fn object_path(prefix: &str, key: &str) -> Result<ObjectPath, String> {
    let segments_ok = !key.is_empty()
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if !segments_ok {
        return Err(
            "the key must be relative to the source's prefix, without `..`, `.` or empty parts"
                .into(),
        );
    }
    let full = if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}/{key}")
    };
    ObjectPath::parse(&full).map_err(|_| format!("{key:?} is not a valid object key"))
}

/// Fetches object `key` under `prefix` and reads it as CSV or Parquet by its extension.
pub(crate) async fn read_table(
    store: &dyn ObjectStore,
    prefix: &str,
    key: &str,
) -> Result<RawTable, ReadError> {
    let format = TableFormat::of(key).map_err(ReadError::Refused)?;
    let location = object_path(prefix, key).map_err(ReadError::Refused)?;
    let fetched = match store.get(&location).await {
        Ok(result) => result.bytes().await,
        Err(error) => Err(error),
    };
    let bytes = fetched.map_err(|error| {
        tracing::debug!(key, %error, "S3 source read failed");
        ReadError::Failed(match error {
            object_store::Error::NotFound { .. } => format!("no object {key:?} in this source"),
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                format!("the dispatcher's credentials may not read {key:?}")
            }
            _ => format!("the object store failed to return {key:?}"),
        })
    })?;
    let shown = key.to_string();
    let parsed = tokio::task::spawn_blocking(move || match format {
        TableFormat::Csv => tables::read_csv(bytes.as_ref(), &shown),
        TableFormat::Parquet => tables::read_parquet(bytes, &shown),
    })
    .await
    .map_err(|_| ReadError::Failed("the reader stopped unexpectedly".into()))?;
    parsed.map_err(ReadError::Failed)
}
