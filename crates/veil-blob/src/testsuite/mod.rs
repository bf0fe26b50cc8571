//! Conformance suite for [`BlobStore`] implementations (feature `testsuite`).
//!
//! [`blob_store_test_suite!`](crate::blob_store_test_suite) expands to one
//! `#[tokio::test]` per contract case. Its argument is an expression that is
//! evaluated afresh in every test and must be a future resolving to a fresh,
//! empty store, as anything implementing [`IntoFixture`]:
//!
//! * `Arc<dyn BlobStore>`;
//! * [`Fixture`], which can also keep a guard (e.g. a `TempDir`) alive for
//!   the duration of the test;
//! * `Option<Fixture>`, where `None` skips the test (it passes trivially);
//!   the factory should print why.
//!
//! ```ignore
//! async fn fresh_local() -> veil_blob::testsuite::Fixture {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = veil_blob::open(dir.path().to_str().unwrap(), &Default::default()).unwrap();
//!     veil_blob::testsuite::Fixture::with_guard(store, dir)
//! }
//!
//! mod local {
//!     veil_blob::blob_store_test_suite!(super::fresh_local());
//! }
//! ```
//!
//! The invoking crate needs `tokio` with the `macros` and `rt-multi-thread`
//! features. Invoke the macro once per module (the test names are fixed).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::BlobStore;

pub mod cases;

/// Upper bound on the duration of a single case; a hung backend fails the
/// test instead of blocking CI.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(300);

/// A store under test plus anything that must live as long as the test.
pub struct Fixture {
    store: Arc<dyn BlobStore>,
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Fixture {
    /// A fixture that needs nothing kept alive besides the store.
    pub fn new(store: Arc<dyn BlobStore>) -> Self {
        Self {
            store,
            _guard: None,
        }
    }

    /// A fixture that keeps `guard` (e.g. a temporary directory) alive until
    /// the test ends.
    pub fn with_guard(store: Arc<dyn BlobStore>, guard: impl Any + Send + Sync) -> Self {
        Self {
            store,
            _guard: Some(Box::new(guard)),
        }
    }

    /// The store under test.
    pub fn store(&self) -> &dyn BlobStore {
        self.store.as_ref()
    }
}

/// What a suite factory may resolve to; `None` means "skip this test".
pub trait IntoFixture {
    /// Converts into a fixture, or `None` to skip.
    fn into_fixture(self) -> Option<Fixture>;
}

impl IntoFixture for Fixture {
    fn into_fixture(self) -> Option<Fixture> {
        Some(self)
    }
}

impl IntoFixture for Option<Fixture> {
    fn into_fixture(self) -> Option<Fixture> {
        self
    }
}

impl IntoFixture for Arc<dyn BlobStore> {
    fn into_fixture(self) -> Option<Fixture> {
        Some(Fixture::new(self))
    }
}

/// Runs one case with [`CASE_TIMEOUT`], panicking (failing the test) if it
/// does not finish in time. Used by the macro.
pub async fn run_case(name: &str, case: impl Future<Output = ()>) {
    if tokio::time::timeout(CASE_TIMEOUT, case).await.is_err() {
        panic!("blob store conformance case {name} timed out after {CASE_TIMEOUT:?}");
    }
}

/// Expands to one `#[tokio::test]` per [`BlobStore`] contract case.
///
/// `$factory` is an expression evaluated in each test that yields a future
/// resolving to an [`IntoFixture`] value: a fresh, empty store. See the
/// [module docs](crate::testsuite) for an example.
#[macro_export]
macro_rules! blob_store_test_suite {
    ($factory:expr) => {
        $crate::blob_store_test_suite!(@cases $factory;
            put_get_round_trip,
            overwrite_replaces_object,
            missing_key_is_not_found,
            delete_missing_is_ok,
            list_filters_by_prefix_and_sorts,
            head_reports_size,
            stream_round_trip_20_mib,
            streaming_upload_is_invisible_until_complete,
            streaming_overwrite_keeps_previous_version_visible,
            aborted_stream_leaves_nothing,
            cancelled_stream_leaves_nothing,
            invalid_keys_are_rejected,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $crate::testsuite::IntoFixture::into_fixture($factory.await);
                let Some(fixture) = fixture else {
                    return;
                };
                $crate::testsuite::run_case(
                    stringify!($case),
                    $crate::testsuite::cases::$case(fixture.store()),
                )
                .await;
            }
        )*
    };
}
