//! [`UploadBody`]: an upload's bytes, streamed to the server chunk by chunk and re-created for each
//! attempt (a rate-limited upload is sent again), with progress reported as bytes go out.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::io::AsyncReadExt;

/// Bytes read from a file per chunk.
const FILE_CHUNK_BYTES: usize = 256 * 1024;

/// Called with the bytes handed to the connection so far in the current attempt.
pub type ProgressFn = Arc<dyn Fn(u64) + Send + Sync>;

/// Makes one attempt's chunks.
type ChunkFactory = Arc<dyn Fn() -> Box<dyn Iterator<Item = Bytes> + Send> + Send + Sync>;

#[derive(Clone)]
enum Source {
    Bytes(Bytes),
    File(PathBuf),
    Chunks(ChunkFactory),
}

/// An upload's body of known length. Cloning is cheap; nothing is read until it is sent.
#[derive(Clone)]
pub struct UploadBody {
    length: u64,
    source: Source,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for UploadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Bytes(_) => "bytes".to_string(),
            Source::File(path) => format!("file {}", path.display()),
            Source::Chunks(_) => "chunks".to_string(),
        };
        f.debug_struct("UploadBody")
            .field("length", &self.length)
            .field("source", &source)
            .finish()
    }
}

impl UploadBody {
    /// A body held in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            length: bytes.len() as u64,
            source: Source::Bytes(bytes),
            progress: None,
        }
    }

    /// A file, read in chunks as the upload proceeds (and again from the start on a retry). Its
    /// length is taken now; a file that changes size meanwhile fails the upload.
    pub async fn from_file(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let length = tokio::fs::metadata(&path).await?.len();
        Ok(Self {
            length,
            source: Source::File(path),
            progress: None,
        })
    }

    /// A body of `length` bytes produced by `chunks`, which is called once per attempt and must
    /// yield exactly `length` bytes each time.
    pub fn from_chunks<I>(length: u64, chunks: impl Fn() -> I + Send + Sync + 'static) -> Self
    where
        I: Iterator<Item = Bytes> + Send + 'static,
    {
        let factory: ChunkFactory = Arc::new(move || Box::new(chunks()));
        Self {
            length,
            source: Source::Chunks(factory),
            progress: None,
        }
    }

    /// Reports progress to `progress` as the body is sent.
    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The file the body is read from, if any.
    pub fn file(&self) -> Option<&std::path::Path> {
        match &self.source {
            Source::File(path) => Some(path),
            _ => None,
        }
    }

    /// One attempt's request body. A read error is recorded in `failure` (the HTTP stack only
    /// passes on its own wrapper of it).
    pub(super) fn attempt(&self, failure: Arc<Mutex<Option<io::Error>>>) -> reqwest::Body {
        reqwest::Body::wrap_stream(self.stream(failure))
    }

    /// One attempt's chunks, counted for progress.
    fn stream(
        &self,
        failure: Arc<Mutex<Option<io::Error>>>,
    ) -> BoxStream<'static, io::Result<Bytes>> {
        if let Some(progress) = &self.progress {
            progress(0);
        }
        let chunks: BoxStream<'static, io::Result<Bytes>> = match &self.source {
            Source::Bytes(bytes) => {
                // Split so that progress moves while a large in-memory body goes out.
                let bytes = bytes.clone();
                let count = bytes.len().div_ceil(FILE_CHUNK_BYTES);
                stream::iter((0..count).map(move |index| {
                    let start = index * FILE_CHUNK_BYTES;
                    let end = (start + FILE_CHUNK_BYTES).min(bytes.len());
                    Ok(bytes.slice(start..end))
                }))
                .boxed()
            }
            Source::File(path) => file_chunks(path.clone()),
            Source::Chunks(factory) => stream::iter(factory().map(Ok)).boxed(),
        };
        let progress = self.progress.clone();
        let mut sent = 0u64;
        chunks
            .map(move |chunk| match chunk {
                Ok(chunk) => {
                    sent += chunk.len() as u64;
                    if let Some(progress) = &progress {
                        progress(sent);
                    }
                    Ok(chunk)
                }
                Err(err) => {
                    if let Ok(mut slot) = failure.lock() {
                        *slot = Some(io::Error::new(err.kind(), err.to_string()));
                    }
                    Err(err)
                }
            })
            .boxed()
    }
}

/// A file's contents as a stream of chunks, opened when first polled.
fn file_chunks(path: PathBuf) -> BoxStream<'static, io::Result<Bytes>> {
    stream::try_unfold(None, move |file: Option<tokio::fs::File>| {
        let path = path.clone();
        async move {
            let mut file = match file {
                Some(file) => file,
                None => tokio::fs::File::open(&path).await?,
            };
            let mut buffer = vec![0u8; FILE_CHUNK_BYTES];
            let read = file.read(&mut buffer).await?;
            if read == 0 {
                return Ok(None);
            }
            buffer.truncate(read);
            Ok(Some((Bytes::from(buffer), Some(file))))
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    async fn collect(body: &UploadBody) -> io::Result<Vec<u8>> {
        let failure = Arc::new(Mutex::new(None));
        let chunks: Vec<_> = body.stream(failure).collect().await;
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_file_is_streamed_whole_each_attempt_with_progress() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clks.bin");
        let data: Vec<u8> = (0..(FILE_CHUNK_BYTES * 2 + 7)).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let reported = seen.clone();
        let body = UploadBody::from_file(&path)
            .await
            .unwrap()
            .with_progress(Arc::new(move |sent| reported.store(sent, Ordering::SeqCst)));
        assert_eq!(body.len(), data.len() as u64);
        assert_eq!(collect(&body).await.unwrap(), data);
        assert_eq!(collect(&body).await.unwrap(), data);
        assert_eq!(seen.load(Ordering::SeqCst), data.len() as u64);
    }

    #[tokio::test]
    async fn chunks_and_bytes_are_replayed() {
        let body = UploadBody::from_chunks(4, || {
            vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd")].into_iter()
        });
        assert_eq!(collect(&body).await.unwrap(), b"abcd");
        assert_eq!(collect(&body).await.unwrap(), b"abcd");
        let body = UploadBody::from_bytes(vec![1u8; FILE_CHUNK_BYTES + 1]);
        assert_eq!(collect(&body).await.unwrap().len(), FILE_CHUNK_BYTES + 1);
    }

    #[tokio::test]
    async fn a_missing_file_fails_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        std::fs::write(&path, b"x").unwrap();
        let body = UploadBody::from_file(&path).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let failure = Arc::new(Mutex::new(None));
        let chunks: Vec<_> = body.stream(failure.clone()).collect().await;
        assert!(chunks.iter().any(Result::is_err));
        assert!(failure.lock().unwrap().is_some());
    }
}
