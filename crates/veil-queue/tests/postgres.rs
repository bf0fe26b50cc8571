//! The queue conformance suite against `SqlQueue` on PostgreSQL (`VEIL_TEST_POSTGRES_URL`), a fresh
//! schema per test.

veil_queue::queue_test_suite!(veil_queue::testsuite::postgres_queue);
