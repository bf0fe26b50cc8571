//! The request and response bodies of the compatibility API, as OpenAPI schemas. The handlers build
//! their JSON directly; these types only describe it, field for field (the `openapi` integration
//! test checks live answers against them). Names follow the Entity Service's own specification, so
//! clients generated from either agree.

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::schema::{
    Array, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
};
use utoipa::openapi::Ref;
use utoipa::ToSchema;

/// An error answer (RFC 7807 problem details), sent as `application/problem+json`.
#[derive(ToSchema)]
pub struct Problem {
    /// Always `about:blank`.
    #[schema(example = "about:blank")]
    pub r#type: String,
    /// The status's reason phrase, or `Feature Disabled`.
    #[schema(example = "Forbidden")]
    pub title: String,
    /// The HTTP status, repeated.
    #[schema(minimum = 100, maximum = 599, example = 403)]
    pub status: u16,
    /// What is at fault, for a human reader.
    pub detail: String,
}

/// `GET /status`.
#[derive(ToSchema)]
pub struct ServiceStatus {
    /// `ok` when the service answers.
    #[schema(example = "ok")]
    pub status: String,
    /// How many projects exist.
    pub project_count: u64,
    /// Comparisons per second recently; Veil reports 0.
    pub rate: u64,
}

/// `GET /version`.
#[derive(ToSchema)]
pub struct ServiceVersion {
    /// The anonlink release whose scoring Veil's matcher reproduces.
    pub anonlink: String,
    /// `veil-` and Veil's version.
    pub entityservice: String,
    /// Always `n/a`: Veil has no Python.
    pub python: String,
}

/// What a project's runs produce; only `groups` allows more than two parties.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ResultType {
    /// Groups of records that are one entity.
    Groups,
    /// A mask for the result token holder and a permutation per party.
    Permutations,
    /// Every pair of records scoring at least the threshold.
    SimilarityScores,
}

/// `POST /projects`: a new project.
#[derive(ToSchema)]
pub struct NewProject {
    /// The linkage schema the parties agreed on (clkhash format); stored and shown, not interpreted.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// What the project's runs produce.
    pub result_type: ResultType,
    /// How many parties will upload; more than 2 needs `result_type` `groups`.
    #[schema(minimum = 2, maximum = 1000, default = 2)]
    pub number_parties: Option<i64>,
    /// Whether uploads carry blocks (`clknblocks`, or `encodings` with `blocks`).
    #[schema(default = false)]
    pub uses_blocking: Option<bool>,
    /// A free-text name.
    pub name: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
}

/// `POST /projects` (201): the new project's credentials, shown only this once.
#[derive(ToSchema)]
pub struct NewProjectResponse {
    /// The project's id.
    pub project_id: String,
    /// The token for runs and results.
    pub result_token: String,
    /// One upload token per party.
    pub update_tokens: Vec<String>,
}

/// `GET /projects/{project_id}`.
#[derive(ToSchema)]
pub struct ProjectDescription {
    /// The project's id.
    pub project_id: String,
    /// The name given at creation (empty when none was).
    pub name: String,
    /// The notes given at creation (empty when none were).
    pub notes: String,
    /// What the project's runs produce.
    pub result_type: ResultType,
    /// How many parties upload.
    pub number_parties: i64,
    /// How many parties have uploaded.
    pub parties_contributed: i64,
    /// Whether uploads carry blocks.
    pub uses_blocking: bool,
    /// The linkage schema given at creation.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// Whether a party's upload failed (it may upload again).
    pub error: bool,
}

/// One entry of [`ProjectList`].
#[derive(ToSchema)]
pub struct ProjectListEntry {
    /// The project's id.
    pub project_id: String,
    /// When the project was created.
    #[schema(format = DateTime)]
    pub time_added: String,
}

/// `GET /projects`: every project.
#[derive(ToSchema)]
pub struct ProjectList(pub Vec<ProjectListEntry>);

