//! [`ProjectStore`]: the durable record of linkage projects, their parties and their uploads.

use async_trait::async_trait;
use veil_domain::Timestamp;

use crate::EntityResult;

/// A party's upload state: `pending` (may upload), `uploading` (an upload holds it), `done`, or `error`
/// (an upload failed on a backend; the party may retry).
pub mod party_state {
    /// The party has not uploaded yet.
    pub const PENDING: &str = "pending";
    /// An upload is being stored.
    pub const UPLOADING: &str = "uploading";
    /// The party's encodings are stored.
    pub const DONE: &str = "done";
    /// Storing the party's upload failed; it may upload again.
    pub const ERROR: &str = "error";
}

/// A linkage project as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRecord {
    /// 48 hex characters.
    pub project_id: String,
    /// Free-text name.
    pub name: String,
    /// Free-text notes.
    pub notes: String,
    /// `groups`, `permutations` or `similarity_scores`.
    pub result_type: String,
    /// How many data providers take part.
    pub number_parties: i64,
    /// Whether uploads carry blocking information.
    pub uses_blocking: bool,
    /// The linkage schema as given at creation (JSON text).
    pub schema_json: String,
    /// The token that reads results and deletes the project.
    pub result_token: String,
    /// When the project was created.
    pub time_added: Timestamp,
}

/// One data provider of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRecord {
    /// 0-based position among the project's parties.
    pub party_index: i64,
    /// The token authorising this party's upload.
    pub update_token: String,
    /// One of [`party_state`].
    pub state: String,
}

/// A party's stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// The receipt handed to the party (48 hex characters); primary key.
    pub receipt_token: String,
    /// The project.
    pub project_id: String,
    /// The uploading party.
    pub party_index: i64,
    /// How many encodings were uploaded.
    pub encoding_count: i64,
    /// Bytes per encoding.
    pub encoding_size: i64,
    /// How many distinct blocks (1 without blocking).
    pub block_count: i64,
    /// Blob key of the concatenated binary encodings.
    pub encodings_key: String,
    /// Blob key of the blocks map (JSON), for blocking projects.
    pub blocks_key: Option<String>,
}

/// Durable storage for the compatibility API. Implemented for SQLite and PostgreSQL by
/// [`SqlProjectStore`](crate::SqlProjectStore).
#[async_trait]
pub trait ProjectStore: Send + Sync + 'static {
    /// Stores a project with one pending party per update token, atomically.
    async fn create_project(
        &self,
        project: &ProjectRecord,
        update_tokens: &[String],
    ) -> EntityResult<()>;

    /// Every project's id and creation time, oldest first.
    async fn list_projects(&self) -> EntityResult<Vec<(String, Timestamp)>>;

    /// How many projects exist.
    async fn count_projects(&self) -> EntityResult<i64>;

    /// The project with this id and its parties (ordered by index), or `None`.
    async fn get_project(
        &self,
        project_id: &str,
    ) -> EntityResult<Option<(ProjectRecord, Vec<PartyRecord>)>>;

    /// The encoding sizes of the project's stored uploads.
    async fn encoding_sizes(&self, project_id: &str) -> EntityResult<Vec<i64>>;

    /// Moves a party from `pending` or `error` to `uploading`; returns whether it did (false: the party
    /// has uploaded or is uploading).
    async fn begin_upload(&self, project_id: &str, party_index: i64) -> EntityResult<bool>;

    /// Records a stored upload and marks its party `done`, atomically.
    async fn finish_upload(&self, upload: &UploadRecord) -> EntityResult<()>;

    /// Marks every `uploading` party `error` (call at startup: uploads in flight died with the
    /// previous process, and their parties may retry); returns how many there were.
    async fn reset_interrupted_uploads(&self) -> EntityResult<u64>;

    /// Marks an `uploading` party `error` after a failed upload, so that it may retry.
    async fn fail_upload(&self, project_id: &str, party_index: i64) -> EntityResult<()>;

    /// Deletes the project with its parties and uploads; returns the blob keys its uploads used, or
    /// `None` when there was no such project.
    async fn delete_project(&self, project_id: &str) -> EntityResult<Option<Vec<String>>>;
}
