//! Status and progress of dispatched tasks, from the dispatcher back to the hub: best effort and
//! fast (the durable outcome is in the object store). [`LocalStatusChannel`] serves one process
//! (embedded mode); [`RabbitStatusChannel`] a topic exchange on the broker, routed by task id, where
//! each waiting hub worker binds an exclusive queue of its own.

use async_trait::async_trait;
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use veil_domain::TaskId;

use crate::{DispatchError, MESSAGE_VERSION};

/// Where a dispatched task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusState {
    /// A dispatcher has started it.
    Running,
    /// It reports how far it has got.
    Progress,
    /// Its result is in the object store.
    Succeeded,
    /// The attempt failed (`permanent`: and no retry will help, or the budget is spent).
    Failed,
}

/// One status report. Carries numbers and messages, never data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// Message format version.
    pub version: u32,
    /// The task.
    pub task_id: TaskId,
    /// Where it stands.
    pub state: StatusState,
    /// Units done.
    pub current: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// What is being done, or why it failed.
    pub message: Option<String>,
    /// For `Failed`: no further attempt will be made.
    pub permanent: bool,
}

impl StatusUpdate {
    /// An update without progress figures.
    pub fn new(task_id: TaskId, state: StatusState) -> Self {
        Self {
            version: MESSAGE_VERSION,
            task_id,
            state,
            current: 0,
            total: None,
            message: None,
            permanent: false,
        }
    }
}

/// Carries status updates from dispatchers to whoever waits for a task.
#[async_trait]
pub trait StatusChannel: Send + Sync + 'static {
    /// Sends an update; an error means it was lost (the outcome itself is durable elsewhere).
    async fn publish(&self, update: &StatusUpdate) -> Result<(), DispatchError>;
    /// Updates of `task` from now on, until the receiver is dropped.
    async fn subscribe(&self, task: TaskId) -> Result<mpsc::Receiver<StatusUpdate>, DispatchError>;
}

/// Status within one process.
#[derive(Debug, Clone)]
pub struct LocalStatusChannel {
    sender: broadcast::Sender<StatusUpdate>,
}

impl Default for LocalStatusChannel {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

#[async_trait]
impl StatusChannel for LocalStatusChannel {
    async fn publish(&self, update: &StatusUpdate) -> Result<(), DispatchError> {
        let _ = self.sender.send(update.clone());
        Ok(())
    }

    async fn subscribe(&self, task: TaskId) -> Result<mpsc::Receiver<StatusUpdate>, DispatchError> {
        let mut updates = self.sender.subscribe();
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                match updates.recv().await {
                    Ok(update) if update.task_id == task => {
                        if sender.send(update).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(receiver)
    }
}

/// Status over a RabbitMQ topic exchange (durable, routed by task id).
pub struct RabbitStatusChannel {
    connection: Connection,
    publisher: Channel,
    exchange: String,
}

fn broker(err: lapin::Error) -> DispatchError {
    DispatchError::Broker(err.to_string())
}

impl RabbitStatusChannel {
    /// Connects to `url` and declares the exchange `exchange`.
    pub async fn connect(url: &str, exchange: &str) -> Result<Self, DispatchError> {
        let properties =
            ConnectionProperties::default().with_connection_name("veil-status".to_string().into());
        let connection = Connection::connect(url, properties).await.map_err(broker)?;
        let publisher = connection.create_channel().await.map_err(broker)?;
        let options = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        publisher
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                options,
                FieldTable::default(),
            )
            .await
            .map_err(broker)?;
        Ok(Self {
            connection,
            publisher,
            exchange: exchange.to_string(),
        })
    }
}

#[async_trait]
impl StatusChannel for RabbitStatusChannel {
    async fn publish(&self, update: &StatusUpdate) -> Result<(), DispatchError> {
        let body =
            serde_json::to_vec(update).map_err(|err| DispatchError::Message(err.to_string()))?;
        self.publisher
            .basic_publish(
                self.exchange.as_str().into(),
                update.task_id.to_string().into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_content_type("application/json".into()),
            )
            .await
            .map_err(broker)?;
        Ok(())
    }

    async fn subscribe(&self, task: TaskId) -> Result<mpsc::Receiver<StatusUpdate>, DispatchError> {
        let channel = self.connection.create_channel().await.map_err(broker)?;
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare("".into(), options, FieldTable::default())
            .await
            .map_err(broker)?;
        let queue_name = queue.name().as_str().to_string();
        channel
            .queue_bind(
                queue_name.as_str().into(),
                self.exchange.as_str().into(),
                task.to_string().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(broker)?;
        let consume = BasicConsumeOptions {
            no_ack: true,
            exclusive: true,
            ..Default::default()
        };
        let mut consumer = channel
            .basic_consume(
                queue_name.as_str().into(),
                format!("veil-status-{task}").into(),
                consume,
                FieldTable::default(),
            )
            .await
            .map_err(broker)?;
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let Ok(update) = serde_json::from_slice::<StatusUpdate>(&delivery.data) else {
                    tracing::warn!("ignoring an unreadable status message");
                    continue;
                };
                if sender.send(update).await.is_err() {
                    break;
                }
            }
            let _ = channel.close(200, "done".into()).await;
        });
        Ok(receiver)
    }
}
