//! The individual contract cases. Each takes a fresh, empty store and panics
//! (fails the test) on a contract violation.

use std::fmt::Debug;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};

use crate::{BlobError, BlobStore, ByteSource, PART_SIZE};

const MIB: usize = 1024 * 1024;

/// Deterministic pseudo-random bytes: byte `i` of the object for `seed`.
fn pattern(seed: u64, offset: u64, len: usize) -> Bytes {
    (offset..offset + len as u64)
        .map(|i| {
            let x = (i ^ seed.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            (x >> 56) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// `total` bytes of [`pattern`] as a list of `chunk`-sized pieces.
fn pattern_chunks(seed: u64, total: usize, chunk: usize) -> Vec<Bytes> {
    (0..total)
        .step_by(chunk)
        .map(|start| pattern(seed, start as u64, chunk.min(total - start)))
        .collect()
}

/// FNV-1a 64-bit checksum, continued from `hash`.
fn fnv1a(mut hash: u64, data: &[u8]) -> u64 {
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const FNV_INIT: u64 = 0xcbf2_9ce4_8422_2325;

fn ok_source(chunks: Vec<Bytes>) -> ByteSource<'static> {
    futures::stream::iter(chunks.into_iter().map(Ok)).boxed()
}

#[track_caller]
fn assert_not_found<T: Debug>(result: Result<T, BlobError>, key: &str) {
    match result {
        Err(BlobError::NotFound { key: k }) => assert_eq!(k, key, "NotFound names the key"),
        other => panic!("expected NotFound for {key:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_invalid<T: Debug>(result: Result<T, BlobError>, key: &str) {
    match result {
        Err(BlobError::InvalidKey { key: k, .. }) => assert_eq!(k, key),
        other => panic!("expected InvalidKey for {key:?}, got {other:?}"),
    }
}

async fn must_get(store: &dyn BlobStore, key: &str) -> Bytes {
    match store.get(key).await {
        Ok(data) => data,
        Err(e) => panic!("get {key:?} failed: {e}"),
    }
}

/// Streams the object back, returning `(length, checksum)`.
async fn stream_checksum(store: &dyn BlobStore, key: &str) -> (u64, u64) {
    let mut stream = store.get_stream(key).await.expect("get_stream");
    let (mut len, mut hash) = (0u64, FNV_INIT);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("get_stream chunk");
        len += chunk.len() as u64;
        hash = fnv1a(hash, &chunk);
    }
    (len, hash)
}

/// `put` then `get`/`get_stream` return the same bytes, including for an
/// empty object and a small `put_stream`.
pub async fn put_get_round_trip(store: &dyn BlobStore) {
    let data = pattern(1, 0, 10_000);
    store.put("a/b/data.bin", data.clone()).await.expect("put");
    assert_eq!(must_get(store, "a/b/data.bin").await, data);
    assert_eq!(
        stream_checksum(store, "a/b/data.bin").await,
        (data.len() as u64, fnv1a(FNV_INIT, &data))
    );

    store.put("empty", Bytes::new()).await.expect("put empty");
    assert!(must_get(store, "empty").await.is_empty());

    let chunks = vec![Bytes::from_static(b"hello "), Bytes::from_static(b"world")];
    let n = store.put_stream("small", ok_source(chunks)).await;
    assert_eq!(n.expect("small put_stream"), 11);
    assert_eq!(
        must_get(store, "small").await,
        Bytes::from_static(b"hello world")
    );

    let n = store.put_stream("empty-stream", ok_source(vec![])).await;
    assert_eq!(n.expect("empty put_stream"), 0);
    assert!(must_get(store, "empty-stream").await.is_empty());
    assert!(store.exists("a/b/data.bin").await.expect("exists"));
}

/// A second `put` replaces the object entirely (including a shorter one).
pub async fn overwrite_replaces_object(store: &dyn BlobStore) {
    store.put("k", pattern(1, 0, 5000)).await.expect("put v1");
    let v2 = pattern(2, 0, 1000);
    store.put("k", v2.clone()).await.expect("put v2");
    assert_eq!(must_get(store, "k").await, v2);
    assert_eq!(store.head("k").await.expect("head").size, 1000);
    assert_eq!(store.list("").await.expect("list"), vec!["k".to_owned()]);
}

/// Reads of a missing key fail with `NotFound` naming the key.
pub async fn missing_key_is_not_found(store: &dyn BlobStore) {
    let key = "no/such/object";
    assert_not_found(store.get(key).await, key);
    assert_not_found(store.get_stream(key).await.map(|_| ()), key);
    assert_not_found(store.head(key).await, key);
    assert!(!store.exists(key).await.expect("exists"));
    assert!(store.list("no").await.expect("list").is_empty());
}

/// Deleting a missing object succeeds; deleting an existing one removes it.
pub async fn delete_missing_is_ok(store: &dyn BlobStore) {
    store.delete("never/existed").await.expect("delete missing");
    store
        .put("d/x", Bytes::from_static(b"x"))
        .await
        .expect("put");
    store.delete("d/x").await.expect("delete");
    assert!(!store.exists("d/x").await.expect("exists"));
    assert_not_found(store.get("d/x").await, "d/x");
    store.delete("d/x").await.expect("delete twice");
    assert!(store.list("").await.expect("list").is_empty());
}

/// `list` returns full keys under a directory-like prefix, sorted.
pub async fn list_filters_by_prefix_and_sorts(store: &dyn BlobStore) {
    for key in [
        "data/b",
        "data/a",
        "data/sub/c",
        "data2/x",
        "other/y",
        "top",
    ] {
        store
            .put(key, Bytes::from(key.to_owned()))
            .await
            .expect("put");
    }
    let list = |p: &'static str| async move { store.list(p).await.expect("list") };
    assert_eq!(list("data").await, ["data/a", "data/b", "data/sub/c"]);
    assert_eq!(list("data/sub").await, ["data/sub/c"]);
    assert_eq!(
        list("").await,
        [
            "data/a",
            "data/b",
            "data/sub/c",
            "data2/x",
            "other/y",
            "top"
        ]
    );
    assert!(list("nothing").await.is_empty());
    assert!(
        list("dat").await.is_empty(),
        "prefixes match whole segments"
    );
    assert_invalid(store.list("/data").await, "/data");
    assert_invalid(store.list("../data").await, "../data");
}

/// `head` reports key, size and a plausible modification time.
pub async fn head_reports_size(store: &dyn BlobStore) {
    let before = chrono::Utc::now() - chrono::Duration::hours(1);
    store.put("h/obj", pattern(3, 0, 1234)).await.expect("put");
    let meta = store.head("h/obj").await.expect("head");
    assert_eq!(meta.key, "h/obj");
    assert_eq!(meta.size, 1234);
    assert!(meta.last_modified > before, "{meta:?}");
    assert!(meta.last_modified < chrono::Utc::now() + chrono::Duration::hours(1));
}

/// 20 MiB streamed in 1 MiB chunks comes back byte-identical.
pub async fn stream_round_trip_20_mib(store: &dyn BlobStore) {
    const TOTAL: usize = 20 * MIB;
    let seed = 20;
    let expected = pattern_chunks(seed, TOTAL, MIB)
        .iter()
        .fold(FNV_INIT, |h, c| fnv1a(h, c));
    // Generate chunks lazily so the source never holds the whole object.
    let source = futures::stream::iter((0..TOTAL).step_by(MIB))
        .map(move |start| Ok(pattern(seed, start as u64, MIB)))
        .boxed();
    let written = store.put_stream("big/object.bin", source).await;
    assert_eq!(written.expect("put_stream"), TOTAL as u64);
    assert_eq!(
        store.head("big/object.bin").await.expect("head").size,
        TOTAL as u64
    );
    assert_eq!(
        stream_checksum(store, "big/object.bin").await,
        (TOTAL as u64, expected)
    );
}

/// Drives `put_stream(key)` from a channel and, once more than one part has
/// been consumed but before the stream ends, runs `check`. Asserts the
/// upload succeeds and returns the number of bytes sent.
async fn upload_with_midway_check<F, Fut>(store: &dyn BlobStore, key: &str, check: F) -> u64
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    const CHUNK: usize = 4 * MIB;
    let chunks = pattern_chunks(7, 2 * PART_SIZE + 3 * CHUNK, CHUNK);
    let total: u64 = chunks.iter().map(|c| c.len() as u64).sum();
    let split = PART_SIZE / CHUNK + 2;
    // Capacity 0: each `send` returns only once the previous chunk was taken.
    let (mut tx, rx) = mpsc::channel::<io::Result<Bytes>>(0);
    let upload = store.put_stream(key, rx.boxed());
    let driver = async move {
        for chunk in &chunks[..split] {
            if tx.send(Ok(chunk.clone())).await.is_err() {
                return;
            }
        }
        // Give in-flight part uploads time to reach the backend.
        tokio::time::sleep(Duration::from_millis(300)).await;
        check().await;
        for chunk in &chunks[split..] {
            if tx.send(Ok(chunk.clone())).await.is_err() {
                return;
            }
        }
    };
    let (result, ()) = futures::join!(upload, driver);
    assert_eq!(result.expect("streaming upload"), total);
    total
}

/// While a multi-part streaming upload is in progress the key is not
/// visible at all; afterwards the full object is.
pub async fn streaming_upload_is_invisible_until_complete(store: &dyn BlobStore) {
    let key = "atomic/new.bin";
    let total = upload_with_midway_check(store, key, move || async move {
        assert_not_found(store.get(key).await, key);
        assert_not_found(store.head(key).await, key);
        assert!(!store.exists(key).await.expect("exists"));
        assert!(
            store.list("atomic").await.expect("list").is_empty(),
            "in-progress upload must not be listed"
        );
    })
    .await;
    assert_eq!(store.head(key).await.expect("head").size, total);
    assert_eq!(store.list("atomic").await.expect("list"), [key]);
}

/// While a streaming overwrite is in progress readers see the previous
/// complete version.
pub async fn streaming_overwrite_keeps_previous_version_visible(store: &dyn BlobStore) {
    let key = "atomic/existing.bin";
    let old = pattern(99, 0, 3000);
    store.put(key, old.clone()).await.expect("put old");
    let old_ref = &old;
    let total = upload_with_midway_check(store, key, move || async move {
        assert_eq!(
            must_get(store, key).await,
            old_ref,
            "old version during upload"
        );
        assert_eq!(store.head(key).await.expect("head").size, 3000);
    })
    .await;
    assert_eq!(store.head(key).await.expect("head").size, total);
}

fn failing_source(chunks: Vec<Bytes>) -> ByteSource<'static> {
    let fail = futures::stream::once(async { Err(io::Error::other("source failed midway")) });
    futures::stream::iter(chunks.into_iter().map(Ok))
        .chain(fail)
        .boxed()
}

#[track_caller]
fn assert_source_error(result: Result<u64, BlobError>, key: &str) {
    match result {
        Err(BlobError::Source { key: k, .. }) => assert_eq!(k, key),
        other => panic!("expected Source error for {key:?}, got {other:?}"),
    }
}

/// A source stream that fails (before or after the first part) leaves no
/// object, and an aborted overwrite leaves the previous version intact.
pub async fn aborted_stream_leaves_nothing(store: &dyn BlobStore) {
    let big = pattern_chunks(5, PART_SIZE + 4 * MIB, MIB);
    let r = store
        .put_stream("abort/big", failing_source(big.clone()))
        .await;
    assert_source_error(r, "abort/big");
    assert_not_found(store.head("abort/big").await, "abort/big");

    let r = store
        .put_stream("abort/small", failing_source(vec![pattern(5, 0, 10)]))
        .await;
    assert_source_error(r, "abort/small");
    assert!(!store.exists("abort/small").await.expect("exists"));

    let old = Bytes::from_static(b"previous complete version");
    store.put("abort/keep", old.clone()).await.expect("put");
    let r = store.put_stream("abort/keep", failing_source(big)).await;
    assert_source_error(r, "abort/keep");
    assert_eq!(must_get(store, "abort/keep").await, old);
    assert_eq!(store.list("abort").await.expect("list"), ["abort/keep"]);
}

/// Dropping a `put_stream` future midway (cancellation) leaves no object.
pub async fn cancelled_stream_leaves_nothing(store: &dyn BlobStore) {
    let chunks = pattern_chunks(6, PART_SIZE + 4 * MIB, MIB);
    let source = futures::stream::iter(chunks.into_iter().map(Ok))
        .chain(futures::stream::pending())
        .boxed();
    let upload = store.put_stream("cancel/obj", source);
    let outcome = tokio::time::timeout(Duration::from_secs(2), upload).await;
    assert!(outcome.is_err(), "upload of a never-ending stream finished");
    // The abort runs in the background; give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_not_found(store.head("cancel/obj").await, "cancel/obj");
    assert!(store.list("").await.expect("list").is_empty());
}

/// Every operation rejects invalid keys with `InvalidKey`, touching nothing.
pub async fn invalid_keys_are_rejected(store: &dyn BlobStore) {
    let bad = [
        "", "/abs", "a/../b", "..", "./a", "a//b", "dir/", "a\\b", "x#1", "nl\n",
    ];
    for key in bad {
        let data = Bytes::from_static(b"x");
        assert_invalid(store.put(key, data).await, key);
        assert_invalid(store.put_stream(key, ok_source(vec![])).await, key);
        assert_invalid(store.get(key).await, key);
        assert_invalid(store.get_stream(key).await.map(|_| ()), key);
        assert_invalid(store.head(key).await, key);
        assert_invalid(store.exists(key).await, key);
        assert_invalid(store.delete(key).await, key);
    }
    assert!(store.list("").await.expect("list").is_empty());
}
