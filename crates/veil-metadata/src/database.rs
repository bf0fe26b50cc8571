//! [`Database`]: an open metadata database of either dialect, and its migrations.

use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, SqlitePool};

use crate::access::SqlAccessStore;
use crate::store::SqlMetadataStore;
use crate::{postgres, sqlite, AccessStore, MetadataError, MetadataStore, Result};

/// An open metadata database: the embedded SQLite file or a PostgreSQL server.
///
/// Cloning is cheap and shares the connection pool. The same database holds the task queue of the
/// `veil-queue` crate, which reaches the pool through [`Database::sqlite_pool`] / [`Database::postgres_pool`]
/// or the [`with_pool!`](crate::with_pool) macro.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite database (WAL mode).
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

impl Database {
    /// Opens the database named by `url`: `sqlite://PATH` (the file is created when missing),
    /// `sqlite::memory:` (one connection, for tests) or `postgres://…` / `postgresql://…`.
    /// The schema is not touched; call [`Database::migrate`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Database> {
        if url.starts_with("sqlite:") {
            let options = sqlite::connect_options(url)?;
            // An in-memory database lives and dies with its connection, so the pool must keep exactly one.
            let max_connections = if sqlite::is_in_memory(url) {
                1
            } else {
                max_connections
            };
            Database::connect_sqlite(options, max_connections).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Database::connect_postgres(postgres::connect_options(url)?, max_connections).await
        } else {
            Err(MetadataError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Opens a SQLite database with explicit connection options.
    pub async fn connect_sqlite(
        options: SqliteConnectOptions,
        max_connections: u32,
    ) -> Result<Database> {
        Ok(Database::Sqlite(
            sqlite::connect(options, max_connections).await?,
        ))
    }

    /// Opens a PostgreSQL database with explicit connection options (e.g. a `search_path`).
    pub async fn connect_postgres(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<Database> {
        Ok(Database::Postgres(
            postgres::connect(options, max_connections).await?,
        ))
    }

    /// Applies this dialect's pending migrations (jobs, tasks, event logs and the task queue table).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Database::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Database::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The metadata store backed by this database.
    pub fn metadata_store(&self) -> Arc<dyn MetadataStore> {
        Arc::new(SqlMetadataStore::new(self.clone()))
    }

    /// The users, revoked tokens and audit log kept in this database.
    pub fn access_store(&self) -> Arc<dyn AccessStore> {
        Arc::new(SqlAccessStore::new(self.clone()))
    }

    /// The dialect's name: `sqlite` or `postgres`.
    pub fn dialect(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// The SQLite pool, when this is a SQLite database.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match self {
            Database::Sqlite(pool) => Some(pool),
            Database::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, when this is a PostgreSQL database.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match self {
            Database::Postgres(pool) => Some(pool),
            Database::Sqlite(_) => None,
        }
    }

    /// Closes every connection of the pool, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs `$body` with `$pool` bound to the database's pool, whichever its dialect: the body is compiled
/// once per dialect, so one piece of SQL (with `$1`-style parameters, which SQLite accepts too) serves both.
///
/// ```text
/// let count: i64 = with_pool!(&database, pool => sqlx::query_scalar("SELECT 1").fetch_one(pool).await?);
/// ```
#[macro_export]
macro_rules! with_pool {
    ($database:expr, $pool:ident => $body:expr) => {
        match $database {
            $crate::Database::Sqlite($pool) => $body,
            $crate::Database::Postgres($pool) => $body,
        }
    };
}
