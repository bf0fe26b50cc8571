//! The metadata conformance suite against SQLite, a fresh file per test.

veil_metadata::metadata_store_test_suite!(veil_metadata::testsuite::sqlite_store());

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let result = veil_metadata::Database::connect("mysql://localhost/veil", 1).await;
    assert!(matches!(
        result,
        Err(veil_metadata::MetadataError::UnsupportedUrl(_))
    ));
}

#[tokio::test]
async fn in_memory_database_works() {
    let database = veil_metadata::Database::connect("sqlite::memory:", 4)
        .await
        .expect("connect");
    database.migrate().await.expect("migrate");
    veil_metadata::testsuite::created_job_round_trips_exactly(database.metadata_store()).await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let database = veil_metadata::testsuite::fresh_sqlite().await;
    database.database.migrate().await.expect("migrate twice");
    database.teardown().await;
}
veil_metadata::access_store_test_suite!(veil_metadata::testsuite::sqlite_database());
