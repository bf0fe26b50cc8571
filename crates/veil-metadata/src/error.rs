//! Errors of the metadata store.

/// What can go wrong talking to the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The requested row does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of row, e.g. `job`, `task` or `user`.
        what: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// A row with this key exists already.
    #[error("{what} {id} already exists")]
    AlreadyExists {
        /// What kind of row, e.g. `user`.
        what: &'static str,
        /// Its key.
        id: String,
    },
    /// The URL names no supported database.
    #[error("unsupported metadata database URL `{0}` (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    /// A stored value could not be read back (e.g. an unknown state name).
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    /// Applying the schema migrations failed.
    #[error("migrating the metadata database: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database reported an error.
    #[error("metadata database: {0}")]
    Database(#[from] sqlx::Error),
}

impl MetadataError {
    /// Whether retrying the same call later may succeed (connection trouble, lock contention).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MetadataError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            )
        )
    }
}
