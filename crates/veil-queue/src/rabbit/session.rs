//! The connection to the broker and keeping it up.
//!
//! A [`Session`] is one AMQP connection with its channels: `publisher` (publisher confirms on),
//! `deliveries` (basic.get and the acknowledgements of claimed messages), `admin` (passive declares for
//! stats, browsing the dead-letter queue) and a consumer of the control stream. A background keeper opens
//! a session, declares the topology, watches it, and when the connection or any channel dies (broker
//! restart, network, a channel error) replaces it after an exponential backoff. Replacing a session
//! forgets every lease of this process: the broker has already requeued their messages, marked
//! redelivered, so the next claim (here or elsewhere) treats them as expired leases. Operations that need
//! the broker wait up to `connect_timeout` for a live session, then fail with [`QueueError::Broker`],
//! which is retryable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer};
use tokio::sync::{watch, Notify};

use super::ledger::{Leases, Ledger};
use super::settings::{redacted, RabbitSettings};
use super::topology::Topology;
use crate::{QueueError, Result};

/// How often the keeper checks that the session is alive (reported failures wake it at once).
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// How long closing a connection may take (a close racing another close can wait for ever in lapin).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Stream deliveries the control consumer may have unacknowledged.
const CONTROL_PREFETCH: u16 = 500;

/// One connection and its channels.
pub(crate) struct Session {
    pub(crate) generation: u64,
    pub(crate) connection: Connection,
    pub(crate) publisher: Channel,
    pub(crate) deliveries: Channel,
    pub(crate) admin: Channel,
    control: Channel,
    /// How long one broker call may take before it counts as failed.
    call_timeout: Duration,
}

impl Session {
    /// Whether the connection and every channel are still open.
    pub(crate) fn alive(&self) -> bool {
        self.connection.status().connected()
            && [
                &self.publisher,
                &self.deliveries,
                &self.admin,
                &self.control,
            ]
            .iter()
            .all(|channel| channel.status().connected())
    }

    /// Runs one broker call, failing it after `connect_timeout` (a call can hang when the connection
    /// dies under it).
    pub(crate) async fn bounded<T, E: std::fmt::Display>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> std::result::Result<T, String> {
        match tokio::time::timeout(self.call_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(format!("{what}: {error}")),
            Err(_) => Err(format!("{what}: no answer within {:?}", self.call_timeout)),
        }
    }

    /// Closes the connection, giving up after [`CLOSE_TIMEOUT`]; errors are of no interest (the
    /// connection may be dead already).
    pub(crate) async fn close(&self, reply_code: u16, reason: &str) {
        let closing = self.connection.close(reply_code, reason.into());
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
    }

    /// Publishes to `queue` through the default exchange and waits for the broker's confirm.
    pub(crate) async fn publish(
        &self,
        queue: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> std::result::Result<(), String> {
        let mut results = self
            .publish_many(queue, vec![(body.to_vec(), properties)])
            .await;
        results.pop().unwrap_or(Ok(()))
    }

    /// Publishes every message, in order, then waits for all the confirms; one result per message.
    pub(crate) async fn publish_many(
        &self,
        queue: &str,
        messages: Vec<(Vec<u8>, BasicProperties)>,
    ) -> Vec<std::result::Result<(), String>> {
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let mut pending = Vec::with_capacity(messages.len());
        for (body, properties) in messages {
            let publishing =
                self.publisher
                    .basic_publish("".into(), queue.into(), options, &body, properties);
            let sent = self
                .bounded(&format!("publish to {queue}"), publishing)
                .await;
            pending.push(sent);
        }
        let mut results = Vec::with_capacity(pending.len());
        for sent in pending {
            let confirmed = match sent {
                Ok(confirm) => self
                    .bounded(&format!("confirm of publish to {queue}"), confirm)
                    .await
                    .and_then(|confirmation| confirmed(queue, confirmation)),
                Err(error) => Err(error),
            };
            results.push(confirmed);
        }
        results
    }
}

/// `Ok` when the broker took the message into `queue`.
fn confirmed(queue: &str, confirmation: Confirmation) -> std::result::Result<(), String> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => Err(format!(
            "publish to {queue} returned: {} {}",
            returned.reply_code, returned.reply_text
        )),
        Confirmation::Nack(None) => Err(format!("the broker refused a publish to {queue}")),
        Confirmation::NotRequested => Err("publisher confirms are off".to_string()),
    }
}

