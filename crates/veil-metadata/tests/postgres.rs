//! The metadata conformance suite against PostgreSQL (`VEIL_TEST_POSTGRES_URL`), a fresh schema per test.

veil_metadata::metadata_store_test_suite!(veil_metadata::testsuite::postgres_store());
veil_metadata::access_store_test_suite!(veil_metadata::testsuite::postgres_database());
