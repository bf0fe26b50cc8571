//! [`Sources::read_table`] over files, an in-memory object store behind the S3 code path, and a
//! real PostgreSQL when `VEIL_TEST_POSTGRES_URL` is set.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use object_store::memory::InMemory;
use object_store::{ObjectStore, PutPayload};
use parquet::arrow::ArrowWriter;
use secrecy::SecretString;

use super::*;
use crate::S3Settings;

/// A small Parquet file: ints, floats, strings, booleans, a date and a timestamp, with nulls.
fn parquet_bytes() -> Vec<u8> {
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![Some(1), Some(-2), None])),
        ),
        (
            "score",
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(2.0)])),
        ),
        (
            "city",
            Arc::new(StringArray::from(vec![Some("Oslo"), Some(""), None])),
        ),
        (
            "smoker",
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
        ),
        (
            "born",
            // 2000-01-01 is day 10957 of the Unix epoch.
            Arc::new(Date32Array::from(vec![Some(10957), None, Some(0)])),
        ),
        (
            "seen",
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(86_400_000 + 3_600_000), None, Some(1)])
                    .with_timezone("+02:00"),
            ),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn expected_parquet_table() -> RawTable {
    let text = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    RawTable {
        names: text(&["id", "score", "city", "smoker", "born", "seen"]),
        columns: vec![
            text(&["1", "-2", ""]),
            text(&["1.5", "", "2"]),
            text(&["Oslo", "", ""]),
            text(&["true", "", "false"]),
            text(&["2000-01-01", "", "1970-01-01"]),
            text(&["1970-01-02T01:00:00", "", "1970-01-01T00:00:00.001"]),
        ],
    }
}

fn file_sources() -> (tempfile::TempDir, Sources) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("clinic");
    std::fs::create_dir_all(root.join("2026")).unwrap();
    std::fs::write(root.join("2026/people.csv"), "age, city\n41,Oslo\n,?\n").unwrap();
    std::fs::write(root.join("2026/people.parquet"), parquet_bytes()).unwrap();
    std::fs::write(root.join("notes.txt"), "hello").unwrap();
    std::fs::write(root.join("broken.parquet"), "not parquet").unwrap();
    std::fs::write(dir.path().join("secret.csv"), "x\n1\n").unwrap();
    let mut sources = Sources::new();
    sources.insert("clinic", Source::Files { root });
    (dir, sources)
}

#[tokio::test]
async fn parquet_files_read_as_text_columns() {
    let (_dir, sources) = file_sources();
    let table = sources
        .read_table("clinic", "2026/people.parquet")
        .await
        .unwrap();
    assert_eq!(table, expected_parquet_table());
    // The kernel types what the reader produced.
    let (typed, _) = veil_synth::type_raw_table(table, &Default::default()).unwrap();
    assert_eq!(typed.row_count(), 3);
}

#[tokio::test]
async fn csv_files_read_as_before() {
    let (_dir, sources) = file_sources();
    let table = sources
        .read_table("clinic", "2026/people.csv")
        .await
        .unwrap();
    assert_eq!(table.names, vec!["age", "city"]);
    assert_eq!(table.columns, vec![vec!["41", ""], vec!["Oslo", "?"]]);
}

#[tokio::test]
async fn unreadable_files_and_escapes_are_refused_by_name() {
    let (dir, sources) = file_sources();
    let root = dir.path().to_string_lossy().to_string();
    for (path, expected) in [
        ("notes.txt", ".csv or .parquet"),
        ("broken.parquet", "not a readable Parquet file"),
        ("../secret.csv", "`..`"),
        ("/etc/passwd.csv", "relative"),
        ("missing.csv", "no file"),
    ] {
        let error = sources.read_table("clinic", path).await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"clinic\""), "{path}: {text}");
        assert!(text.contains(expected), "{path}: {text}");
        assert!(!text.contains(&root), "root leaked: {text}");
    }
    let error = sources.read_table("bank", "x.csv").await.unwrap_err();
    assert!(matches!(error, DispatchError::UnknownSource(_)));
}

#[tokio::test]
async fn s3_objects_read_through_the_object_store() {
    let store = Arc::new(InMemory::new());
    let put = |key: &str, bytes: Vec<u8>| {
        let store = store.clone();
        let key = object_store::path::Path::from(key);
        async move { store.put(&key, PutPayload::from(bytes)).await.unwrap() }
    };
    put("exports/2026/people.parquet", parquet_bytes()).await;
    put("exports/people.csv", b"a,b\n1,\n".to_vec()).await;
    put("outside.csv", b"a\n1\n".to_vec()).await;
    let mut sources = Sources::new();
    sources.insert(
        "lake",
        Source::S3 {
            store,
            prefix: "exports".into(),
        },
    );

    let table = sources
        .read_table("lake", "2026/people.parquet")
        .await
        .unwrap();
    assert_eq!(table, expected_parquet_table());
    let table = sources.read_table("lake", "people.csv").await.unwrap();
    assert_eq!(table.columns, vec![vec!["1"], vec![""]]);

    for (key, expected) in [
        ("../outside.csv", "without `..`"),
        ("/outside.csv", "relative"),
        ("a//b.csv", "empty parts"),
        ("people.json", ".csv or .parquet"),
        ("nope.csv", "no object \"nope.csv\""),
    ] {
        let text = sources
            .read_table("lake", key)
            .await
            .unwrap_err()
            .to_string();
        assert!(text.contains("\"lake\""), "{key}: {text}");
        assert!(text.contains(expected), "{key}: {text}");
        assert!(!text.contains("exports"), "prefix leaked: {text}");
    }
    let error = sources.file("lake", "people.csv").unwrap_err();
    assert!(error.to_string().contains("not a file source"), "{error}");
}

