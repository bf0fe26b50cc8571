//! Streaming into the object store: a `Write` on a blocking thread feeding
//! [`BlobStore::put_stream`](veil_blob::BlobStore::put_stream), so that synthetic rows never have to
//! fit in memory, and an object-to-object copy.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use veil_blob::{BlobStore, ByteSource};

/// Bytes gathered before a chunk is handed to the upload.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks in flight between the writer and the upload.
const CHUNKS_IN_FLIGHT: usize = 4;

/// The writing end: buffers, counts lines, and hands full chunks to the upload.
pub(crate) struct ChannelWriter {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: Vec<u8>,
    lines: Arc<AtomicU64>,
    finished: Arc<AtomicBool>,
    cancel: CancellationToken,
}

/// A writer and the stream of what it writes, for `put_stream`, with the count of lines written.
/// The stream ends only after [`ChannelWriter::finish`]; a writer dropped before that (its work
/// failed) ends the stream with an error, so the upload stores nothing.
pub(crate) fn channel(
    cancel: CancellationToken,
) -> (ChannelWriter, ByteSource<'static>, Arc<AtomicU64>) {
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let lines = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let state = (receiver, Arc::clone(&finished), false);
    let source = futures::stream::unfold(state, |(mut receiver, finished, ended)| async move {
        if ended {
            return None;
        }
        match receiver.recv().await {
            Some(item) => Some((item, (receiver, finished, false))),
            None if finished.load(Ordering::SeqCst) => None,
            None => {
                let stopped = io::Error::other("the writer stopped before the end");
                Some((Err(stopped), (receiver, finished, true)))
            }
        }
    })
    .boxed();
    let writer = ChannelWriter {
        sender,
        buffer: Vec::with_capacity(CHUNK_BYTES),
        lines: Arc::clone(&lines),
        finished,
        cancel,
    };
    (writer, source, lines)
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::other("the upload stopped"))
    }

    /// Sends what is buffered and ends the stream, so the upload can complete.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.send()?;
        self.finished.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        let lines = data.iter().filter(|&&byte| byte == b'\n').count() as u64;
        self.lines.fetch_add(lines, Ordering::Relaxed);
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies object `from` to `to` chunk by chunk; `to` appears whole or not at all.
pub(crate) async fn copy_object(
    blobs: &dyn BlobStore,
    from: &str,
    to: &str,
) -> Result<u64, veil_blob::BlobError> {
    let source = blobs
        .get_stream(from)
        .await?
        .map(|chunk| chunk.map_err(io::Error::other))
        .boxed();
    blobs.put_stream(to, source).await
}
