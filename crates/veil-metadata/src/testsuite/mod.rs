//! The conformance suite every [`MetadataStore`] must pass, and fresh test databases of both dialects.
//!
//! Run the suite against a backend with [`metadata_store_test_suite!`](crate::metadata_store_test_suite),
//! giving it an expression that opens a fresh, empty, migrated store:
//!
//! ```text
//! veil_metadata::metadata_store_test_suite!(veil_metadata::testsuite::sqlite_store());
//! veil_metadata::metadata_store_test_suite!(veil_metadata::testsuite::postgres_store());
//! ```
//!
//! PostgreSQL tests run when `VEIL_TEST_POSTGRES_URL` is set; otherwise they pass with a note, unless
//! `VEIL_TEST_REQUIRE_SERVICES=1` demands the service, in which case they fail.

mod access_cases;
mod cases;
mod fixtures;

use std::sync::Arc;

pub use access_cases::*;
pub use cases::*;
pub use fixtures::{fresh_postgres, fresh_sqlite, postgres_url_from_env, TestDatabase};

use crate::MetadataStore;

/// A store under test and whatever keeps its database alive.
pub struct StoreFixture {
    /// The store under test.
    pub store: Arc<dyn MetadataStore>,
    database: Option<TestDatabase>,
}

impl StoreFixture {
    /// A fixture for a store that needs no cleanup.
    pub fn new(store: Arc<dyn MetadataStore>) -> Self {
        Self {
            store,
            database: None,
        }
    }

    /// The SQL store of a fresh test database, which is removed on [`StoreFixture::teardown`].
    pub fn from_database(database: TestDatabase) -> Self {
        Self {
            store: database.database.metadata_store(),
            database: Some(database),
        }
    }

    /// Releases the test database (drops a PostgreSQL test schema, deletes a SQLite file).
    pub async fn teardown(self) {
        drop(self.store);
        if let Some(database) = self.database {
            database.teardown().await;
        }
    }
}

/// A fresh SQLite-backed store in a temporary directory.
pub async fn sqlite_store() -> Option<StoreFixture> {
    Some(StoreFixture::from_database(fresh_sqlite().await))
}

/// A fresh PostgreSQL-backed store in its own schema, or `None` (test skipped) when
/// `VEIL_TEST_POSTGRES_URL` is not set.
pub async fn postgres_store() -> Option<StoreFixture> {
    let url = postgres_url_from_env()?;
    Some(StoreFixture::from_database(fresh_postgres(&url).await))
}

/// Expands to one `#[tokio::test]` per contract case. `$open` is an expression whose value, awaited,
/// is an `Option<StoreFixture>` holding a fresh, empty store (`None` skips the test). The calling crate
/// needs `tokio` as a (dev-)dependency.
#[macro_export]
macro_rules! metadata_store_test_suite {
    ($open:expr) => {
        $crate::metadata_store_test_suite!(@cases $open;
            missing_rows_are_not_found,
            created_job_round_trips_exactly,
            create_job_is_atomic,
            list_jobs_is_newest_first_and_filtered,
            list_jobs_applies_default_limit,
            transition_job_is_compare_and_set,
            transition_to_terminal_state_records_finish_and_error,
            update_task_is_compare_and_set,
            task_progress_round_trips,
            count_tasks_counts_each_state,
            cancel_tasks_cancels_only_unfinished_tasks,
            event_log_is_append_only_and_ordered,
            ping_answers,
        );
    };
    (@cases $open:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let Some(fixture) = $open.await else { return };
                $crate::testsuite::$case(fixture.store.clone()).await;
                fixture.teardown().await;
            }
        )+
    };
}

/// A fresh SQLite database (for the [`access_store_test_suite!`](crate::access_store_test_suite)).
pub async fn sqlite_database() -> Option<TestDatabase> {
    Some(fresh_sqlite().await)
}

/// A fresh PostgreSQL schema, or `None` (test skipped) when `VEIL_TEST_POSTGRES_URL` is not set.
pub async fn postgres_database() -> Option<TestDatabase> {
    let url = postgres_url_from_env()?;
    Some(fresh_postgres(&url).await)
}

/// Expands to one `#[tokio::test]` per [`AccessStore`](crate::AccessStore) contract case. `$open` is
/// an expression whose value, awaited, is an `Option<TestDatabase>` (`None` skips the test).
#[macro_export]
macro_rules! access_store_test_suite {
    ($open:expr) => {
        $crate::access_store_test_suite!(@cases $open;
            users_round_trip_and_names_are_unique,
            missing_users_are_not_found,
            roles_change_and_users_delete,
            revoked_tokens_stay_revoked,
            audit_log_is_ordered_and_filtered,
        );
    };
    (@cases $open:expr; $($case:ident),+ $(,)?) => {
        mod access_store {
            $(
                #[::tokio::test]
                async fn $case() {
                    let Some(database) = $open.await else { return };
                    $crate::testsuite::$case(database.database.access_store()).await;
                    database.teardown().await;
                }
            )+
        }
    };
}
