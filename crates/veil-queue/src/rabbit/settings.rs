//! Tunables of a [`RabbitQueue`](super::RabbitQueue).

use std::fmt;
use std::time::Duration;

use crate::QueueSettings;

/// Where the broker is and how the queue uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct RabbitSettings {
    /// The broker, `amqp://user:password@host:5672/vhost` (or `amqps://…`); the vhost is URL-encoded
    /// (`%2f` for `/`). Contains a secret: `Debug` redacts the password.
    pub url: String,
    /// Prefix of every queue name; processes that share a prefix share the queue.
    pub prefix: String,
    /// How retries are spaced. Processes sharing a prefix should agree on it (each retry delay has its
    /// own delay queue, named after the delay, so disagreeing processes still work, just with more queues).
    pub queue: QueueSettings,
    /// How long an operation waits for a (re)connection before failing with [`QueueError::Broker`], and
    /// how long [`RabbitQueue::connect`](super::RabbitQueue::connect) tries before giving up.
    ///
    /// [`QueueError::Broker`]: crate::QueueError::Broker
    pub connect_timeout: Duration,
    /// First pause between reconnection attempts; doubles up to [`RabbitSettings::reconnect_max`].
    pub reconnect_min: Duration,
    /// Longest pause between reconnection attempts.
    pub reconnect_max: Duration,
    /// How often expired leases are looked for in the background (claims also look first).
    pub reap_interval: Duration,
    /// How many task ids (and cancelled job ids) a process remembers for idempotent enqueue and for
    /// skipping settled or cancelled items at claim time; the oldest are forgotten first.
    pub remember: usize,
    /// How long the control stream keeps cancellations and settlements (`x-max-age`); a process that
    /// starts later replays this much history.
    pub control_retention: Duration,
}

impl RabbitSettings {
    /// Settings for `url` with the `veil.tasks` prefix and default tunables.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "veil.tasks".to_string(),
            queue: QueueSettings::default(),
            connect_timeout: Duration::from_secs(30),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
            reap_interval: Duration::from_secs(1),
            remember: 100_000,
            control_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// The pause before reconnection attempt number `attempt` (from 1).
    pub(crate) fn reconnect_delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        self.reconnect_min
            .saturating_mul(1u32 << exponent)
            .min(self.reconnect_max)
    }
}

/// The URL with its password replaced by `***`.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let user = credentials
        .split_once(':')
        .map_or(credentials, |(user, _)| user);
    format!("{scheme}://{user}:***@{host}{path}")
}

impl fmt::Debug for RabbitSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitSettings")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("queue", &self.queue)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("reap_interval", &self.reap_interval)
            .field("remember", &self.remember)
            .field("control_retention", &self.control_retention)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password() {
        let settings = RabbitSettings::new("amqp://veil:s3cret@broker:5672/%2f");
        let shown = format!("{settings:?}");
        assert!(shown.contains("amqp://veil:***@broker:5672/%2f"), "{shown}");
        assert!(!shown.contains("s3cret"));
        assert_eq!(redacted("amqp://broker/%2f"), "amqp://broker/%2f");
    }

    #[test]
    fn reconnect_delay_doubles_and_is_capped() {
        let settings = RabbitSettings::new("amqp://broker");
        assert_eq!(settings.reconnect_delay(1), Duration::from_millis(100));
        assert_eq!(settings.reconnect_delay(3), Duration::from_millis(400));
        assert_eq!(settings.reconnect_delay(50), Duration::from_secs(10));
    }
}
