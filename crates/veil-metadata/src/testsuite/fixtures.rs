//! Fresh, migrated test databases: a SQLite file in a temporary directory, or a PostgreSQL schema of
//! its own (so tests run in parallel against one server without seeing each other).

use sqlx::postgres::PgConnectOptions;
use tempfile::TempDir;

use crate::Database;

/// The variable naming the PostgreSQL server for tests.
const POSTGRES_URL_VAR: &str = "VEIL_TEST_POSTGRES_URL";
/// When `1`, tests of services that are not configured fail instead of being skipped.
const REQUIRE_SERVICES_VAR: &str = "VEIL_TEST_REQUIRE_SERVICES";

/// A migrated database for one test, removed by [`TestDatabase::teardown`].
pub struct TestDatabase {
    /// The open, migrated database.
    pub database: Database,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The SQLite file's directory, deleted when dropped.
    Directory(TempDir),
    /// A PostgreSQL schema to drop, and how to reach the server.
    Schema { url: String, schema: String },
}

impl TestDatabase {
    /// Closes the pool and removes the database (the directory or the schema).
    pub async fn teardown(self) {
        self.database.close().await;
        match self.cleanup {
            Cleanup::Directory(directory) => drop(directory),
            Cleanup::Schema { url, schema } => {
                let admin = Database::connect(&url, 1)
                    .await
                    .expect("connect to drop test schema");
                if let Some(pool) = admin.postgres_pool() {
                    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(pool)
                        .await
                        .expect("drop test schema");
                }
                admin.close().await;
            }
        }
    }
}

/// The PostgreSQL URL for tests, or `None` after printing a note when it is not set.
///
/// # Panics
/// When it is not set but `VEIL_TEST_REQUIRE_SERVICES=1` requires it.
pub fn postgres_url_from_env() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var(REQUIRE_SERVICES_VAR).is_ok_and(|value| value == "1");
            assert!(
                !required,
                "{POSTGRES_URL_VAR} must be set when {REQUIRE_SERVICES_VAR}=1"
            );
            eprintln!("skipping: {POSTGRES_URL_VAR} not set");
            None
        }
    }
}

/// A fresh, migrated SQLite database in a new temporary directory.
pub async fn fresh_sqlite() -> TestDatabase {
    let directory = tempfile::tempdir().expect("create temporary directory");
    let url = format!("sqlite://{}", directory.path().join("veil.db").display());
    let database = Database::connect(&url, 8)
        .await
        .expect("open test SQLite database");
    database
        .migrate()
        .await
        .expect("migrate test SQLite database");
    TestDatabase {
        database,
        cleanup: Cleanup::Directory(directory),
    }
}

/// A fresh, migrated PostgreSQL database: a new schema `veil_test_<random>` on the server at `url`,
/// with every connection's `search_path` set to it.
pub async fn fresh_postgres(url: &str) -> TestDatabase {
    let schema = format!("veil_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(url, 1)
        .await
        .expect("connect to test PostgreSQL server");
    let admin_pool = admin
        .postgres_pool()
        .expect("VEIL_TEST_POSTGRES_URL must be a postgres:// URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(admin_pool)
        .await
        .expect("create test schema");
    admin.close().await;

    let options: PgConnectOptions = url.parse().expect("parse VEIL_TEST_POSTGRES_URL");
    let options = options.options([("search_path", schema.as_str())]);
    let database = Database::connect_postgres(options, 8)
        .await
        .expect("open test schema");
    database.migrate().await.expect("migrate test schema");
    TestDatabase {
        database,
        cleanup: Cleanup::Schema {
            url: url.to_string(),
            schema,
        },
    }
}
