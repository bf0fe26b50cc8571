//! [`DispatchMessage`]: what the hub sends a secure environment for one task. Versioned; parameters and
//! references only.

use serde::{Deserialize, Serialize};
use veil_domain::{JobId, QueueItem, TaskId};

use crate::DispatchError;

/// The message format this build writes and reads.
pub const MESSAGE_VERSION: u32 = 1;

/// One task for a secure environment. It travels as the `params` of a queue item whose `kind` is the
/// task kind, so any [`TaskQueue`](veil_queue::TaskQueue) carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchMessage {
    /// Message format version ([`MESSAGE_VERSION`]).
    pub version: u32,
    /// The hub's task.
    pub task_id: TaskId,
    /// The hub's job.
    pub job_id: JobId,
    /// Task index within the job.
    pub index: u32,
    /// The task kind, which the dispatcher's handler is registered under.
    pub kind: String,
    /// The task's parameters (source names, paths, settings).
    pub params: serde_json::Value,
    /// Where the dispatcher writes the task's result in the shared object store.
    pub result_key: String,
}

impl DispatchMessage {
    /// The queue item that carries this message, with `max_attempts` deliveries.
    pub fn to_item(&self, max_attempts: u32) -> QueueItem {
        QueueItem {
            task_id: self.task_id,
            job_id: self.job_id,
            index: self.index,
            kind: self.kind.clone(),
            params: serde_json::to_value(self).unwrap_or_default(),
            max_attempts,
        }
    }

    /// The message a queue item carries; a different version or shape is refused.
    pub fn from_item(item: &QueueItem) -> Result<Self, DispatchError> {
        let version = item.params.get("version").and_then(|v| v.as_u64());
        if version != Some(u64::from(MESSAGE_VERSION)) {
            return Err(DispatchError::Message(format!(
                "message version {} is not supported (this dispatcher speaks version {MESSAGE_VERSION})",
                version.map_or_else(|| "missing".to_string(), |v| v.to_string())
            )));
        }
        let message: Self = serde_json::from_value(item.params.clone())
            .map_err(|err| DispatchError::Message(err.to_string()))?;
        if message.task_id != item.task_id || message.kind != item.kind {
            return Err(DispatchError::Message(
                "the message does not match its queue item".into(),
            ));
        }
        Ok(message)
    }
}

/// Where a task that failed for good leaves its error, beside its result key.
pub fn error_key(result_key: &str) -> String {
    format!("{result_key}.error.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> DispatchMessage {
        let job_id = JobId::new_random();
        DispatchMessage {
            version: MESSAGE_VERSION,
            task_id: TaskId::for_job(job_id, 0),
            job_id,
            index: 0,
            kind: "source.profile".into(),
            params: serde_json::json!({"source": "clinic", "path": "people.csv"}),
            result_key: "jobs/x/tasks/000000/result".into(),
        }
    }

    #[test]
    fn messages_round_trip_through_queue_items() {
        let message = message();
        let item = message.to_item(3);
        assert_eq!(item.max_attempts, 3);
        assert_eq!(DispatchMessage::from_item(&item).unwrap(), message);
    }

    #[test]
    fn other_versions_and_mismatches_are_refused() {
        let mut item = message().to_item(3);
        item.params["version"] = serde_json::json!(2);
        let err = DispatchMessage::from_item(&item).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        let mut item = message().to_item(3);
        item.params.as_object_mut().unwrap().remove("version");
        assert!(DispatchMessage::from_item(&item).is_err());
        let mut item = message().to_item(3);
        item.kind = "other".into();
        assert!(DispatchMessage::from_item(&item).is_err());
    }
}