/// State shared by a [`RabbitQueue`](super::RabbitQueue), its keeper, reaper and control consumer.
pub(crate) struct Shared {
    pub(crate) settings: RabbitSettings,
    pub(crate) topology: Topology,
    pub(crate) leases: Mutex<Leases>,
    pub(crate) ledger: Mutex<Ledger>,
    /// Serialises basic.get: a lapin channel holds one pending get at a time.
    pub(crate) claim_lock: tokio::sync::Mutex<()>,
    /// Serialises enqueues so that two concurrent calls never both publish one task id.
    pub(crate) enqueue_lock: tokio::sync::Mutex<()>,
    /// Serialises use of the admin channel (a browse holds messages until it requeues them).
    pub(crate) admin_lock: tokio::sync::Mutex<()>,
    current: Mutex<Option<Arc<Session>>>,
    /// Bumped whenever a session is installed or removed.
    changed: watch::Sender<u64>,
    broken: Notify,
    closed: AtomicBool,
    last_connect_error: Mutex<Option<String>>,
}

/// Locks a mutex, ignoring poisoning (every critical section leaves the data consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(settings: RabbitSettings) -> Self {
        let topology = Topology::new(
            &settings.prefix,
            &settings.queue,
            settings.control_retention,
        );
        let ledger = Ledger::new(settings.remember);
        Self {
            settings,
            topology,
            leases: Mutex::new(Leases::default()),
            ledger: Mutex::new(ledger),
            claim_lock: tokio::sync::Mutex::new(()),
            enqueue_lock: tokio::sync::Mutex::new(()),
            admin_lock: tokio::sync::Mutex::new(()),
            current: Mutex::new(None),
            changed: watch::Sender::new(0),
            broken: Notify::new(),
            closed: AtomicBool::new(false),
            last_connect_error: Mutex::new(None),
        }
    }

    /// The live session, waiting up to `connect_timeout` for one.
    pub(crate) async fn session(&self) -> Result<Arc<Session>> {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + self.settings.connect_timeout;
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(QueueError::Broker("the queue was closed".to_string()));
            }
            let current = lock(&self.current).clone();
            if let Some(session) = current {
                if session.alive() {
                    return Ok(session);
                }
                self.report_broken(session.generation);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return Err(self.unreachable()),
            }
        }
    }

    fn unreachable(&self) -> QueueError {
        let cause = lock(&self.last_connect_error)
            .clone()
            .unwrap_or_else(|| "the connection is being re-established".to_string());
        QueueError::Broker(format!(
            "no connection to the broker at {} within {:?}: {cause}",
            redacted(&self.settings.url),
            self.settings.connect_timeout
        ))
    }

    /// An operation on `session` failed: wake the keeper to check it, and describe the failure.
    pub(crate) fn broker_error(
        &self,
        session: &Session,
        error: impl std::fmt::Display,
    ) -> QueueError {
        if !session.alive() {
            self.report_broken(session.generation);
        }
        QueueError::Broker(error.to_string())
    }

    fn report_broken(&self, generation: u64) {
        tracing::debug!(generation, "broker session reported broken");
        self.broken.notify_one();
    }

    /// Stops reconnecting; operations fail from now on. The keeper closes the connection.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.broken.notify_one();
        self.changed.send_modify(|generation| *generation += 1);
        lock(&self.current).take();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The current session, if any, without waiting.
    pub(crate) fn current(&self) -> Option<Arc<Session>> {
        lock(&self.current).clone()
    }

    fn install(&self, session: Arc<Session>) {
        *lock(&self.current) = Some(session);
        *lock(&self.last_connect_error) = None;
        self.changed.send_modify(|generation| *generation += 1);
    }

    /// Drops the session `generation` and, with it, every lease (the broker requeued their messages).
    fn remove(&self, generation: u64) {
        {
            let mut current = lock(&self.current);
            if current
                .as_ref()
                .is_some_and(|session| session.generation == generation)
            {
                *current = None;
            }
        }
        let lost = lock(&self.leases).clear();
        if lost > 0 {
            tracing::warn!(lost, "broker connection lost: leases of this process are void, their tasks will be redelivered");
        }
        self.changed.send_modify(|generation| *generation += 1);
    }
}

