//! [`DispatchError`]: what can go wrong between the hub, the broker and the dispatcher.

/// An error of the dispatch layer. Messages name sources by name, never by location or credential.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// A message of a version this build does not speak, or a malformed one.
    #[error("unusable task message: {0}")]
    Message(String),
    /// The task names a source this dispatcher has not been given.
    #[error("no source named {0:?} is configured on this dispatcher")]
    UnknownSource(String),
    /// A path that leaves the source's root, or is otherwise refused.
    #[error("source {source_name:?}: {reason}")]
    Path {
        /// The source's name.
        source_name: String,
        /// Why the path is refused.
        reason: String,
    },
    /// A table of a source could not be read.
    #[error("source {source_name:?}: {reason}")]
    Read {
        /// The source's name.
        source_name: String,
        /// What failed, naming the table, file or column but never a value or a credential.
        reason: String,
    },
    /// A source's settings are unusable (e.g. an S3 endpoint that is not a URL).
    #[error("source settings: {0}")]
    SourceSettings(String),
    /// The broker failed.
    #[error("message broker: {0}")]
    Broker(String),
    /// The task queue failed.
    #[error(transparent)]
    Queue(#[from] veil_queue::QueueError),
    /// The object store failed.
    #[error(transparent)]
    Blob(#[from] veil_blob::BlobError),
}
