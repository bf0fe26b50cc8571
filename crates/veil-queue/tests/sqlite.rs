//! The queue conformance suite against `SqlQueue` on SQLite, a fresh file per test.

veil_queue::queue_test_suite!(veil_queue::testsuite::sqlite_queue);
