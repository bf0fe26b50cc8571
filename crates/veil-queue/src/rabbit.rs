//! [`RabbitQueue`]: the task queue on a RabbitMQ broker (feature `rabbitmq`).
//!
//! # Topology (per prefix, all durable, persistent messages, publisher confirms on every publish)
//!
//! ```text
//!  enqueue ──▶ {prefix}.ready ──basic.get──▶ leased (unacked on this process's channel)
//!                 ▲      ▲                        │ complete: ack ───────────────▶ gone
//!                 │      │ release / lease expiry │ fail, budget left: publish ──▶ {prefix}.delay.{N}ms
//!                 │      └── republish, then ack ─┤   (x-message-ttl = N) ── TTL dead-letters back ──┘
//!                 │                               │ fail or expiry on the last attempt ─▶ {prefix}.dead
//!                 └── broker requeues (redelivered) when the holder's connection dies
//!  cancel_job / settled tasks ──▶ {prefix}.control (stream) ──▶ every process's ledger
//! ```
//!
//! Claims use `basic.get`, so a claim returns `None` exactly when the ready queue has nothing
//! deliverable, `stats` can read the ready count from the broker, and no process hoards messages it is
//! not working on. A claimed message stays unacknowledged while its lease lasts; every change of
//! condition republishes the item with new headers (see [`message`]) before acknowledging the old copy.
//! The broker requeues the unacknowledged messages of a dead connection, marked `redelivered`; since
//! Veil never requeues a message itself, a claim that sees that flag knows the previous holder died and
//! treats it as an expired lease (attempt + 1, `lease expired`, or dead-lettered on the last attempt).
//!
//! # What holds across processes, and what only within one
//!
//! Across every process sharing the broker and prefix (RabbitMQ alone, no database):
//! - at-least-once delivery; an item is leased to one consumer at a time (the broker's unacked state);
//! - FIFO claims from the ready queue; retries wait their backoff in a delay queue; the retry budget and
//!   last error travel with the message, so a retry or dead letter is correct whichever process handles it;
//! - a dead process's leases come back (on connection loss, immediately) as the next attempt;
//! - `dead_letters` and `stats.ready`/`delayed`/`dead` read the broker's queues;
//! - cancellations and settled task ids reach every process through the control stream, also processes
//!   started later (within `control_retention`), so claims skip items of cancelled jobs and copies of
//!   settled tasks; a process holding a lease of a cancelled job drops it (its worker sees `LeaseLost`).
//!
//! Only within one process (one `RabbitQueue`):
//! - lease expiry by time: the lease table and its reaper live in the process holding the message
//!   (another process cannot take over a message whose holder is alive but silent);
//! - lease tokens: a delivery can be heartbeaten, completed, failed or released only through the
//!   instance that claimed it;
//! - `enqueue` idempotence at publish time: ids this process has enqueued, claimed or heard settled
//!   (the last `remember` of them). Two processes enqueueing one new id at once both publish it; the
//!   second copy is skipped at claim time once the first is settled, else it runs twice (at-least-once);
//! - `stats.leased` counts this process's leases (AMQP 0-9-1 does not report unacked counts);
//! - `cancel_job`'s count: the job's unfinished tasks this process knows of (exact for the process that
//!   enqueued the job, since it hears every settlement through the stream). `stats.ready` still counts
//!   messages of a cancelled job until a claim skips them.
//! - `release` and lease expiry put the item at the tail of the ready queue, not at its old position.
//!
//! A process that is alive but frozen keeps its leases until the broker drops its connection for
//! missed AMQP heartbeats (the negotiated interval, 60 s by default; `?heartbeat=N` in the URL lowers it).
//!
//! # Connection loss
//!
//! A background keeper reconnects with exponential backoff (`reconnect_min` doubling up to
//! `reconnect_max`), redeclares the topology and replays the control stream before the new connection
//! is used. Leases held on the lost connection are void (`LeaseLost`); the broker has requeued their
//! messages. Operations wait up to `connect_timeout` for a connection, and every broker call is bounded
//! by it too, failing with the retryable [`QueueError::Broker`].
//!
//! # Broker settings that matter
//!
//! RabbitMQ 3.9 or newer (streams). The broker's delivery acknowledgement timeout (`consumer_timeout`,
//! 30 minutes by default) must be longer than the longest task: when it fires the broker closes the
//! channel, which voids this process's leases and redelivers their tasks.

