//! How a queue item travels as an AMQP message.
//!
//! The body is the [`QueueItem`] as JSON. The delivery history lives in headers, because a message
//! cannot be changed in place: every change (retry, lease expiry, release, dead-lettering) republishes
//! the item with new headers and then acknowledges the old copy.
//!
//! - `x-veil-attempts`: deliveries already spent (failed or expired); the next delivery is attempt
//!   `x-veil-attempts + 1`;
//! - `x-veil-error`: why the last delivery ended, shown to the next one as `previous_error` and kept on
//!   dead letters as their last error.
//!
//! Messages are persistent (`delivery_mode` 2) with the task id as `message_id`.

use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::BasicProperties;
use veil_domain::QueueItem;

use crate::{QueueError, Result};

const ATTEMPTS_HEADER: &str = "x-veil-attempts";
const ERROR_HEADER: &str = "x-veil-error";
const PERSISTENT: u8 = 2;

/// A queue item with its delivery history.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    pub(crate) item: QueueItem,
    /// Deliveries already spent.
    pub(crate) attempts: u32,
    /// Why the last delivery ended.
    pub(crate) last_error: Option<String>,
}

impl Envelope {
    /// A newly enqueued item.
    pub(crate) fn fresh(item: QueueItem) -> Self {
        Self {
            item,
            attempts: 0,
            last_error: None,
        }
    }

    /// The message body.
    pub(crate) fn body(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&self.item)
            .map_err(|e| QueueError::Corrupt(format!("encoding queue item: {e}")))
    }

    /// Persistent message properties carrying the history headers.
    pub(crate) fn properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            ATTEMPTS_HEADER.into(),
            AMQPValue::LongLongInt(i64::from(self.attempts)),
        );
        if let Some(error) = &self.last_error {
            headers.insert(
                ERROR_HEADER.into(),
                AMQPValue::LongString(LongString::from(error.as_str())),
            );
        }
        BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(self.item.task_id.to_string().into())
            .with_headers(headers)
    }

    /// Reads a message back.
    pub(crate) fn decode(body: &[u8], properties: &BasicProperties) -> Result<Self> {
        let item: QueueItem = serde_json::from_slice(body).map_err(|e| {
            QueueError::Corrupt(format!(
                "message body is not a queue item: {e}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        })?;
        let headers = properties.headers().as_ref();
        let header = |name: &str| headers.and_then(|table| table.inner().get(name));
        let attempts = match header(ATTEMPTS_HEADER) {
            None => 0,
            Some(value) => as_u32(value).ok_or_else(|| {
                QueueError::Corrupt(format!("header {ATTEMPTS_HEADER} is {value:?}"))
            })?,
        };
        let last_error = header(ERROR_HEADER).and_then(|value| match value {
            AMQPValue::LongString(text) => Some(text.to_string()),
            AMQPValue::ShortString(text) => Some(text.to_string()),
            _ => None,
        });
        Ok(Self {
            item,
            attempts,
            last_error,
        })
    }
}

/// An integer header of any width as `u32`.
fn as_u32(value: &AMQPValue) -> Option<u32> {
    let wide: i64 = match value {
        AMQPValue::ShortShortInt(n) => i64::from(*n),
        AMQPValue::ShortShortUInt(n) => i64::from(*n),
        AMQPValue::ShortInt(n) => i64::from(*n),
        AMQPValue::ShortUInt(n) => i64::from(*n),
        AMQPValue::LongInt(n) => i64::from(*n),
        AMQPValue::LongUInt(n) => i64::from(*n),
        AMQPValue::LongLongInt(n) => *n,
        _ => return None,
    };
    u32::try_from(wide).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use veil_domain::{JobId, TaskId};

    use super::*;

    #[test]
    fn envelope_round_trips_through_body_and_headers() {
        let job_id = JobId::new_random();
        let envelope = Envelope {
            item: QueueItem {
                task_id: TaskId::for_job(job_id, 4),
                job_id,
                index: 4,
                kind: "sleep".to_string(),
                params: json!({"seconds": 0.25}),
                max_attempts: 3,
            },
            attempts: 2,
            last_error: Some("boom".to_string()),
        };
        let properties = envelope.properties();
        assert_eq!(properties.delivery_mode(), &Some(PERSISTENT));
        let decoded = Envelope::decode(&envelope.body().unwrap(), &properties).unwrap();
        assert_eq!(decoded, envelope);
        let fresh = Envelope::fresh(envelope.item.clone());
        let decoded = Envelope::decode(&fresh.body().unwrap(), &fresh.properties()).unwrap();
        assert_eq!((decoded.attempts, decoded.last_error), (0, None));
    }

    #[test]
    fn foreign_messages_are_corrupt() {
        let result = Envelope::decode(b"hello", &BasicProperties::default());
        assert!(matches!(result, Err(QueueError::Corrupt(_))), "{result:?}");
    }
}