/// Opens a connection, declares the topology and opens the channels, within `connect_timeout`.
async fn open(
    shared: &Shared,
    generation: u64,
) -> std::result::Result<(Session, Consumer), String> {
    let timeout = shared.settings.connect_timeout;
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("veil-queue {}", shared.settings.prefix).into());
    let connecting = Connection::connect(&shared.settings.url, properties);
    let connection = match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return Err(error.to_string()),
        Err(_) => return Err(format!("no connection within {timeout:?}")),
    };
    let opening = open_channels(shared, &connection);
    let channels = match tokio::time::timeout(timeout, opening).await {
        Ok(Ok(channels)) => Ok(channels),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("setting up channels took over {timeout:?}")),
    };
    let (publisher, deliveries, admin, control, consumer) = match channels {
        Ok(channels) => channels,
        Err(error) => {
            let closing = connection.close(200, "setup failed".into());
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
            return Err(error);
        }
    };
    let session = Session {
        generation,
        connection,
        publisher,
        deliveries,
        admin,
        control,
        call_timeout: timeout,
    };
    Ok((session, consumer))
}

/// The publisher, deliveries, admin and control channels and the control stream's consumer, after
/// declaring the topology.
async fn open_channels(
    shared: &Shared,
    connection: &Connection,
) -> lapin::Result<(Channel, Channel, Channel, Channel, Consumer)> {
    let admin = connection.create_channel().await?;
    shared.topology.declare(&admin).await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let deliveries = connection.create_channel().await?;
    let control = connection.create_channel().await?;
    control
        .basic_qos(CONTROL_PREFETCH, BasicQosOptions::default())
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-stream-offset".into(),
        AMQPValue::LongString("first".into()),
    );
    let consumer = control
        .basic_consume(
            shared.topology.control.as_str().into(),
            format!("veil-control-{}", uuid::Uuid::new_v4()).into(),
            BasicConsumeOptions::default(),
            arguments,
        )
        .await?;
    Ok((publisher, deliveries, admin, control, consumer))
}

/// Starts consuming the control stream and waits until it has replayed what was retained, so that a
/// new session knows every retained cancellation before its first claim.
async fn start_control(
    shared: &Arc<Shared>,
    session: &Session,
    consumer: Consumer,
) -> std::result::Result<tokio::task::JoinHandle<()>, String> {
    let marker = uuid::Uuid::new_v4();
    let (caught_up, replayed) = tokio::sync::oneshot::channel();
    let control = tokio::spawn(super::control::consume(
        Arc::downgrade(shared),
        consumer,
        marker,
        caught_up,
    ));
    let event = super::control::ControlEvent::CaughtUp { marker };
    let waited = async {
        super::control::publish(shared, session, &event)
            .await
            .map_err(|error| error.to_string())?;
        replayed
            .await
            .map_err(|_| "the control consumer ended".to_string())
    };
    match tokio::time::timeout(shared.settings.connect_timeout, waited).await {
        Ok(Ok(())) => Ok(control),
        Ok(Err(error)) => {
            control.abort();
            Err(error)
        }
        Err(_) => {
            control.abort();
            Err(format!(
                "the control stream was not replayed within {:?}",
                shared.settings.connect_timeout
            ))
        }
    }
}

/// Keeps a live session installed in `shared` until the queue is closed.
pub(crate) async fn keep_connected(shared: Arc<Shared>) {
    let mut generation = 0;
    loop {
        let mut attempt = 0;
        let (session, consumer) = loop {
            if shared.is_closed() {
                return;
            }
            attempt += 1;
            generation += 1;
            match open(&shared, generation).await {
                Ok(opened) => break opened,
                Err(error) => {
                    let delay = shared.settings.reconnect_delay(attempt);
                    tracing::warn!(
                        url = %redacted(&shared.settings.url), attempt, error = %error, ?delay,
                        "connecting to the broker failed; retrying"
                    );
                    *lock(&shared.last_connect_error) = Some(error);
                    tokio::time::sleep(delay).await;
                }
            }
        };
        if attempt > 1 || generation > 1 {
            tracing::info!(generation, "connected to the broker");
        }
        let session = Arc::new(session);
        let control = match start_control(&shared, &session, consumer).await {
            Ok(control) => control,
            Err(error) => {
                tracing::warn!(%error, "starting the control stream failed; reconnecting");
                *lock(&shared.last_connect_error) = Some(error);
                session.close(200, "reconnecting").await;
                tokio::time::sleep(shared.settings.reconnect_delay(attempt)).await;
                continue;
            }
        };
        shared.install(session.clone());
        loop {
            if shared.is_closed() {
                control.abort();
                session.close(200, "closing").await;
                return;
            }
            if !session.alive() {
                break;
            }
            let _ = tokio::time::timeout(WATCH_INTERVAL, shared.broken.notified()).await;
        }
        control.abort();
        tracing::warn!(
            generation,
            "the broker connection or a channel closed; reconnecting"
        );
        shared.remove(generation);
        session.close(200, "reconnecting").await;
    }
}
