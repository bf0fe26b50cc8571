//! The conformance suite every [`TaskQueue`] must pass.
//!
//! Run it against a backend with [`queue_test_suite!`](crate::queue_test_suite), giving it a function
//! that opens a fresh, empty queue with the given settings:
//!
//! ```text
//! veil_queue::queue_test_suite!(veil_queue::testsuite::sqlite_queue);
//! veil_queue::queue_test_suite!(veil_queue::testsuite::postgres_queue);
//! veil_queue::queue_test_suite!(veil_queue::testsuite::rabbit_queue); // feature `rabbitmq`
//! ```
//!
//! The cases use short leases and real sleeps; PostgreSQL runs only when `VEIL_TEST_POSTGRES_URL` is set
//! (see `veil_metadata::testsuite`), RabbitMQ only when `VEIL_TEST_AMQP_URL` is set.

mod cases;
#[cfg(feature = "rabbitmq")]
mod rabbit;

use std::sync::Arc;
use std::time::Duration;

pub use cases::*;
#[cfg(feature = "rabbitmq")]
pub use rabbit::{amqp_url_from_env, rabbit_queue, rabbit_settings};
use veil_metadata::testsuite::{fresh_postgres, fresh_sqlite, postgres_url_from_env, TestDatabase};

use crate::{QueueSettings, SqlQueue, TaskQueue};

/// The settings the suite opens queues with: retry delays short enough to wait out in a test, and
/// long enough that a loaded machine finishes a `fail` well inside the first one.
pub fn suite_settings() -> QueueSettings {
    QueueSettings {
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_millis(1600),
    }
}

/// A queue under test and whatever keeps its storage alive.
pub struct QueueFixture {
    /// The queue under test.
    pub queue: Arc<dyn TaskQueue>,
    database: Option<TestDatabase>,
    #[cfg(feature = "rabbitmq")]
    rabbit: Option<Arc<crate::RabbitQueue>>,
}

impl QueueFixture {
    /// A fixture for a queue that needs no cleanup.
    pub fn new(queue: Arc<dyn TaskQueue>) -> Self {
        Self {
            queue,
            database: None,
            #[cfg(feature = "rabbitmq")]
            rabbit: None,
        }
    }

    /// A [`SqlQueue`] in a fresh test database, which is removed on [`QueueFixture::teardown`].
    pub fn sql(database: TestDatabase, settings: QueueSettings) -> Self {
        let queue = Arc::new(SqlQueue::new(&database.database, settings));
        Self {
            queue,
            database: Some(database),
            #[cfg(feature = "rabbitmq")]
            rabbit: None,
        }
    }

    /// A [`RabbitQueue`](crate::RabbitQueue) whose queues are deleted on [`QueueFixture::teardown`].
    #[cfg(feature = "rabbitmq")]
    pub fn rabbit(queue: Arc<crate::RabbitQueue>) -> Self {
        Self {
            queue: queue.clone(),
            database: None,
            rabbit: Some(queue),
        }
    }

    /// Releases the queue's storage.
    pub async fn teardown(self) {
        drop(self.queue);
        if let Some(database) = self.database {
            database.teardown().await;
        }
        #[cfg(feature = "rabbitmq")]
        if let Some(rabbit) = self.rabbit {
            rabbit.delete_topology().await.expect("delete test queues");
            rabbit.close().await;
        }
    }
}

/// A fresh [`SqlQueue`] on SQLite.
pub async fn sqlite_queue(settings: QueueSettings) -> Option<QueueFixture> {
    Some(QueueFixture::sql(fresh_sqlite().await, settings))
}

/// A fresh [`SqlQueue`] on PostgreSQL, or `None` (skipped) when `VEIL_TEST_POSTGRES_URL` is not set.
pub async fn postgres_queue(settings: QueueSettings) -> Option<QueueFixture> {
    let url = postgres_url_from_env()?;
    Some(QueueFixture::sql(fresh_postgres(&url).await, settings))
}

/// Expands to one `#[tokio::test]` per contract case. `$open` is a function (or closure) taking
/// [`QueueSettings`] and returning a future of `Option<QueueFixture>` holding a fresh, empty queue
/// (`None` skips the test). The calling crate needs `tokio` as a (dev-)dependency.
#[macro_export]
macro_rules! queue_test_suite {
    ($open:expr) => {
        $crate::queue_test_suite!(@cases $open;
            enqueue_is_idempotent,
            claims_oldest_first,
            concurrent_claimers_never_share_an_item,
            heartbeat_extends_the_lease,
            expired_lease_is_redelivered,
            stale_lease_token_is_refused,
            failed_item_is_retried_after_backoff,
            item_is_dead_lettered_after_max_attempts,
            expiry_on_last_attempt_dead_letters,
            release_keeps_the_attempt_count,
            cancel_job_removes_unfinished_items,
            stats_count_each_condition,
        );
    };
    (@cases $open:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(fixture) = ($open)($crate::testsuite::suite_settings()).await else {
                    return;
                };
                $crate::testsuite::$case(fixture.queue.clone()).await;
                fixture.teardown().await;
            }
        )+
    };
}
