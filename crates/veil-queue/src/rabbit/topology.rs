//! The broker objects of one queue prefix: their names, declaration and deletion.
//!
//! ```text
//!   {prefix}.ready      durable classic queue, FIFO; claims basic.get from it
//!   {prefix}.delay.{N}ms durable, x-message-ttl = N, dead-letters (default exchange) into {prefix}.ready;
//!                       one per distinct backoff delay, so every message in it has the same TTL
//!   {prefix}.dead       durable; dead items with their attempt count and last error in headers
//!   {prefix}.control    durable stream (x-max-age); job cancellations and settled task ids,
//!                       replayed by every process from the start of its retention
//! ```
//!
//! All publishing goes through the default exchange with the queue name as routing key, so there are
//! no exchanges or bindings to keep in step.

use std::collections::BTreeSet;
use std::time::Duration;

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::Channel;

use crate::QueueSettings;

/// The names of a prefix's queues.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    pub(crate) ready: String,
    pub(crate) dead: String,
    pub(crate) control: String,
    /// `(delay in milliseconds, queue name)`, shortest first.
    pub(crate) delays: Vec<(u64, String)>,
    control_retention: Duration,
}

impl Topology {
    pub(crate) fn new(prefix: &str, settings: &QueueSettings, control_retention: Duration) -> Self {
        let delays: BTreeSet<u64> = (1..=32u32)
            .map(|attempt| millis(settings.backoff(attempt)))
            .collect();
        Self {
            ready: format!("{prefix}.ready"),
            dead: format!("{prefix}.dead"),
            control: format!("{prefix}.control"),
            delays: delays
                .into_iter()
                .map(|delay| (delay, format!("{prefix}.delay.{delay}ms")))
                .collect(),
            control_retention,
        }
    }

    /// The delay queue holding retries that wait `delay`.
    pub(crate) fn delay_queue(&self, delay: Duration) -> &str {
        let wanted = millis(delay);
        // Every backoff value has its queue; fall back to the nearest longer one should settings differ.
        self.delays
            .iter()
            .find(|(delay, _)| *delay >= wanted)
            .or(self.delays.last())
            .map(|(_, name)| name.as_str())
            .unwrap_or(&self.ready)
    }

    /// Declares every queue (idempotent; arguments are fixed by the names, so processes agree).
    pub(crate) async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        for name in [&self.ready, &self.dead] {
            channel
                .queue_declare(name.as_str().into(), durable(), FieldTable::default())
                .await?;
        }
        for (delay, name) in &self.delays {
            let mut arguments = FieldTable::default();
            arguments.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(as_i64(*delay)),
            );
            arguments.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(LongString::from("")),
            );
            arguments.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(LongString::from(self.ready.as_str())),
            );
            channel
                .queue_declare(name.as_str().into(), durable(), arguments)
                .await?;
        }
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("stream".into()),
        );
        let max_age = format!("{}s", self.control_retention.as_secs().max(1));
        arguments.insert("x-max-age".into(), AMQPValue::LongString(max_age.into()));
        channel
            .queue_declare(self.control.as_str().into(), durable(), arguments)
            .await?;
        Ok(())
    }

    /// Every queue name.
    pub(crate) fn all_queues(&self) -> impl Iterator<Item = &str> {
        [&self.ready, &self.dead, &self.control]
            .into_iter()
            .chain(self.delays.iter().map(|(_, name)| name))
            .map(String::as_str)
    }

    /// Deletes every queue with whatever it holds (tests tear their prefix down with this).
    pub(crate) async fn delete(&self, channel: &Channel) -> lapin::Result<()> {
        for name in self.all_queues() {
            channel
                .queue_delete(ShortString::from(name), QueueDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions::durable()
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_delay_queue_per_distinct_backoff() {
        let settings = QueueSettings {
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
        };
        let topology = Topology::new("p", &settings, Duration::from_secs(60));
        let delays: Vec<u64> = topology.delays.iter().map(|(delay, _)| *delay).collect();
        assert_eq!(delays, vec![50, 100, 200, 400]);
        assert_eq!(topology.delay_queue(settings.backoff(2)), "p.delay.100ms");
        assert_eq!(
            topology.delay_queue(Duration::from_secs(9)),
            "p.delay.400ms"
        );
        assert_eq!(topology.all_queues().count(), 7);
    }
}
