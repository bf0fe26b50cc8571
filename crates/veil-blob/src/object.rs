//! [`BlobStore`] implementation over the `object_store` crate.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use crate::key::{validate_key, validate_prefix};
use crate::{BlobError, BlobMeta, BlobStore, ByteSource, ByteStream};

/// Size of each part of a streaming upload (S3 requires at least 5 MiB for
/// every part but the last; 8 MiB parts allow objects up to ~78 GiB within
/// S3's 10 000-part limit).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Maximum number of parts of one streaming upload in flight at once.
pub const MAX_CONCURRENT_PARTS: usize = 2;

/// A [`BlobStore`] backed by any [`ObjectStore`], with all keys stored under
/// a fixed prefix.
///
/// Atomicity comes from the backends: `LocalFileSystem` writes to a staging
/// file `<key>#<n>` and renames it into place on completion; S3 only makes a
/// multipart upload visible on `CompleteMultipartUpload`; `InMemory` inserts
/// the assembled object on completion.
#[derive(Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl fmt::Debug for ObjectBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Display` of the object_store backends names the store and bucket
        // or root, never credentials.
        f.debug_struct("ObjectBlobStore")
            .field("store", &format_args!("{}", self.store))
            .field("prefix", &self.prefix.as_ref())
            .finish()
    }
}

impl ObjectBlobStore {
    /// Wraps `store`, placing every key under `prefix` (which may be empty;
    /// otherwise it must be a valid key, see [`validate_key`]).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self, BlobError> {
        validate_prefix(prefix)?;
        let prefix = parse_path(prefix)?;
        Ok(Self { store, prefix })
    }

    /// The underlying `object_store` backend.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Maps a validated key to its backend location.
    fn location(&self, key: &str) -> Result<Path, BlobError> {
        validate_key(key)?;
        let rel = parse_path(key)?;
        Ok(Path::from_iter(self.prefix.parts().chain(rel.parts())))
    }

    /// Maps a backend location back to a key, if it lies under our prefix.
    fn key_of(&self, location: &Path) -> Option<String> {
        let parts: Vec<_> = location.prefix_match(&self.prefix)?.collect();
        if parts.is_empty() {
            return None;
        }
        Some(
            parts
                .iter()
                .map(|p| p.as_ref())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// Uploads `source` via a multipart upload, `first` being the chunks
    /// already read from it.
    async fn put_multipart(
        &self,
        key: &str,
        location: &Path,
        first: Vec<Bytes>,
        mut source: ByteSource<'_>,
    ) -> Result<u64, BlobError> {
        let upload = self
            .store
            .put_multipart(location)
            .await
            .map_err(|e| BlobError::backend("put_stream", key, e))?;
        let mut guard = UploadGuard(Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)));
        let mut written = 0u64;
        let mut pending = first.into_iter();
        loop {
            let chunk = match pending.next() {
                Some(chunk) => chunk,
                None => match source.next().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(source)) => {
                        tracing::debug!(key, error = %source, "input stream failed; aborting upload");
                        guard.abort().await;
                        return Err(BlobError::Source {
                            key: key.to_owned(),
                            source,
                        });
                    }
                    None => break,
                },
            };
            let writer = guard.writer(key)?;
            if let Err(e) = writer.wait_for_capacity(MAX_CONCURRENT_PARTS).await {
                guard.abort().await;
                return Err(BlobError::backend("put_stream", key, e));
            }
            written += chunk.len() as u64;
            guard.writer(key)?.put(chunk);
        }
        let writer = guard.0.take().ok_or_else(|| aborted(key))?;
        // On failure `finish` aborts the upload itself.
        writer
            .finish()
            .await
            .map_err(|e| BlobError::backend("put_stream", key, e))?;
        Ok(written)
    }
}

fn parse_path(s: &str) -> Result<Path, BlobError> {
    Path::parse(s).map_err(|_| BlobError::InvalidKey {
        key: s.to_owned(),
        reason: "not a valid object path",
    })
}

fn aborted(key: &str) -> BlobError {
    BlobError::Backend {
        op: "put_stream",
        key: key.to_owned(),
        source: object_store::Error::Generic {
            store: "veil-blob",
            source: "multipart upload already finished or aborted".into(),
        },
    }
}

/// Owns an in-progress multipart upload and aborts it if dropped unfinished
/// (e.g. when the `put_stream` future is cancelled), so no part-written data
/// lingers.
struct UploadGuard(Option<WriteMultipart>);

impl UploadGuard {
    fn writer(&mut self, key: &str) -> Result<&mut WriteMultipart, BlobError> {
        self.0.as_mut().ok_or_else(|| aborted(key))
    }

    async fn abort(&mut self) {
        if let Some(writer) = self.0.take() {
            if let Err(e) = writer.abort().await {
                tracing::warn!(error = %e, "failed to abort multipart upload");
            }
        }
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        if let Some(writer) = self.0.take() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = writer.abort().await {
                        tracing::warn!(error = %e, "failed to abort cancelled multipart upload");
                    }
                });
            }
        }
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<(), BlobError> {
        let location = self.location(key)?;
        self.store
            .put(&location, PutPayload::from(data))
            .await
            .map_err(|e| BlobError::backend("put", key, e))?;
        Ok(())
    }

    async fn put_stream(&self, key: &str, mut source: ByteSource<'_>) -> Result<u64, BlobError> {
        let location = self.location(key)?;
        // Buffer up to one part: small objects take a single plain PUT.
        let mut first = Vec::new();
        let mut buffered = 0usize;
        while buffered < PART_SIZE {
            match source.next().await {
                Some(Ok(chunk)) => {
                    buffered += chunk.len();
                    first.push(chunk);
                }
                Some(Err(source)) => {
                    return Err(BlobError::Source {
                        key: key.to_owned(),
                        source,
                    })
                }
                None => {
                    let payload: PutPayload = first.into_iter().collect();
                    self.store
                        .put(&location, payload)
                        .await
                        .map_err(|e| BlobError::backend("put_stream", key, e))?;
                    return Ok(buffered as u64);
                }
            }
        }
        self.put_multipart(key, &location, first, source).await
    }

    async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        let location = self.location(key)?;
        let result = self
            .store
            .get(&location)
            .await
            .map_err(|e| BlobError::backend("get", key, e))?;
        result
            .bytes()
            .await
            .map_err(|e| BlobError::backend("get", key, e))
    }

    async fn get_stream(&self, key: &str) -> Result<ByteStream, BlobError> {
        let location = self.location(key)?;
        let result = self
            .store
            .get(&location)
            .await
            .map_err(|e| BlobError::backend("get_stream", key, e))?;
        let key = key.to_owned();
        Ok(result
            .into_stream()
            .map_err(move |e| BlobError::backend("get_stream", &key, e))
            .boxed())
    }

    async fn head(&self, key: &str) -> Result<BlobMeta, BlobError> {
        let location = self.location(key)?;
        let meta = self
            .store
            .head(&location)
            .await
            .map_err(|e| BlobError::backend("head", key, e))?;
        Ok(BlobMeta {
            key: key.to_owned(),
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
        })
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let location = self.location(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::backend("delete", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let location = if prefix.is_empty() {
            self.prefix.clone()
        } else {
            self.location(prefix)?
        };
        let listing = if location.as_ref().is_empty() {
            self.store.list(None)
        } else {
            self.store.list(Some(&location))
        };
        let metas: Vec<_> = match listing.try_collect().await {
            Ok(metas) => metas,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(BlobError::backend("list", prefix, e)),
        };
        let mut keys: Vec<String> = metas
            .iter()
            .filter_map(|meta| self.key_of(&meta.location))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}
