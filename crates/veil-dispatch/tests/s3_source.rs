//! The S3 private source against an S3-compatible server (moto in CI, started by
//! `scripts/start-s3-test-server.sh`): objects uploaded with `object_store` are read back through
//! [`Sources::read_table`], as CSV and as Parquet.
//!
//! Environment, as for veil-blob's S3 tests:
//! * `VEIL_TEST_S3_ENDPOINT`, e.g. `http://127.0.0.1:9090`; unset or empty skips the test (it
//!   passes with a note) unless `VEIL_TEST_REQUIRE_SERVICES=1`, which makes it fail instead;
//! * `VEIL_TEST_S3_BUCKET` (default `veil-test`), created if missing;
//! * `VEIL_TEST_S3_ACCESS_KEY_ID` / `VEIL_TEST_S3_SECRET_ACCESS_KEY` (default `testing`).
//!
//! The test works under its own random prefix and removes its objects.

use std::env;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use veil_dispatch::{S3Settings, Source, Sources};
use veil_synth::{write_parquet, Column, ColumnData, DatetimeFormat, Table};

const REGION: &str = "us-east-1";

struct S3Env {
    endpoint: String,
    bucket: String,
    access_key_id: String,
    secret_access_key: String,
}

fn var_or(name: &str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The server's settings, or `None` (after saying so) when the test is to be skipped.
fn s3_env() -> Option<S3Env> {
    let endpoint = env::var("VEIL_TEST_S3_ENDPOINT")
        .ok()
        .filter(|value| !value.is_empty());
    let Some(endpoint) = endpoint else {
        if env::var("VEIL_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("VEIL_TEST_REQUIRE_SERVICES=1 but VEIL_TEST_S3_ENDPOINT is not set");
        }
        eprintln!("skipping the S3 source test: VEIL_TEST_S3_ENDPOINT is not set");
        return None;
    };
    Some(S3Env {
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        bucket: var_or("VEIL_TEST_S3_BUCKET", "veil-test"),
        access_key_id: var_or("VEIL_TEST_S3_ACCESS_KEY_ID", "testing"),
        secret_access_key: var_or("VEIL_TEST_S3_SECRET_ACCESS_KEY", "testing"),
    })
}

/// Creates the bucket if missing: `object_store` cannot, so this is a plain `PUT /{bucket}`,
/// which moto accepts unsigned.
async fn ensure_bucket(env: &S3Env) {
    let url = format!("{}/{}", env.endpoint, env.bucket);
    let response = reqwest::Client::new()
        .put(&url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("cannot reach the S3 test server at {url}: {err}"));
    let status = response.status();
    // 409: the bucket exists already.
    assert!(
        status.is_success() || status == reqwest::StatusCode::CONFLICT,
        "creating bucket {url} failed with {status}"
    );
}

/// A small table of every kind with missing values, as Parquet.
fn parquet_bytes() -> Vec<u8> {
    let table = Table::new(vec![
        Column {
            name: "age".into(),
            data: ColumnData::Integer(vec![Some(34), None, Some(71)]),
        },
        Column {
            name: "score".into(),
            data: ColumnData::Float {
                values: vec![Some(1.5), Some(-0.25), None],
                decimals: 2,
            },
        },
        Column {
            name: "ward".into(),
            data: ColumnData::Categorical(vec![Some("W1".into()), None, Some("W2".into())]),
        },
        Column {
            name: "admitted".into(),
            data: ColumnData::Datetime {
                seconds: vec![Some(1_709_251_200), Some(0), None],
                format: DatetimeFormat::Date,
            },
        },
    ])
    .unwrap();
    write_parquet(&table, Vec::new()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_source_reads_csv_and_parquet_objects_from_a_real_server() {
    let Some(env) = s3_env() else {
        return;
    };
    ensure_bucket(&env).await;
    let prefix = format!("veil-dispatch-test/{}", uuid::Uuid::new_v4());
    let store = AmazonS3Builder::new()
        .with_bucket_name(&env.bucket)
        .with_region(REGION)
        .with_endpoint(&env.endpoint)
        .with_allow_http(true)
        .with_access_key_id(&env.access_key_id)
        .with_secret_access_key(&env.secret_access_key)
        .build()
        .unwrap();
    let objects = [
        ("people.csv", b"age,ward\n34,W1\n,W2\n71,\n".to_vec()),
        ("nested/people.PARQUET", parquet_bytes()),
    ];
    for (key, bytes) in &objects {
        let location = ObjectPath::from(format!("{prefix}/{key}"));
        store
            .put(&location, PutPayload::from(bytes.clone()))
            .await
            .unwrap_or_else(|err| panic!("upload {location}: {err}"));
    }

    let source = Source::s3(S3Settings {
        bucket: env.bucket.clone(),
        prefix: format!("/{prefix}/"),
        endpoint: Some(env.endpoint.clone()),
        region: REGION.into(),
        access_key_id: Some(env.access_key_id.clone().into()),
        secret_access_key: Some(env.secret_access_key.clone().into()),
        allow_http: true,
    })
    .unwrap();
    let mut sources = Sources::new();
    sources.insert("lake", source);
    let csv = sources.read_table("lake", "people.csv").await;
    let parquet = sources.read_table("lake", "nested/people.PARQUET").await;
    let missing = sources.read_table("lake", "absent.csv").await;

    // Clean up before asserting, so that a failure leaves nothing behind either.
    for (key, _) in &objects {
        let location = ObjectPath::from(format!("{prefix}/{key}"));
        store
            .delete(&location)
            .await
            .unwrap_or_else(|err| panic!("delete {location}: {err}"));
    }

    let csv = csv.unwrap();
    assert_eq!(csv.names, ["age", "ward"]);
    assert_eq!(csv.columns, [["34", "", "71"], ["W1", "W2", ""]]);
    let parquet = parquet.unwrap();
    assert_eq!(parquet.names, ["age", "score", "ward", "admitted"]);
    assert_eq!(
        parquet.columns,
        [
            ["34", "", "71"],
            ["1.5", "-0.25", ""],
            ["W1", "", "W2"],
            ["2024-03-01", "1970-01-01", ""],
        ]
    );
    let err = missing.unwrap_err().to_string();
    assert!(err.contains("absent.csv") && err.contains("lake"), "{err}");
}
