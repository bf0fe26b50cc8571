//! [`LinkageRunJob`]: a linkage run as a platform job. Each task compares the units of one chunk of
//! the run's plan and commits its candidate pairs (sorted); the final step merges them in sorted
//! order, enforces the candidate cap and writes the result of the project's type.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use veil_domain::TaskSpec;
use veil_linkage_matching::{
    find_candidate_pairs_blocked, Candidate, CandidateOptions, ClkSet, RecordBlocks,
};
use veil_service::{JobKind, TaskContext, TaskError};

use super::candidates;
use super::output;
use super::plan::Unit;

/// The platform job kind of a linkage run.
pub const RUN_JOB_KIND: &str = "linkage.run";
/// The task kind of one chunk of comparisons.
pub const COMPARE_TASK_KIND: &str = "linkage.compare";

/// One party's stored encodings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyInput {
    /// Blob key of the concatenated encodings.
    pub encodings_key: String,
    /// How many encodings.
    pub count: u32,
    /// Bytes per encoding.
    pub size: u32,
}

/// A run job's parameters: references and settings only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunJobParams {
    /// The Entity Service project.
    pub project_id: String,
    /// The run.
    pub run_id: String,
    /// `groups`, `permutations` or `similarity_scores`.
    pub result_type: String,
    /// Similarity threshold.
    pub threshold: f64,
    /// Each party's encodings, by party index.
    pub parties: Vec<PartyInput>,
    /// Task `i`'s units are stored (JSON) at `{plan_prefix}/{i:06}.json`.
    pub plan_prefix: String,
    /// Comparisons per task.
    pub task_comparisons: Vec<u64>,
    /// The most candidate pairs the run may produce.
    pub max_candidates: u64,
    /// Where the final step writes large outputs.
    pub output_prefix: String,
}

impl RunJobParams {
    /// Blob key of task `index`'s units.
    pub fn units_key(&self, index: u32) -> String {
        format!("{}/{index:06}.json", self.plan_prefix)
    }
}

/// Runs linkage jobs: compares chunks with `threads` threads each and solves the result.
pub struct LinkageRunJob {
    threads: usize,
    encodings: Mutex<Vec<(String, Bytes)>>,
}

/// Encodings blobs kept in memory between tasks of one process.
const CACHED_ENCODINGS: usize = 4;

impl LinkageRunJob {
    /// A job kind whose comparison tasks use `threads` threads (at least 1).
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            encodings: Mutex::new(Vec::new()),
        }
    }

    async fn encodings(&self, ctx: &TaskContext, key: &str) -> Result<Bytes, TaskError> {
        if let Ok(cache) = self.encodings.lock() {
            if let Some((_, bytes)) = cache.iter().find(|(cached, _)| cached == key) {
                return Ok(bytes.clone());
            }
        }
        let bytes =
            ctx.blobs.get(key).await.map_err(|err| {
                TaskError::retryable(format!("cannot read encodings {key}: {err}"))
            })?;
        if let Ok(mut cache) = self.encodings.lock() {
            if cache.len() >= CACHED_ENCODINGS {
                cache.remove(0);
            }
            cache.push((key.to_string(), bytes.clone()));
        }
        Ok(bytes)
    }
}

fn parse_params(value: &serde_json::Value) -> Result<RunJobParams, String> {
    serde_json::from_value(value.clone())
        .map_err(|err| format!("invalid linkage run parameters: {err}"))
}

/// The error that stops a run whose threshold produces too many candidates.
pub fn too_many_candidates(found: u64, limit: u64, threshold: f64) -> String {
    format!(
        "the threshold {threshold} produced {found} candidate pairs{}, more than this server's \
         limit of {limit} (linkage.max_candidates); create a new run with a higher threshold",
        if found > limit { " or more" } else { "" }
    )
}

