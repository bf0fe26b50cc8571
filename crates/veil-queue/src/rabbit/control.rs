//! The control stream: what every process sharing a prefix must learn from the others.
//!
//! RabbitMQ cannot delete a message from the middle of a queue, look up a message by id, or tell one
//! consumer what another has acknowledged. So job cancellations and settled task ids (completed or
//! dead-lettered) are published, with confirms, to a durable stream (`{prefix}.control`, retention
//! `control_retention`). Every process consumes it from the first retained entry and applies each event
//! to its [`Ledger`](super::ledger::Ledger): claims then skip (acknowledge and drop) items of cancelled
//! jobs and copies of settled tasks, and `enqueue` ignores known task ids. A stream, unlike a fanout
//! exchange, also reaches processes that start after the event.

use std::sync::{Arc, Weak};

use futures::StreamExt;
use lapin::options::BasicAckOptions;
use lapin::Consumer;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use uuid::Uuid;
use veil_domain::{JobId, TaskId};

use super::session::{lock, Session, Shared};
use crate::{QueueError, Result};

/// One entry of the control stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum ControlEvent {
    /// The task completed or was dead-lettered: other copies of it are not to run.
    Settled { task_id: TaskId, job_id: JobId },
    /// The job was cancelled: none of its items are to run.
    Cancelled { job_id: JobId },
    /// Published by a process when it connects; seeing its own marker tells it that it has replayed
    /// everything retained before. Other processes ignore it.
    CaughtUp { marker: Uuid },
}

/// Publishes `event` to the control stream and waits for the broker's confirm.
pub(crate) async fn publish(
    shared: &Shared,
    session: &Session,
    event: &ControlEvent,
) -> Result<()> {
    let body = serde_json::to_vec(event)
        .map_err(|e| QueueError::Corrupt(format!("encoding control event: {e}")))?;
    let properties = lapin::BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    session
        .publish(&shared.topology.control, &body, properties)
        .await
        .map_err(|error| shared.broker_error(session, error))
}

/// Applies `event` to this process: remembers it, and ends this process's leases of a cancelled job.
pub(crate) async fn apply(shared: &Shared, event: &ControlEvent) {
    match *event {
        ControlEvent::Settled { task_id, job_id } => lock(&shared.ledger).settle(task_id, job_id),
        ControlEvent::CaughtUp { .. } => {}
        ControlEvent::Cancelled { job_id } => {
            lock(&shared.ledger).cancel_job(job_id);
            let leases = lock(&shared.leases).take_job(job_id);
            for lease in leases {
                // The item is cancelled: drop its message. Its worker learns from `LeaseLost`.
                let acking = lease.acker.ack(BasicAckOptions::default());
                match tokio::time::timeout(shared.settings.connect_timeout, acking).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(task = %lease.item.task_id, %error, "dropping a cancelled item failed");
                    }
                    Err(_) => {
                        tracing::warn!(task = %lease.item.task_id, "dropping a cancelled item timed out")
                    }
                }
            }
        }
    }
}

/// Consumes the control stream until the consumer ends (the session closed) or the queue is dropped;
/// signals `caught_up` on reading the event [`ControlEvent::CaughtUp`] carrying `marker`.
pub(crate) async fn consume(
    shared: Weak<Shared>,
    mut consumer: Consumer,
    marker: Uuid,
    caught_up: oneshot::Sender<()>,
) {
    let mut caught_up = Some(caught_up);
    while let Some(delivery) = consumer.next().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::warn!(%error, "control stream consumer failed");
                return;
            }
        };
        match serde_json::from_slice::<ControlEvent>(&delivery.data) {
            Ok(ControlEvent::CaughtUp { marker: seen }) if seen == marker => {
                if let Some(caught_up) = caught_up.take() {
                    let _ = caught_up.send(());
                }
            }
            Ok(event) => apply(&shared, &event).await,
            Err(error) => tracing::warn!(%error, "ignoring an unreadable control event"),
        }
        if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
            tracing::warn!(%error, "acknowledging a control event failed");
            return;
        }
        drop::<Arc<Shared>>(shared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_json() {
        let job_id = JobId::new_random();
        let event = ControlEvent::Cancelled { job_id };
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"event":"cancelled","job_id":"{job_id}"}}"#)
        );
        assert_eq!(serde_json::from_str::<ControlEvent>(&text).unwrap(), event);
    }
}
