//! Conformance suite and local-backend specifics against a fresh temporary
//! directory per test.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use veil_blob::testsuite::Fixture;
use veil_blob::{open, BlobError, BlobStore, S3Settings, PART_SIZE};

fn open_dir(dir: &Path) -> std::sync::Arc<dyn BlobStore> {
    let path = dir.to_str().expect("utf-8 temp path");
    open(path, &S3Settings::default()).expect("open local store")
}

async fn fresh_local() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    // A not-yet-existing subdirectory: `open` must create it.
    let store = open_dir(&dir.path().join("blobs"));
    Fixture::with_guard(store, dir)
}

mod conformance {
    veil_blob::blob_store_test_suite!(super::fresh_local());
}

/// All regular files below `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path: PathBuf = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Shows how `LocalFileSystem` makes streaming writes atomic: the data goes
/// to a staging file `<key>#<n>` next to the target, which is renamed onto
/// the key only when the upload completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_upload_goes_through_a_staging_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_dir(dir.path());
    let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
    let chunks = PART_SIZE / chunk.len() + 2;
    let (mut tx, rx) = mpsc::channel::<io::Result<Bytes>>(0);
    let upload = store.put_stream("d/obj.bin", rx.boxed());
    let driver = async {
        for _ in 0..chunks {
            tx.send(Ok(chunk.clone())).await.expect("send");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(files_under(dir.path()), ["d/obj.bin#1"]);
        assert!(matches!(
            store.get("d/obj.bin").await,
            Err(BlobError::NotFound { .. })
        ));
        tx.send(Ok(chunk.clone())).await.expect("send");
        drop(tx);
    };
    let (written, ()) = futures::join!(upload, driver);
    let expected = (chunks as u64 + 1) * chunk.len() as u64;
    assert_eq!(written.expect("upload"), expected);
    assert_eq!(files_under(dir.path()), ["d/obj.bin"]);
    let on_disk = std::fs::metadata(dir.path().join("d/obj.bin")).expect("stat");
    assert_eq!(on_disk.len(), expected);
}

/// Failed and cancelled streaming uploads remove their staging files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_and_cancelled_uploads_leave_no_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_dir(dir.path());
    let chunk = Bytes::from(vec![1u8; 1024 * 1024]);
    let n = PART_SIZE / chunk.len() + 3;

    let failing = futures::stream::iter(std::iter::repeat_n(chunk.clone(), n).map(Ok))
        .chain(futures::stream::once(async {
            Err(io::Error::other("boom"))
        }))
        .boxed();
    let err = store
        .put_stream("x/failed", failing)
        .await
        .expect_err("must fail");
    assert!(matches!(err, BlobError::Source { .. }), "{err}");
    assert!(
        files_under(dir.path()).is_empty(),
        "{:?}",
        files_under(dir.path())
    );

    let endless = futures::stream::iter(std::iter::repeat_n(chunk, n).map(Ok))
        .chain(futures::stream::pending())
        .boxed();
    let cancelled = tokio::time::timeout(
        Duration::from_secs(1),
        store.put_stream("x/cancelled", endless),
    )
    .await;
    assert!(cancelled.is_err(), "endless upload finished");
    // Cleanup after cancellation runs in the background.
    let mut left = files_under(dir.path());
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = files_under(dir.path());
    }
    assert!(left.is_empty(), "staging files left behind: {left:?}");
}

/// Deleting the last object of a directory removes the empty directories
/// (but never the store root).
#[tokio::test]
async fn delete_cleans_up_empty_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let store = open_dir(&root);
    store
        .put("a/b/c", Bytes::from_static(b"1"))
        .await
        .expect("put");
    store.delete("a/b/c").await.expect("delete");
    assert!(!root.join("a").exists());
    assert!(root.is_dir());
}

/// A `file://` URL and a plain path address the same directory.
#[tokio::test]
async fn file_url_and_plain_path_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let by_path = open_dir(dir.path());
    let url = url_for(dir.path());
    let by_url = open(&url, &S3Settings::default()).expect("open file url");
    by_path
        .put("k/v", Bytes::from_static(b"same"))
        .await
        .expect("put");
    assert_eq!(by_url.get("k/v").await.expect("get"), "same");
    assert_eq!(by_url.list("k").await.expect("list"), ["k/v"]);
}

fn url_for(path: &Path) -> String {
    format!("file://{}", path.display())
}
