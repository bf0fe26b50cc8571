//! Moving a held message on: acknowledging it, republishing it as its next attempt, dead-lettering it,
//! and expiring leases. Every move publishes the new copy (confirmed) before acknowledging the old one,
//! so a crash in between duplicates an item but never loses it.

use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Acker;
use veil_domain::now;

use super::control::{self, ControlEvent};
use super::ledger::Lease;
use super::message::Envelope;
use super::session::{lock, Session, Shared};
use crate::{QueueError, Result};

/// The error recorded when a delivery's lease ran out (or its holder's connection died).
pub(crate) const LEASE_EXPIRED: &str = "lease expired";

/// Acknowledges a held message: it leaves the broker for good. A dead channel means the broker has
/// requeued it already, which the caller learns as `LeaseLost`.
pub(crate) async fn ack(
    shared: &Shared,
    session: &Session,
    acker: &Acker,
    task: &veil_domain::TaskId,
) -> Result<()> {
    match acker.ack(BasicAckOptions::default()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(QueueError::LeaseLost {
            task_id: task.to_string(),
        }),
        Err(error) => {
            Err(shared.broker_error(session, format!("acknowledge task {task}: {error}")))
        }
    }
}

/// Publishes `envelope` to `queue` and waits for the confirm.
pub(crate) async fn publish(
    shared: &Shared,
    session: &Session,
    queue: &str,
    envelope: &Envelope,
) -> Result<()> {
    let body = envelope.body()?;
    session
        .publish(queue, &body, envelope.properties())
        .await
        .map_err(|error| shared.broker_error(session, error))
}

/// Tells this process and the others that `envelope`'s task is settled (best effort: a lost event only
/// weakens deduplication).
pub(crate) async fn announce_settled(shared: &Shared, session: &Session, envelope: &Envelope) {
    let event = ControlEvent::Settled {
        task_id: envelope.item.task_id,
        job_id: envelope.item.job_id,
    };
    control::apply(shared, &event).await;
    if let Err(error) = control::publish(shared, session, &event).await {
        tracing::warn!(task = %envelope.item.task_id, %error, "announcing a settled task failed");
    }
}

/// Ends a delivery that expired (or whose holder died): the item goes back to the ready queue as its
/// next attempt with the error `lease expired`, or to the dead-letter queue when that was its last
/// attempt. `held` is the delivery as it was handed out (`attempts` not yet counting it).
pub(crate) async fn expire(
    shared: &Shared,
    session: &Session,
    held: Envelope,
    acker: &Acker,
) -> Result<()> {
    let spent = held.attempts.saturating_add(1);
    let next = Envelope {
        item: held.item,
        attempts: spent,
        last_error: Some(LEASE_EXPIRED.to_string()),
    };
    let task = next.item.task_id;
    let dead = spent >= next.item.max_attempts;
    let queue = if dead {
        &shared.topology.dead
    } else {
        &shared.topology.ready
    };
    if let Err(error) = publish(shared, session, queue, &next).await {
        // Hand the message back to the broker marked redelivered: the next claim expires it again.
        let requeue = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        let _ = session.bounded("requeue", acker.nack(requeue)).await;
        return Err(error);
    }
    ack(shared, session, acker, &task).await?;
    if dead {
        tracing::warn!(task = %task, attempts = spent, "lease expired on the last attempt: dead-lettered");
        announce_settled(shared, session, &next).await;
    } else {
        tracing::info!(task = %task, attempts = spent, "lease expired: task will be redelivered");
    }
    Ok(())
}

/// Expires every lease of this process that ran out.
pub(crate) async fn reap_expired(shared: &Shared, session: &Session) -> Result<()> {
    let expired: Vec<Lease> = lock(&shared.leases).take_expired(now());
    let mut first_error = None;
    for lease in expired {
        if lease.generation != session.generation {
            continue; // held by a connection that is gone: the broker requeued it already
        }
        let held = Envelope {
            item: lease.item,
            attempts: lease.attempt.saturating_sub(1),
            last_error: lease.previous_error,
        };
        if let Err(error) = expire(shared, session, held, &lease.acker).await {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Expires leases in the background every `interval` until the queue is closed.
pub(crate) async fn reap_periodically(shared: std::sync::Weak<Shared>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.is_closed() {
            return;
        }
        let Some(session) = shared.current().filter(|session| session.alive()) else {
            continue;
        };
        if let Err(error) = reap_expired(&shared, &session).await {
            tracing::warn!(%error, "expiring leases failed; will retry");
        }
    }
}