mod control;
mod ledger;
mod message;
mod outcomes;
mod session;
mod settings;
mod topology;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{BasicGetOptions, BasicNackOptions, BasicRejectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio::task::JoinHandle;
use uuid::Uuid;
use veil_domain::{now, Delivery, FailOutcome, JobId, QueueItem, QueueStats, TaskId};

use crate::sql::after;
use crate::{QueueError, Result, TaskQueue};
use control::ControlEvent;
use ledger::Lease;
use message::Envelope;
use session::{lock, Session, Shared};
pub use settings::RabbitSettings;

/// A [`TaskQueue`] on RabbitMQ; see the module documentation for its guarantees.
pub struct RabbitQueue {
    shared: Arc<Shared>,
    keeper: std::sync::Mutex<Option<JoinHandle<()>>>,
    reaper: JoinHandle<()>,
}

impl std::fmt::Debug for RabbitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitQueue")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl RabbitQueue {
    /// Connects to the broker and declares the prefix's queues, trying for `connect_timeout`.
    /// The queue reconnects by itself afterwards. Must be called within a Tokio runtime.
    pub async fn connect(settings: RabbitSettings) -> Result<Self> {
        let interval = settings.reap_interval;
        let shared = Arc::new(Shared::new(settings));
        let keeper = tokio::spawn(session::keep_connected(shared.clone()));
        let reaper = tokio::spawn(outcomes::reap_periodically(
            Arc::downgrade(&shared),
            interval,
        ));
        let queue = Self {
            shared,
            keeper: std::sync::Mutex::new(Some(keeper)),
            reaper,
        };
        queue.shared.session().await?;
        Ok(queue)
    }

    /// The settings the queue was opened with.
    pub fn settings(&self) -> &RabbitSettings {
        &self.shared.settings
    }

    /// Stops reconnecting and closes the connection; the broker requeues every message this process
    /// still holds, so its leased tasks are redelivered elsewhere as expired leases.
    pub async fn close(&self) {
        self.reaper.abort();
        self.shared.close();
        let keeper = lock(&self.keeper).take();
        if let Some(keeper) = keeper {
            // The keeper closes the connection and ends; it gives up on a hung close by itself.
            if tokio::time::timeout(Duration::from_secs(5), keeper)
                .await
                .is_err()
            {
                tracing::warn!("the broker connection did not close in time");
            }
        }
    }

    /// Deletes the prefix's queues and everything in them (tests tear down their prefix with this).
    pub async fn delete_topology(&self) -> Result<()> {
        let session = self.shared.session().await?;
        let _admin = self.shared.admin_lock.lock().await;
        self.shared
            .topology
            .delete(&session.admin)
            .await
            .map_err(|error| {
                self.shared
                    .broker_error(&session, format!("delete queues: {error}"))
            })
    }

    /// Closes the current connection as a broker restart would; the queue reconnects by itself.
    #[doc(hidden)]
    pub async fn break_connection_for_tests(&self) {
        if let Some(session) = self.shared.current() {
            session.close(320, "test: connection forced").await;
        }
    }

    /// The session that holds `delivery`, with its lease taken out of the table.
    async fn take_lease(&self, delivery: &Delivery) -> Result<(Arc<Session>, Lease)> {
        let session = self.shared.session().await?;
        let lease = lock(&self.shared.leases).take(&delivery.lease_token);
        match lease {
            Some(lease) if lease.generation == session.generation => Ok((session, lease)),
            _ => Err(lease_lost(delivery)),
        }
    }

    /// Puts a lease back after an operation could not move its message.
    fn restore(&self, delivery: &Delivery, lease: Lease) {
        lock(&self.shared.leases).insert(delivery.lease_token, lease);
    }

    async fn passive_count(&self, session: &Session, queue: &str) -> Result<u64> {
        let declared = session
            .admin
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::default().passive(),
                FieldTable::default(),
            )
            .await
            .map_err(|error| {
                self.shared
                    .broker_error(session, format!("inspect {queue}: {error}"))
            })?;
        Ok(u64::from(declared.message_count()))
    }
}

impl Drop for RabbitQueue {
    fn drop(&mut self) {
        self.reaper.abort();
        // The keeper sees this, closes the connection and ends.
        self.shared.close();
    }
}

fn lease_lost(delivery: &Delivery) -> QueueError {
    QueueError::LeaseLost {
        task_id: delivery.item.task_id.to_string(),
    }
}

