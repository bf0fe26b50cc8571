//! Building a [`BlobStore`] from a URL.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use url::Url;

use crate::key::validate_prefix;
use crate::{BlobError, BlobStore, ObjectBlobStore};

/// Connection settings for `s3://` stores.
///
/// Passed in explicitly: nothing is read from `AWS_*` environment variables
/// for these fields. When neither `access_key_id` nor `secret_access_key` is
/// set, `object_store` falls back to web-identity, container or instance
/// metadata credentials. `Debug` output redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Custom endpoint such as `http://127.0.0.1:9090` for S3-compatible
    /// servers (path-style requests are used). `None` means AWS S3.
    pub endpoint: Option<String>,
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Static access key id; must be set together with `secret_access_key`.
    pub access_key_id: Option<String>,
    /// Static secret access key; must be set together with `access_key_id`.
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints (for local test servers only).
    pub allow_http: bool,
}

impl Default for S3Settings {
    /// AWS S3 in `us-east-1`, ambient credentials, HTTPS only.
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        }
    }
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Opens the blob store described by `url`.
///
/// * a plain path (`/var/lib/veil/blobs`, `data/blobs`) or `file:///abs/path`:
///   a local directory, created (with parents) if missing;
/// * `s3://bucket` or `s3://bucket/key/prefix`: S3 (or an S3-compatible
///   server) configured from `s3`; all keys live under the prefix;
/// * `memory://`: a new, empty in-memory store (each call returns a separate
///   store).
///
/// `s3` is ignored for non-S3 URLs. Strings that parse as a URL with a
/// scheme other than these fail with [`BlobError::UnsupportedScheme`];
/// malformed URLs (no bucket, a query string, a non-local `file://` host, …)
/// fail with [`BlobError::InvalidUrl`]. Both name the URL.
pub fn open(url: &str, s3: &S3Settings) -> Result<Arc<dyn BlobStore>, BlobError> {
    if url.is_empty() {
        return Err(invalid(url, "empty URL"));
    }
    if has_dot_segments(url) {
        return Err(invalid(url, "'.' and '..' path segments are not allowed"));
    }
    let parsed = match Url::parse(url) {
        Ok(parsed) => parsed,
        // No scheme: a plain filesystem path.
        Err(url::ParseError::RelativeUrlWithoutBase) => return open_local(FsPath::new(url)),
        Err(e) => return Err(invalid(url, &e.to_string())),
    };
    match parsed.scheme() {
        "file" => {
            if parsed.host_str().is_some_and(|h| h != "localhost") {
                return Err(invalid(url, "file:// URLs must not name a remote host"));
            }
            reject_extras(url, &parsed)?;
            let path = parsed
                .to_file_path()
                .map_err(|()| invalid(url, "not an absolute local path"))?;
            open_local(&path)
        }
        "s3" => open_s3(url, &parsed, s3),
        "memory" => {
            reject_extras(url, &parsed)?;
            if parsed.host_str().is_some_and(|h| !h.is_empty())
                || !matches!(parsed.path(), "" | "/")
            {
                return Err(invalid(url, "memory:// URLs take no host or path"));
            }
            let store = ObjectBlobStore::new(Arc::new(InMemory::new()), "")?;
            Ok(Arc::new(store))
        }
        scheme => Err(BlobError::UnsupportedScheme {
            url: url.to_owned(),
            scheme: scheme.to_owned(),
        }),
    }
}

fn invalid(url: &str, reason: &str) -> BlobError {
    BlobError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Whether a URL's path has `.`/`..` segments (possibly percent-encoded),
/// which URL parsing would silently resolve.
fn has_dot_segments(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    rest.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    })
}

/// Rejects URL parts none of our schemes use.
fn reject_extras(url: &str, parsed: &Url) -> Result<(), BlobError> {
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(
            url,
            "query strings and fragments are not supported",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            url,
            "credentials in the URL are not supported; use S3Settings",
        ));
    }
    if parsed.port().is_some() {
        return Err(invalid(
            url,
            "ports are not supported; set S3Settings::endpoint",
        ));
    }
    Ok(())
}