#[test]
fn s3_sources_build_from_settings_and_hide_them() {
    let settings = S3Settings {
        bucket: "private-bucket".into(),
        prefix: "/exports/".into(),
        endpoint: Some("http://127.0.0.1:1".into()),
        region: "eu-north-1".into(),
        access_key_id: Some(SecretString::from("AKIDEXAMPLE")),
        secret_access_key: Some(SecretString::from("very-secret-key")),
        allow_http: true,
    };
    let source = Source::s3(settings.clone()).unwrap();
    assert!(matches!(&source, Source::S3 { prefix, .. } if prefix == "exports"));
    for shown in [format!("{source:?}"), format!("{settings:?}")] {
        for hidden in [
            "private-bucket",
            "exports",
            "AKIDEXAMPLE",
            "very-secret-key",
            "127.0.0.1",
        ] {
            assert!(!shown.contains(hidden), "{shown}");
        }
    }
    let bad = S3Settings {
        prefix: "a/../b".into(),
        ..settings
    };
    assert!(matches!(
        Source::s3(bad),
        Err(DispatchError::SourceSettings(_))
    ));
}

#[tokio::test]
async fn postgres_errors_never_show_the_connection_string() {
    let mut sources = Sources::new();
    let url = "postgres://reader:hunter2secret@127.0.0.1:1/warehouse";
    sources.insert(
        "crm",
        Source::Postgres {
            url: SecretString::from(url),
            max_rows: None,
        },
    );
    assert!(!format!("{sources:?}").contains("hunter2secret"));
    let text = sources
        .read_table("crm", "people")
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("cannot connect"), "{text}");
    for hidden in ["hunter2secret", "reader", "127.0.0.1", "warehouse"] {
        assert!(!text.contains(hidden), "{text}");
    }
    let text = sources
        .read_table("crm", "people; DROP TABLE x")
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("not a table name"), "{text}");
}

/// `VEIL_TEST_POSTGRES_URL`, or `None` (the test is skipped with a note) unless
/// `VEIL_TEST_REQUIRE_SERVICES=1` demands it.
fn postgres_url() -> Option<String> {
    match std::env::var("VEIL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("VEIL_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("VEIL_TEST_REQUIRE_SERVICES=1 but VEIL_TEST_POSTGRES_URL is not set")
        }
        _ => {
            eprintln!("skipped: set VEIL_TEST_POSTGRES_URL to test PostgreSQL sources");
            None
        }
    }
}

/// The URL with a password added (trust authentication ignores it), to check it never leaks.
fn with_password(url: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    if parsed.username().is_empty() {
        parsed.set_username("postgres").unwrap();
    }
    parsed.set_password(Some("hunter2secret")).unwrap();
    parsed.to_string()
}

#[tokio::test]
async fn postgres_tables_read_as_text_columns() {
    use sqlx::Connection;
    let Some(url) = postgres_url() else { return };
    let table = format!("veil_source_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!(
        "CREATE TABLE {table} (id bigint, score double precision, city text, smoker boolean, \
         born date, seen timestamp, \"Mixed Case\" numeric)"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO {table} VALUES (1, 1.5, 'Oslo', true, '2000-01-01', '2026-03-04 05:06:07', \
         2.50), (2, NULL, NULL, NULL, NULL, NULL, NULL)"
    ))
    .execute(&mut admin)
    .await
    .unwrap();

    let mut sources = Sources::new();
    let secret_url = with_password(&url);
    sources.insert(
        "crm",
        Source::Postgres {
            url: SecretString::from(secret_url.as_str()),
            max_rows: None,
        },
    );
    sources.insert(
        "capped",
        Source::Postgres {
            url: SecretString::from(secret_url.as_str()),
            max_rows: Some(1),
        },
    );
    let read = sources.read_table("crm", &format!("public.{table}")).await;
    let capped = sources.read_table("capped", &table).await;
    let missing = sources.read_table("crm", "public.no_such_table_here").await;
    let upper = sources.read_table("crm", &table.to_uppercase()).await;
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&mut admin)
        .await
        .unwrap();

    let read = read.unwrap();
    assert_eq!(
        read.names,
        vec![
            "id",
            "score",
            "city",
            "smoker",
            "born",
            "seen",
            "Mixed Case"
        ]
    );
    let text = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    assert_eq!(
        read.columns,
        vec![
            text(&["1", "2"]),
            text(&["1.5", ""]),
            text(&["Oslo", ""]),
            text(&["true", ""]),
            text(&["2000-01-01", ""]),
            text(&["2026-03-04 05:06:07", ""]),
            text(&["2.50", ""]),
        ]
    );
    for (result, expected) in [
        (capped, "more than 1 rows"),
        (missing, "no table"),
        (upper, "no table"),
    ] {
        let text = result.unwrap_err().to_string();
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("hunter2secret"), "{text}");
        assert!(!text.contains(&url), "{text}");
    }
}
