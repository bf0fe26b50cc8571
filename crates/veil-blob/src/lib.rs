//! Veil's blob store.
//!
//! [`BlobStore`] is the small, object-safe async interface the rest of Veil
//! uses to store opaque byte objects (inputs, encodings, match results).
//! [`ObjectBlobStore`] implements it on top of the [`object_store`] crate, and
//! [`open`] builds one from a URL:
//!
//! | URL                         | backend                                     |
//! |-----------------------------|---------------------------------------------|
//! | `/var/lib/veil`, `./data`   | local directory (created if missing)        |
//! | `file:///var/lib/veil`      | local directory (created if missing)        |
//! | `s3://bucket/optional/pfx`  | S3 or an S3-compatible server ([`S3Settings`]) |
//! | `memory://`                 | a fresh, process-local in-memory store      |
//!
//! # Contract
//!
//! Every implementation must honour the following; the conformance suite
//! (feature `testsuite`, [`blob_store_test_suite!`]) checks it.
//!
//! * **Keys** are relative `/`-separated paths, validated by
//!   [`validate_key`]: empty keys, absolute keys, `.`/`..` segments, empty
//!   segments and control characters are rejected with
//!   [`BlobError::InvalidKey`] before the backend is contacted.
//! * **Missing objects**: reading a key that does not exist fails with
//!   [`BlobError::NotFound`] carrying the key. Deleting one succeeds.
//! * **Atomic writes**: a reader sees either no object, the previous complete
//!   version, or the new complete version, never a partial object. A streaming
//!   write that fails (backend error, or the input stream yields an error) or
//!   is cancelled leaves no new object behind.
//! * **Listing** returns full keys (relative to the store root) sorted
//!   ascending.

#![warn(missing_docs)]

use std::io;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

mod error;
mod key;
mod object;
mod open;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;

pub use error::BlobError;
pub use key::{validate_key, MAX_KEY_LEN, RESERVED_CHARS};
pub use object::{ObjectBlobStore, MAX_CONCURRENT_PARTS, PART_SIZE};
pub use open::{open, S3Settings};

/// A stream of byte chunks fed to [`BlobStore::put_stream`].
pub type ByteSource<'a> = BoxStream<'a, Result<Bytes, io::Error>>;

/// A stream of byte chunks returned by [`BlobStore::get_stream`].
pub type ByteStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// Metadata of a stored object, as returned by [`BlobStore::head`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The object's key, relative to the store root.
    pub key: String,
    /// Size of the object in bytes.
    pub size: u64,
    /// When the object was last written.
    pub last_modified: DateTime<Utc>,
    /// Backend-specific entity tag, if the backend provides one.
    pub e_tag: Option<String>,
}

/// Veil's blob store interface.
///
/// Object safe; use it as `Arc<dyn BlobStore>`. See the [crate docs](crate)
/// for the contract every implementation honours (key validation,
/// [`BlobError::NotFound`] for missing objects, atomic writes, sorted lists).
#[async_trait]
pub trait BlobStore: std::fmt::Debug + Send + Sync + 'static {
    /// Stores `data` under `key`, replacing any existing object atomically.
    async fn put(&self, key: &str, data: Bytes) -> Result<(), BlobError>;

    /// Stores the concatenation of the chunks of `source` under `key` and
    /// returns the number of bytes written.
    ///
    /// Large objects are uploaded in parts as the stream is read (S3
    /// multipart upload, or a staging file for the local backend); memory use
    /// is bounded by about `(MAX_CONCURRENT_PARTS + 1) * PART_SIZE` plus the
    /// size of the largest chunk, independent of the object size.
    ///
    /// The object becomes visible only once the whole stream has been written;
    /// until then readers see the previous version or [`BlobError::NotFound`].
    /// If `source` yields an error the upload is aborted, nothing new is
    /// stored, and [`BlobError::Source`] is returned. If the returned future is
    /// dropped before completion, the upload is aborted in the background.
    async fn put_stream(&self, key: &str, source: ByteSource<'_>) -> Result<u64, BlobError>;

    /// Reads the whole object under `key` into memory. Meant for small
    /// objects; use [`BlobStore::get_stream`] for large ones.
    async fn get(&self, key: &str) -> Result<Bytes, BlobError>;

    /// Opens the object under `key` for streaming reads.
    ///
    /// Fails with [`BlobError::NotFound`] up front if the object is missing;
    /// errors while reading are yielded by the stream.
    async fn get_stream(&self, key: &str) -> Result<ByteStream, BlobError>;

    /// Returns the object's metadata, or [`BlobError::NotFound`].
    async fn head(&self, key: &str) -> Result<BlobMeta, BlobError>;

    /// Deletes the object under `key`. Deleting a missing object succeeds.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Lists the keys of all objects under `prefix`, sorted ascending.
    ///
    /// `prefix` is matched segment-wise like a directory: `"runs/1"` matches
    /// `runs/1/a` and `runs/1/x/y` but not `runs/10/a`, nor an object named
    /// exactly `runs/1`. The empty prefix lists every object in the store.
    /// Returned keys are full keys relative to the store root.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;

    /// Returns whether an object exists under `key`.
    async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(BlobError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod memory_conformance {
    crate::blob_store_test_suite!(async {
        crate::open("memory://", &crate::S3Settings::default()).expect("memory store")
    });
}