#[async_trait]
impl JobKind for LinkageRunJob {
    fn name(&self) -> &'static str {
        RUN_JOB_KIND
    }

    fn plan(&self, params: &serde_json::Value) -> Result<Vec<TaskSpec>, String> {
        let params = parse_params(params)?;
        if params.task_comparisons.is_empty() {
            return Err("a linkage run needs at least one comparison task".into());
        }
        Ok(params
            .task_comparisons
            .iter()
            .enumerate()
            .map(|(chunk, comparisons)| TaskSpec {
                kind: COMPARE_TASK_KIND.to_string(),
                params: serde_json::json!({"chunk": chunk, "comparisons": comparisons}),
            })
            .collect())
    }

    async fn run_task(&self, ctx: &TaskContext) -> Result<Bytes, TaskError> {
        let params = parse_params(&ctx.job.params).map_err(TaskError::permanent)?;
        let key = params.units_key(ctx.index);
        let units_json = ctx
            .blobs
            .get(&key)
            .await
            .map_err(|err| TaskError::retryable(format!("cannot read plan {key}: {err}")))?;
        let units: Vec<Unit> = serde_json::from_slice(&units_json)
            .map_err(|err| TaskError::permanent(format!("corrupt plan {key}: {err}")))?;
        let total: u64 = units.iter().map(Unit::comparisons).sum();
        ctx.report_progress(0, Some(total), Some("comparisons"));
        let mut by_pair: BTreeMap<(u32, u32), Vec<Unit>> = BTreeMap::new();
        for unit in units {
            by_pair.entry((unit.a, unit.b)).or_default().push(unit);
        }
        let mut found: Vec<Candidate> = Vec::new();
        let mut done = 0u64;
        for ((a, b), units) in by_pair {
            if ctx.cancel.is_cancelled() {
                return Err(TaskError::retryable("interrupted"));
            }
            let party = |index: u32| {
                params.parties.get(index as usize).ok_or_else(|| {
                    TaskError::permanent(format!(
                        "the plan names party {index}, which is not in the run"
                    ))
                })
            };
            let (party_a, party_b) = (party(a)?.clone(), party(b)?.clone());
            let bytes_a = self.encodings(ctx, &party_a.encodings_key).await?;
            let bytes_b = self.encodings(ctx, &party_b.encodings_key).await?;
            let comparisons: u64 = units.iter().map(Unit::comparisons).sum();
            let (threads, threshold) = (self.threads, params.threshold);
            let pairs = tokio::task::spawn_blocking(move || {
                compare_units(
                    &units,
                    (a, &bytes_a, party_a.size),
                    (b, &bytes_b, party_b.size),
                    threshold,
                    threads,
                )
            })
            .await
            .map_err(|err| TaskError::retryable(format!("comparison thread failed: {err}")))?
            .map_err(TaskError::permanent)?;
            found.extend(pairs);
            if found.len() as u64 > params.max_candidates {
                return Err(TaskError::permanent(too_many_candidates(
                    found.len() as u64,
                    params.max_candidates,
                    params.threshold,
                )));
            }
            done += comparisons;
            ctx.report_progress(done, Some(total), Some("comparisons"));
        }
        found.sort_unstable_by(candidates::anonlink_order);
        Ok(Bytes::from(candidates::encode(&found)))
    }

    async fn finalize(
        &self,
        ctx: &TaskContext,
        task_results: &[String],
    ) -> Result<Option<Bytes>, TaskError> {
        let params = parse_params(&ctx.job.params).map_err(TaskError::permanent)?;
        let mut stored = 0u64;
        for key in task_results {
            let meta = ctx.blobs.head(key).await.map_err(|err| {
                TaskError::retryable(format!("cannot read candidates {key}: {err}"))
            })?;
            stored += meta.size / candidates::RECORD_BYTES as u64;
        }
        if stored > params.max_candidates {
            return Err(TaskError::permanent(too_many_candidates(
                stored,
                params.max_candidates,
                params.threshold,
            )));
        }
        let mut lists = Vec::with_capacity(task_results.len());
        for key in task_results {
            let bytes = ctx.blobs.get(key).await.map_err(|err| {
                TaskError::retryable(format!("cannot read candidates {key}: {err}"))
            })?;
            let list = candidates::decode(&bytes)
                .ok_or_else(|| TaskError::permanent(format!("corrupt candidates file {key}")))?;
            lists.push(list);
        }
        let merged = tokio::task::spawn_blocking(move || candidates::merge_sorted(&lists))
            .await
            .map_err(|err| TaskError::retryable(format!("merge thread failed: {err}")))?;
        output::write(ctx, &params, Arc::new(merged))
            .await
            .map(Some)
    }
}

/// Compares the units of one party pair; candidates carry the parties' indices and original rows.
fn compare_units(
    units: &[Unit],
    (a, bytes_a, size_a): (u32, &[u8], u32),
    (b, bytes_b, size_b): (u32, &[u8], u32),
    threshold: f64,
    threads: usize,
) -> Result<Vec<Candidate>, String> {
    let side = |pick: fn(&Unit) -> &super::plan::Rows| {
        let mut members: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for (id, unit) in units.iter().enumerate() {
            for row in pick(unit).iter() {
                members.entry(row).or_default().push(id as u64);
            }
        }
        members
    };
    let members_a = side(|unit| &unit.rows_a);
    let members_b = side(|unit| &unit.rows_b);
    let (set_a, blocks_a, rows_a) = subset(&members_a, bytes_a, size_a, a)?;
    let (set_b, blocks_b, rows_b) = subset(&members_b, bytes_b, size_b, b)?;
    let options = CandidateOptions {
        threshold,
        top_k: None,
        threads,
        kernel: None,
    };
    let (found, _) =
        find_candidate_pairs_blocked(&[&set_a, &set_b], &[&blocks_a, &blocks_b], &options)
            .map_err(|err| format!("comparing parties {a} and {b}: {err}"))?;
    Ok(found
        .iter()
        .map(|c| Candidate {
            score: c.score,
            dataset_a: a,
            row_a: rows_a[c.row_a as usize],
            dataset_b: b,
            row_b: rows_b[c.row_b as usize],
        })
        .collect())
}

/// The listed rows of one party as a dataset, their unit memberships, and their original indices.
fn subset(
    members: &BTreeMap<u32, Vec<u64>>,
    bytes: &[u8],
    size: u32,
    party: u32,
) -> Result<(ClkSet, RecordBlocks, Vec<u32>), String> {
    let size = size as usize;
    let mut set = ClkSet::new(size).map_err(|err| format!("party {party}: {err}"))?;
    let mut blocks = RecordBlocks::new();
    let mut rows = Vec::with_capacity(members.len());
    for (&row, ids) in members {
        let start = row as usize * size;
        let clk = bytes
            .get(start..start + size)
            .ok_or_else(|| format!("party {party} has no record {row}"))?;
        set.push(clk)
            .map_err(|err| format!("party {party}: {err}"))?;
        blocks.push_record(ids.iter().copied());
        rows.push(row);
    }
    Ok((set, blocks, rows))
}
