//! The RabbitMQ fixture: a [`RabbitQueue`] under a fresh prefix on the broker at `VEIL_TEST_AMQP_URL`.

use std::sync::Arc;
use std::time::Duration;

use super::QueueFixture;
use crate::{QueueSettings, RabbitQueue, RabbitSettings};

const AMQP_URL_VAR: &str = "VEIL_TEST_AMQP_URL";
const REQUIRE_SERVICES_VAR: &str = "VEIL_TEST_REQUIRE_SERVICES";

fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES_VAR).is_ok_and(|value| value == "1")
}

/// The broker URL tests use, or `None` (skip) when `VEIL_TEST_AMQP_URL` is not set.
///
/// # Panics
/// When it is not set but `VEIL_TEST_REQUIRE_SERVICES=1` requires it.
pub fn amqp_url_from_env() -> Option<String> {
    match std::env::var(AMQP_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !services_required(),
                "{AMQP_URL_VAR} must be set when {REQUIRE_SERVICES_VAR}=1"
            );
            eprintln!("skipping: {AMQP_URL_VAR} not set");
            None
        }
    }
}

/// Settings for a test queue on `url` under a fresh prefix (`veil.test.<uuid>`), with short timeouts.
pub fn rabbit_settings(url: &str, queue: QueueSettings) -> RabbitSettings {
    RabbitSettings {
        prefix: format!("veil.test.{}", uuid::Uuid::new_v4().simple()),
        queue,
        connect_timeout: Duration::from_secs(10),
        reap_interval: Duration::from_millis(100),
        control_retention: Duration::from_secs(3600),
        ..RabbitSettings::new(url)
    }
}

/// A fresh [`RabbitQueue`] under its own prefix, or `None` (skipped) when `VEIL_TEST_AMQP_URL` is not
/// set. Its queues are deleted on teardown.
///
/// # Panics
/// When the broker cannot be reached: always if `VEIL_TEST_REQUIRE_SERVICES=1`, else the test is skipped.
pub async fn rabbit_queue(settings: QueueSettings) -> Option<QueueFixture> {
    let url = amqp_url_from_env()?;
    match RabbitQueue::connect(rabbit_settings(&url, settings)).await {
        Ok(queue) => Some(QueueFixture::rabbit(Arc::new(queue))),
        Err(error) if services_required() => {
            panic!(
                "{REQUIRE_SERVICES_VAR}=1 but the broker at {AMQP_URL_VAR} is unreachable: {error}"
            )
        }
        Err(error) => {
            eprintln!("skipping: the broker at {AMQP_URL_VAR} is unreachable: {error}");
            None
        }
    }
}