/// A block id: a string, or an integer (kept as its decimal text).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum BlockId {
    /// A textual id.
    Text(String),
    /// A numeric id.
    Number(i64),
}

/// An upload of encodings without blocks.
#[derive(ToSchema)]
pub struct CLKUpload {
    /// The party's encodings, base64, all of the same length.
    #[schema(value_type = Vec<String>, format = Byte)]
    pub clks: Vec<String>,
}

/// An upload of encodings with their blocks, for a project that uses blocking.
#[derive(ToSchema)]
pub struct CLKnBlockUpload {
    /// One row per encoding: the base64 encoding, then at least one block id.
    #[schema(schema_with = clk_and_blocks_rows)]
    pub clknblocks: Vec<Vec<Value>>,
}

/// `clknblocks`' schema: rows of a base64 string followed by one or more [`BlockId`]s.
fn clk_and_blocks_rows() -> Array {
    let encoding = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Byte)))
        .description(Some("The encoding, base64."));
    let row = ArrayBuilder::new()
        .prefix_items([encoding])
        .items(Ref::from_schema_name("BlockId"))
        .min_items(Some(2));
    ArrayBuilder::new().items(row).build()
}

/// An upload of encodings with, for a project that uses blocking, a separate block map.
#[derive(ToSchema)]
pub struct EncodingUpload {
    /// The party's encodings, base64, all of the same length. (Pulling them from an object store
    /// is not supported by Veil.)
    #[schema(value_type = Vec<String>, format = Byte)]
    pub encodings: Vec<String>,
    /// Encoding index (as a string) → the encoding's block ids; required exactly when the project
    /// uses blocking.
    #[schema(nullable = false)]
    pub blocks: Option<BTreeMap<String, Vec<BlockId>>>,
}

/// `POST /projects/{project_id}/clks`: exactly one of the three shapes.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum UploadBody {
    /// `{"encodings": …, "blocks": …}`.
    Encodings(EncodingUpload),
    /// `{"clks": …}`.
    Clks(CLKUpload),
    /// `{"clknblocks": …}`.
    ClksWithBlocks(CLKnBlockUpload),
}

/// `POST /projects/{project_id}/binaryclks`: the raw encodings, concatenated.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryEncodings(pub Vec<u8>);

/// An accepted upload (201).
#[derive(ToSchema)]
pub struct UploadReceipt {
    /// Always `Updated`.
    #[schema(example = "Updated")]
    pub message: String,
    /// The party's receipt token: with a `permutations` result, it fetches the party's permutation.
    pub receipt_token: String,
}

/// `POST /projects/{project_id}/runs`: a new run.
#[derive(ToSchema)]
pub struct NewRun {
    /// Pairs scoring at least this (Sørensen–Dice) are candidate matches.
    #[schema(exclusive_minimum = 0.0, maximum = 1.0)]
    pub threshold: f64,
    /// A free-text name.
    pub name: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
}

/// A run's parameters, as created.
#[derive(ToSchema)]
pub struct RunDescription {
    /// The run's id.
    pub run_id: String,
    /// The name given at creation (empty when none was).
    pub name: String,
    /// The notes given at creation (empty when none were).
    pub notes: String,
    /// The similarity threshold.
    pub threshold: f64,
}

/// Where a run is.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for every party's upload.
    Created,
    /// Submitted, not started.
    Queued,
    /// Computing.
    Running,
    /// Finished; the result is available.
    Completed,
    /// Failed or cancelled; `message` says why.
    Error,
}

/// One entry of [`RunList`].
#[derive(ToSchema)]
pub struct RunListEntry {
    /// The run's id.
    pub run_id: String,
    /// When the run was created.
    #[schema(format = DateTime)]
    pub time_added: String,
    /// Where the run is.
    pub state: RunState,
}

/// `GET /projects/{project_id}/runs`: the project's runs.
#[derive(ToSchema)]
pub struct RunList(pub Vec<RunListEntry>);

