//! The Entity Service's request and response documents.
//!
//! Responses are read leniently: fields a server may leave out are optional, and fields this client
//! does not know are kept in `other` so that a document can be written back unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a project's runs produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultType {
    /// Groups of matching records across all parties (any number of parties).
    Groups,
    /// A mask for the result token and a permutation per party (two parties).
    Permutations,
    /// Every candidate pair with its similarity (two parties).
    SimilarityScores,
}

impl ResultType {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::Groups => "groups",
            ResultType::Permutations => "permutations",
            ResultType::SimilarityScores => "similarity_scores",
        }
    }
}

/// `POST /projects` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewProject {
    /// The linkage schema every party encoded with (clkhash JSON).
    pub schema: Value,
    /// What runs produce.
    pub result_type: ResultType,
    /// How many parties upload encodings.
    pub number_parties: u32,
    /// A label for people.
    pub name: String,
    /// Free text for people.
    pub notes: String,
    /// Whether uploads carry blocks (`clknblocks`).
    pub uses_blocking: bool,
}

/// `POST /projects` answer: the project's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectCredentials {
    /// The project's id.
    pub project_id: String,
    /// Authorises runs, results and deletion.
    pub result_token: String,
    /// One per party, in party order: authorises that party's upload.
    pub update_tokens: Vec<String>,
    /// Fields this client does not know, kept as the server sent them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `GET /projects/{id}` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectDescription {
    /// The project's id.
    pub project_id: String,
    /// What runs produce.
    pub result_type: ResultType,
    /// How many parties upload encodings.
    pub number_parties: u32,
    /// How many parties have uploaded.
    #[serde(default)]
    pub parties_contributed: u32,
    /// Whether uploads carry blocks.
    #[serde(default)]
    pub uses_blocking: bool,
    /// The linkage schema.
    #[serde(default)]
    pub schema: Value,
    /// Whether an upload failed.
    #[serde(default)]
    pub error: bool,
    /// Other fields (name, notes, …), as the server sent them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An upload's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceipt {
    /// Identifies the upload; fetches a party's permutation.
    pub receipt_token: String,
    /// Other fields (`message`, …), as the server sent them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `POST /projects/{id}/runs` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRun {
    /// Pairs at least this similar are candidates (0 < threshold ≤ 1).
    pub threshold: f64,
    /// A label for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A run's description (`POST /projects/{id}/runs` answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDescription {
    /// The run's id.
    pub run_id: String,
    /// Its similarity threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Other fields (name, notes, …), as the server sent them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A run's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for uploads.
    Created,
    /// Submitted, not started.
    Queued,
    /// Computing.
    Running,
    /// Finished; the result is available.
    Completed,
    /// Failed; the status's `message` says why.
    Error,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

impl RunState {
    /// Whether the run will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Completed | RunState::Error)
    }

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Completed => "completed",
            RunState::Error => "error",
            RunState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `GET /projects/{id}/runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: String,
    /// When it was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
    /// Its state.
    pub state: RunState,
}

/// `GET /projects/{id}/runs/{run_id}/status` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// The run's state.
    pub state: RunState,
    /// How many stages the run goes through.
    #[serde(default)]
    pub stages: u32,
    /// The stage it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_stage: Option<RunStage>,
    /// When it was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
    /// When computing started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_started: Option<String>,
    /// When it completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_completed: Option<String>,
    /// How many comparisons the run makes in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_number_comparisons: Option<u64>,
    /// Why it failed (state `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fields this client does not know.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A run's current stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStage {
    /// 1-based stage number.
    pub number: u32,
    /// What the stage does.
    #[serde(default)]
    pub description: String,
    /// How far it has got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<StageProgress>,
}

/// Progress within a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageProgress {
    /// Units done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute: Option<u64>,
    /// Fraction done, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<f64>,
    /// What a unit is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A record: (party, row).
pub type PartyRow = [u32; 2];

/// `GET /projects/{id}/runs/{run_id}/result` answer, by result type and token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunResult {
    /// `groups`: each group's records.
    Groups {
        /// Groups of (party, row).
        groups: Vec<Vec<PartyRow>>,
    },
    /// `permutations` with a party's receipt token: where each of its rows goes.
    Permutation {
        /// Row `i` goes to position `permutation[i]`.
        permutation: Vec<u64>,
        /// Rows of the permuted output.
        rows: u64,
    },
    /// `permutations` with the result token: which output rows are matches.
    Mask {
        /// 1 for a match, 0 otherwise.
        mask: Vec<u8>,
    },
    /// `similarity_scores`: each candidate pair and its similarity.
    SimilarityScores {
        /// (record, record, score).
        similarity_scores: Vec<(PartyRow, PartyRow, f64)>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_keep_unknown_fields() {
        let text = r#"{"project_id":"p","result_token":"r","update_tokens":["a","b"],"extra":1}"#;
        let credentials: ProjectCredentials = serde_json::from_str(text).unwrap();
        assert_eq!(credentials.update_tokens, ["a", "b"]);
        let back: Value = serde_json::to_value(&credentials).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn status_reads_stages_and_unknown_states() {
        let status: RunStatus = serde_json::from_str(
            r#"{"state": "running", "stages": 3, "time_added": "t",
                "current_stage": {"number": 2, "description": "compute similarity scores",
                                  "progress": {"absolute": 5, "relative": 0.5, "description": "x"}}}"#,
        )
        .unwrap();
        assert_eq!(status.state, RunState::Running);
        let stage = status.current_stage.unwrap();
        assert_eq!(stage.number, 2);
        assert_eq!(stage.progress.unwrap().relative, Some(0.5));
        let odd: RunStatus = serde_json::from_str(r#"{"state": "paused"}"#).unwrap();
        assert_eq!(odd.state, RunState::Unknown);
    }

    #[test]
    fn results_are_told_apart_by_their_fields() {
        let parse = |text: &str| serde_json::from_str::<RunResult>(text).unwrap();
        assert!(matches!(
            parse(r#"{"groups": [[[0, 1], [1, 2]]]}"#),
            RunResult::Groups { .. }
        ));
        assert!(matches!(
            parse(r#"{"mask": [0, 1]}"#),
            RunResult::Mask { .. }
        ));
        assert!(matches!(
            parse(r#"{"permutation": [1, 0], "rows": 2}"#),
            RunResult::Permutation { rows: 2, .. }
        ));
        assert!(matches!(
            parse(r#"{"similarity_scores": [[[0, 1], [1, 2], 0.9]]}"#),
            RunResult::SimilarityScores { .. }
        ));
    }

    #[test]
    fn new_run_leaves_out_absent_labels() {
        let body = serde_json::to_value(NewRun {
            threshold: 0.8,
            name: None,
            notes: Some("n".into()),
        })
        .unwrap();
        assert_eq!(body, serde_json::json!({"threshold": 0.8, "notes": "n"}));
    }
}