fn open_local(path: &FsPath) -> Result<Arc<dyn BlobStore>, BlobError> {
    let local_err = |source| BlobError::LocalRoot {
        path: PathBuf::from(path),
        source,
    };
    std::fs::create_dir_all(path).map_err(local_err)?;
    let fs = LocalFileSystem::new_with_prefix(path)
        .map_err(|e| local_err(std::io::Error::other(e)))?
        .with_automatic_cleanup(true);
    Ok(Arc::new(ObjectBlobStore::new(Arc::new(fs), "")?))
}

fn open_s3(url: &str, parsed: &Url, s3: &S3Settings) -> Result<Arc<dyn BlobStore>, BlobError> {
    reject_extras(url, parsed)?;
    let bucket = match parsed.host_str() {
        Some(bucket) if !bucket.is_empty() => bucket,
        _ => {
            return Err(invalid(
                url,
                "missing bucket name (expected s3://bucket/prefix)",
            ))
        }
    };
    let prefix = parsed.path().trim_start_matches('/').trim_end_matches('/');
    validate_prefix(prefix).map_err(|e| invalid(url, &format!("bad key prefix: {e}")))?;

    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(&s3.region)
        .with_allow_http(s3.allow_http);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(id) = &s3.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    let store = builder.build().map_err(|source| BlobError::Config {
        url: url.to_owned(),
        source,
    })?;
    Ok(Arc::new(ObjectBlobStore::new(Arc::new(store), prefix)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> S3Settings {
        S3Settings {
            endpoint: Some("http://127.0.0.1:1".into()),
            access_key_id: Some("id".into()),
            secret_access_key: Some("shh-secret".into()),
            allow_http: true,
            ..S3Settings::default()
        }
    }

    #[test]
    fn opens_supported_urls() {
        let s3 = settings();
        assert!(open("memory://", &s3).is_ok());
        assert!(open("s3://bucket", &s3).is_ok());
        let store = open("s3://bucket/some/prefix/", &s3).expect("s3 with prefix");
        let debug = format!("{store:?}");
        assert!(debug.contains("some/prefix"), "{debug}");

        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("a/b");
        let plain = nested.to_str().expect("utf-8 path");
        assert!(open(plain, &s3).is_ok());
        assert!(nested.is_dir());
        let file_url = Url::from_file_path(dir.path().join("c")).expect("file url");
        assert!(open(file_url.as_str(), &s3).is_ok());
        assert!(dir.path().join("c").is_dir());
    }

    #[test]
    fn rejects_bad_urls_naming_them() {
        let s3 = settings();
        for url in [
            "",
            "s3://",
            "s3:bucket",
            "s3://bucket/a/../b",
            "s3://bucket/./b",
            "s3://bucket/a/%2E%2e/b",
            "file:///tmp/x/../y",
            "s3://bucket/p?x=1",
            "s3://user:pw@bucket/p",
            "s3://bucket:9000/p",
            "file://remote-host/x",
            "memory://x",
            "http://[::1",
        ] {
            match open(url, &s3) {
                Err(BlobError::InvalidUrl { url: u, .. }) => assert_eq!(u, url),
                other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
            }
        }
        for url in ["gs://bucket/x", "http://example.com/x", "ftp://h/p"] {
            match open(url, &s3) {
                Err(e @ BlobError::UnsupportedScheme { .. }) => {
                    assert!(e.to_string().contains(url), "{e}");
                }
                other => panic!("{url:?}: expected UnsupportedScheme, got {other:?}"),
            }
        }
    }

    #[test]
    fn incomplete_credentials_are_rejected() {
        let s3 = S3Settings {
            secret_access_key: None,
            ..settings()
        };
        assert!(matches!(
            open("s3://bucket", &s3),
            Err(BlobError::Config { .. })
        ));
    }

    #[test]
    fn debug_redacts_secret() {
        let debug = format!("{:?}", settings());
        assert!(!debug.contains("shh-secret"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }
}