/// How far the current stage is.
#[derive(ToSchema)]
pub struct RunProgress {
    /// Parties contributed (stage 1), similarity scores computed (stage 2), or outputs written (stage 3).
    #[schema(minimum = 0)]
    pub absolute: i64,
    /// The same as a fraction of the stage.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub relative: f64,
    /// What `absolute` counts.
    pub description: String,
}

/// The stage a run is in: 1 waiting for uploads, 2 computing similarity scores, 3 (not for
/// `similarity_scores`) computing the output.
#[derive(ToSchema)]
pub struct RunStage {
    /// The stage's number, from 1.
    #[schema(minimum = 1, maximum = 3)]
    pub number: i64,
    /// The stage, in words.
    pub description: String,
    /// How far the stage is; it never goes backwards.
    pub progress: RunProgress,
}

/// `GET /projects/{project_id}/runs/{run_id}/status`.
#[derive(ToSchema)]
pub struct RunStatus {
    /// Where the run is.
    pub state: RunState,
    /// When the run was created.
    #[schema(format = DateTime)]
    pub time_added: String,
    /// How many stages the run has: 2 for `similarity_scores`, else 3.
    #[schema(minimum = 2, maximum = 3)]
    pub stages: i64,
    /// The stage the run is in.
    pub current_stage: RunStage,
    /// How many comparisons the run makes; present once the run is submitted.
    #[schema(required = false)]
    pub total_number_comparisons: i64,
    /// When computing started; present once it has.
    #[schema(required = false, format = DateTime)]
    pub time_started: String,
    /// When the run completed; present in state `completed`.
    #[schema(required = false, format = DateTime)]
    pub time_completed: String,
    /// Why the run failed; present in state `error`.
    #[schema(required = false)]
    pub message: String,
}

/// A record: `[party index, row index]`, both from 0.
#[derive(ToSchema)]
pub struct RecordRef(pub (u32, u32));

/// A scored pair of records from different parties: `[[party, row], [party, row], score]`.
#[derive(ToSchema)]
pub struct ScoredPair(pub (RecordRef, RecordRef, f64));

/// The result of a `groups` run.
#[derive(ToSchema)]
pub struct GroupsResult {
    /// The entities found, each as the records (two or more) that are it; unmatched records are left out.
    pub groups: Vec<Vec<RecordRef>>,
}

/// The result of a `groups` run with `include_scores=true` (a Veil extension).
#[derive(ToSchema)]
pub struct GroupsWithScoresResult {
    /// As in [`GroupsResult`].
    pub groups: Vec<Vec<RecordRef>>,
    /// For each group (same order), its candidate pairs scoring at least the threshold.
    pub group_scores: Vec<Vec<ScoredPair>>,
}

/// The result of a `permutations` run for the result token.
#[derive(ToSchema)]
pub struct MaskResult {
    /// For each row of the permuted data, 1 if it is a match, 0 if not.
    pub mask: Vec<u8>,
}

/// The result of a `permutations` run for a party's receipt token.
#[derive(ToSchema)]
pub struct PermutationResult {
    /// For each of the party's rows, the row it moves to.
    pub permutation: Vec<u64>,
    /// How many rows the permuted data has (the length of the mask).
    pub rows: u64,
}

/// The result of a `similarity_scores` run.
#[derive(ToSchema)]
pub struct SimilarityScoresResult {
    /// Every pair scoring at least the threshold.
    pub similarity_scores: Vec<ScoredPair>,
}

/// `GET /projects/{project_id}/runs/{run_id}/result`: which shape depends on the project's result
/// type, the token and `include_scores`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum RunResult {
    /// `groups`.
    Groups(GroupsResult),
    /// `groups` with `include_scores=true`.
    GroupsWithScores(GroupsWithScoresResult),
    /// `permutations`, result token.
    Mask(MaskResult),
    /// `permutations`, a party's receipt token.
    Permutation(PermutationResult),
    /// `similarity_scores`.
    SimilarityScores(SimilarityScoresResult),
}