#[async_trait]
impl TaskQueue for RabbitQueue {
    async fn enqueue(&self, items: &[QueueItem]) -> Result<()> {
        let session = self.shared.session().await?;
        let _enqueueing = self.shared.enqueue_lock.lock().await;
        let mut batch: HashSet<TaskId> = HashSet::new();
        let fresh: Vec<&QueueItem> = {
            let ledger = lock(&self.shared.ledger);
            items
                .iter()
                .filter(|item| !ledger.knows(&item.task_id) && batch.insert(item.task_id))
                .collect()
        };
        let mut encoded = Vec::with_capacity(fresh.len());
        for item in &fresh {
            let envelope = Envelope::fresh((*item).clone());
            encoded.push((envelope.body()?, envelope.properties()));
        }
        let results = session
            .publish_many(&self.shared.topology.ready, encoded)
            .await;
        let mut first_error = None;
        let mut ledger = lock(&self.shared.ledger);
        for (item, result) in fresh.iter().zip(results) {
            match result {
                Ok(()) => ledger.note_pending(item.task_id, item.job_id),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        drop(ledger);
        match first_error {
            None => Ok(()),
            Some(error) => Err(self.shared.broker_error(&session, error)),
        }
    }

    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Delivery>> {
        let session = self.shared.session().await?;
        outcomes::reap_expired(&self.shared, &session).await?;
        let _claiming = self.shared.claim_lock.lock().await;
        let ready = &self.shared.topology.ready;
        loop {
            let got = session
                .deliveries
                .basic_get(ready.as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .map_err(|error| {
                    self.shared
                        .broker_error(&session, format!("get from {ready}: {error}"))
                })?;
            let Some(message) = got else {
                return Ok(None);
            };
            let delivered = message.delivery;
            let envelope = match Envelope::decode(&delivered.data, &delivered.properties) {
                Ok(envelope) => envelope,
                Err(error) => {
                    tracing::error!(%error, queue = %ready, "dropping a message that is not a queue item");
                    let rejecting = delivered
                        .acker
                        .reject(BasicRejectOptions { requeue: false });
                    let _ = session.bounded("reject", rejecting).await;
                    continue;
                }
            };
            let task = envelope.item.task_id;
            let duplicate = lock(&self.shared.ledger).is_finished(&envelope.item)
                || lock(&self.shared.leases).holds(&task);
            if duplicate {
                tracing::debug!(%task, "skipping a settled, cancelled or already leased item");
                outcomes::ack(&self.shared, &session, &delivered.acker, &task).await?;
                continue;
            }
            if delivered.redelivered {
                // Veil never requeues: its previous holder's connection died holding the lease.
                outcomes::expire(&self.shared, &session, envelope, &delivered.acker).await?;
                continue;
            }
            let lease_token = Uuid::new_v4();
            let lease_expires_at = after(now(), lease);
            let attempt = envelope.attempts.saturating_add(1);
            lock(&self.shared.ledger).note_pending(task, envelope.item.job_id);
            lock(&self.shared.leases).insert(
                lease_token,
                Lease {
                    item: envelope.item.clone(),
                    attempt,
                    previous_error: envelope.last_error.clone(),
                    expires_at: lease_expires_at,
                    acker: delivered.acker,
                    generation: session.generation,
                },
            );
            tracing::debug!(%task, attempt, worker, "claimed");
            return Ok(Some(Delivery {
                item: envelope.item,
                attempt,
                lease_token,
                lease_expires_at,
                previous_error: envelope.last_error,
            }));
        }
    }

    async fn heartbeat(&self, delivery: &Delivery, lease: Duration) -> Result<()> {
        let generation = self.shared.current().map(|session| session.generation);
        let mut leases = lock(&self.shared.leases);
        match leases.get_mut(&delivery.lease_token) {
            Some(held) if Some(held.generation) == generation => {
                held.expires_at = after(now(), lease);
                Ok(())
            }
            Some(_) => {
                leases.take(&delivery.lease_token);
                Err(lease_lost(delivery))
            }
            None => Err(lease_lost(delivery)),
        }
    }

    async fn complete(&self, delivery: &Delivery) -> Result<()> {
        let (session, lease) = self.take_lease(delivery).await?;
        outcomes::ack(&self.shared, &session, &lease.acker, &lease.item.task_id).await?;
        outcomes::announce_settled(&self.shared, &session, &Envelope::fresh(lease.item)).await;
        Ok(())
    }

    async fn fail(&self, delivery: &Delivery, error: &str) -> Result<FailOutcome> {
        let (session, lease) = self.take_lease(delivery).await?;
        let next = Envelope {
            item: lease.item.clone(),
            attempts: lease.attempt,
            last_error: Some(error.to_string()),
        };
        let (outcome, queue) = if lease.attempt >= lease.item.max_attempts {
            (
                FailOutcome::DeadLettered,
                self.shared.topology.dead.as_str(),
            )
        } else {
            let delay = self.shared.settings.queue.backoff(lease.attempt);
            let not_before = after(now(), delay);
            (
                FailOutcome::Retry { not_before },
                self.shared.topology.delay_queue(delay),
            )
        };
        if let Err(error) = outcomes::publish(&self.shared, &session, queue, &next).await {
            self.restore(delivery, lease);
            return Err(error);
        }
        outcomes::ack(&self.shared, &session, &lease.acker, &lease.item.task_id).await?;
        if outcome == FailOutcome::DeadLettered {
            outcomes::announce_settled(&self.shared, &session, &next).await;
        }
        Ok(outcome)
    }

    async fn release(&self, delivery: &Delivery) -> Result<()> {
        let (session, lease) = self.take_lease(delivery).await?;
        let same = Envelope {
            item: lease.item.clone(),
            attempts: lease.attempt.saturating_sub(1),
            last_error: lease.previous_error.clone(),
        };
        let ready = &self.shared.topology.ready;
        if let Err(error) = outcomes::publish(&self.shared, &session, ready, &same).await {
            self.restore(delivery, lease);
            return Err(error);
        }
        outcomes::ack(&self.shared, &session, &lease.acker, &lease.item.task_id).await
    }

    async fn cancel_job(&self, job: JobId) -> Result<u64> {
        let session = self.shared.session().await?;
        let event = ControlEvent::Cancelled { job_id: job };
        let mut unfinished: HashSet<TaskId> = lock(&self.shared.ledger)
            .cancel_job(job)
            .into_iter()
            .collect();
        let leases = lock(&self.shared.leases).take_job(job);
        for lease in leases {
            unfinished.insert(lease.item.task_id);
            if let Err(error) =
                outcomes::ack(&self.shared, &session, &lease.acker, &lease.item.task_id).await
            {
                tracing::warn!(task = %lease.item.task_id, %error, "dropping a cancelled item failed");
            }
        }
        control::publish(&self.shared, &session, &event).await?;
        Ok(unfinished.len() as u64)
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<(QueueItem, String)>> {
        let session = self.shared.session().await?;
        let _admin = self.shared.admin_lock.lock().await;
        let dead = &self.shared.topology.dead;
        let mut letters = Vec::new();
        let mut last_tag = None;
        // Browse: take up to `limit` messages, then hand them all back in their places.
        while letters.len() < limit as usize {
            let got = session
                .admin
                .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .map_err(|error| {
                    self.shared
                        .broker_error(&session, format!("get from {dead}: {error}"))
                })?;
            let Some(message) = got else {
                break;
            };
            last_tag = Some(message.delivery.delivery_tag);
            match Envelope::decode(&message.delivery.data, &message.delivery.properties) {
                Ok(envelope) => {
                    letters.push((envelope.item, envelope.last_error.unwrap_or_default()))
                }
                Err(error) => tracing::warn!(%error, "skipping an unreadable dead letter"),
            }
        }
        if let Some(tag) = last_tag {
            let requeue = BasicNackOptions {
                multiple: true,
                requeue: true,
            };
            session
                .admin
                .basic_nack(tag, requeue)
                .await
                .map_err(|error| {
                    self.shared
                        .broker_error(&session, format!("requeue dead letters: {error}"))
                })?;
        }
        Ok(letters)
    }

    async fn stats(&self) -> Result<QueueStats> {
        let session = self.shared.session().await?;
        let _admin = self.shared.admin_lock.lock().await;
        let topology = &self.shared.topology;
        let ready = self.passive_count(&session, &topology.ready).await?;
        let mut delayed = 0;
        for (_, queue) in &topology.delays {
            delayed += self.passive_count(&session, queue).await?;
        }
        let dead = self.passive_count(&session, &topology.dead).await?;
        let leased = lock(&self.shared.leases).len() as u64;
        Ok(QueueStats {
            ready,
            delayed,
            leased,
            dead,
        })
    }
}
