//! Conformance suite against an S3-compatible server (e.g. moto, started by
//! `scripts/start-s3-test-server.sh`).
//!
//! Environment:
//! * `VEIL_TEST_S3_ENDPOINT` — e.g. `http://127.0.0.1:9090`; unset or empty
//!   skips these tests (they pass trivially) unless
//!   `VEIL_TEST_REQUIRE_SERVICES=1`, which makes them fail instead;
//! * `VEIL_TEST_S3_BUCKET` (default `veil-test`), created if missing;
//! * `VEIL_TEST_S3_ACCESS_KEY_ID` / `VEIL_TEST_S3_SECRET_ACCESS_KEY`
//!   (default `testing` / `testing`). Region is `us-east-1`, plain HTTP is
//!   allowed.
//!
//! Every test works under its own random prefix in the bucket.

use std::env;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use veil_blob::testsuite::Fixture;
use veil_blob::{open, BlobError, BlobStore, S3Settings, PART_SIZE};

struct S3Env {
    endpoint: String,
    bucket: String,
    settings: S3Settings,
}

fn var_or(name: &str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Reads the test environment, or `None` (after saying so) if the S3 tests
/// are to be skipped. Panics if services are required but not configured.
fn s3_env() -> Option<S3Env> {
    let endpoint = env::var("VEIL_TEST_S3_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty());
    let Some(endpoint) = endpoint else {
        if env::var("VEIL_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("VEIL_TEST_REQUIRE_SERVICES=1 but VEIL_TEST_S3_ENDPOINT is not set");
        }
        eprintln!("skipping: VEIL_TEST_S3_ENDPOINT not set");
        return None;
    };
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let settings = S3Settings {
        endpoint: Some(endpoint.clone()),
        region: "us-east-1".to_owned(),
        access_key_id: Some(var_or("VEIL_TEST_S3_ACCESS_KEY_ID", "testing")),
        secret_access_key: Some(var_or("VEIL_TEST_S3_SECRET_ACCESS_KEY", "testing")),
        allow_http: true,
    };
    Some(S3Env {
        endpoint,
        bucket: var_or("VEIL_TEST_S3_BUCKET", "veil-test"),
        settings,
    })
}

/// Creates the bucket if missing. `object_store` cannot create buckets, so
/// this sends a plain `PUT /{bucket}`; moto accepts it without a signature.
async fn ensure_bucket(env: &S3Env) {
    let url = format!("{}/{}", env.endpoint, env.bucket);
    let response = reqwest::Client::new()
        .put(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot reach S3 test server at {url}: {e}"));
    let status = response.status();
    // 409: BucketAlreadyOwnedByYou / BucketAlreadyExists.
    if !status.is_success() && status != reqwest::StatusCode::CONFLICT {
        let body = response.text().await.unwrap_or_default();
        panic!("creating bucket {url} failed with {status}: {body}");
    }
}

/// A store under a fresh random prefix, plus that prefix.
async fn fresh_store(env: &S3Env) -> (Arc<dyn BlobStore>, String) {
    ensure_bucket(env).await;
    let prefix = format!("veil-blob-test/{}", uuid::Uuid::new_v4());
    let url = format!("s3://{}/{}", env.bucket, prefix);
    let store = open(&url, &env.settings).unwrap_or_else(|e| panic!("open {url}: {e}"));
    (store, prefix)
}

async fn fresh_s3() -> Option<Fixture> {
    let env = s3_env()?;
    let (store, _prefix) = fresh_store(&env).await;
    Some(Fixture::new(store))
}

mod conformance {
    veil_blob::blob_store_test_suite!(super::fresh_s3());
}

/// Keys of multipart uploads still in progress under `prefix`, via the
/// (unsigned, moto-accepted) ListMultipartUploads call.
async fn pending_uploads(env: &S3Env, prefix: &str) -> Vec<String> {
    let url = format!("{}/{}?uploads&prefix={}", env.endpoint, env.bucket, prefix);
    let body = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("list multipart uploads {url}: {e}"));
    let body = body.text().await.expect("list multipart uploads body");
    body.split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split("</Key>").next())
        .filter(|key| key.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// A failed or cancelled streaming upload aborts its S3 multipart upload,
/// so no orphaned parts stay behind (and no object appears).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_uploads_leave_no_pending_multipart_upload() {
    let Some(env) = s3_env() else {
        return;
    };
    let (store, prefix) = fresh_store(&env).await;
    let chunk = Bytes::from(vec![3u8; 1024 * 1024]);
    let n = PART_SIZE / chunk.len() + 3;

    // Control: an unfinished upload is visible as pending.
    let endless = futures::stream::iter(std::iter::repeat_n(chunk.clone(), n).map(Ok))
        .chain(futures::stream::pending())
        .boxed();
    let upload = store.put_stream("m/cancelled", endless);
    let pending_during = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        pending_uploads(&env, &prefix).await
    };
    tokio::select! {
        r = upload => panic!("endless upload finished: {r:?}"),
        during = pending_during => {
            assert_eq!(during, [format!("{prefix}/m/cancelled")]);
        }
    }
    // The upload future is dropped here: its abort runs in the background.

    let failing = futures::stream::iter(std::iter::repeat_n(chunk, n).map(Ok))
        .chain(futures::stream::once(async {
            Err(io::Error::other("boom"))
        }))
        .boxed();
    let err = store
        .put_stream("m/failed", failing)
        .await
        .expect_err("must fail");
    assert!(matches!(err, BlobError::Source { .. }), "{err}");

    let mut left = pending_uploads(&env, &prefix).await;
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = pending_uploads(&env, &prefix).await;
    }
    assert!(left.is_empty(), "multipart uploads left pending: {left:?}");
    assert!(store.list("").await.expect("list").is_empty());
}
