//! A finished run's result documents, as the Entity Service shapes them.
//!
//! * `groups`: `{"groups": [[[party, row], …], …]}` is the job's result; the pair scores behind each
//!   group (`?include_scores=true`) are stored beside it at [`group_scores_key`].
//! * `permutations`: `{"mask": […], "permutations": [[…], […]], "rows": n}` is the job's result; the
//!   result endpoint hands out the mask or one party's permutation.
//! * `similarity_scores`: the scores document is streamed to [`scores_key`] in pieces (it can be
//!   large); the job's result is `{"similarity_scores_key": …, "count": n}`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use serde_json::json;
use veil_linkage_matching::solving::{pairs_from_groups, permutations};
use veil_linkage_matching::{greedy_solve, Candidates, Groups};
use veil_service::{TaskContext, TaskError};

use super::job::RunJobParams;

/// Pairs written per piece of a streamed scores document.
const SCORES_PER_PIECE: usize = 65_536;

/// Where a run's `similarity_scores` document is stored.
pub fn scores_key(output_prefix: &str) -> String {
    format!("{output_prefix}/similarity_scores.json")
}

/// Where a `groups` run's groups with their pair scores are stored.
pub fn group_scores_key(output_prefix: &str) -> String {
    format!("{output_prefix}/groups_with_scores.json")
}

fn store_error(key: &str, err: impl std::fmt::Display) -> TaskError {
    TaskError::retryable(format!("cannot store {key}: {err}"))
}

/// Writes the run's outputs and returns the job's result document.
pub async fn write(
    ctx: &TaskContext,
    params: &RunJobParams,
    candidates: Arc<Candidates>,
) -> Result<Bytes, TaskError> {
    match params.result_type.as_str() {
        "similarity_scores" => {
            let key = scores_key(&params.output_prefix);
            let count = candidates.len();
            let pieces = count.div_ceil(SCORES_PER_PIECE);
            let source = stream::iter(0..pieces.max(1)).map(move |piece| {
                Ok::<_, std::io::Error>(scores_piece(&candidates, piece, pieces))
            });
            ctx.blobs
                .put_stream(&key, source.boxed())
                .await
                .map_err(|err| store_error(&key, err))?;
            Ok(Bytes::from(
                json!({"similarity_scores_key": key, "count": count}).to_string(),
            ))
        }
        "groups" => {
            let solved = tokio::task::spawn_blocking(move || {
                let groups = greedy_solve(&candidates);
                let scores = group_scores(&groups, &candidates);
                (groups, scores)
            })
            .await
            .map_err(|err| TaskError::retryable(format!("solver thread failed: {err}")))?;
            let (groups, scores) = solved;
            let with_scores = json!({"groups": groups, "group_scores": scores}).to_string();
            let key = group_scores_key(&params.output_prefix);
            ctx.blobs
                .put(&key, Bytes::from(with_scores))
                .await
                .map_err(|err| store_error(&key, err))?;
            Ok(Bytes::from(json!({ "groups": groups }).to_string()))
        }
        "permutations" => {
            let (len_a, len_b) = match params.parties.as_slice() {
                [a, b] => (a.count as usize, b.count as usize),
                _ => {
                    return Err(TaskError::permanent(
                        "permutations need exactly two parties",
                    ))
                }
            };
            let seed = permutation_seed(&params.run_id);
            let result = tokio::task::spawn_blocking(move || {
                let groups = greedy_solve(&candidates);
                let pairs = pairs_from_groups(&groups).map_err(|err| err.to_string())?;
                permutations(&pairs, len_a, len_b, seed).map_err(|err| err.to_string())
            })
            .await
            .map_err(|err| TaskError::retryable(format!("solver thread failed: {err}")))?
            .map_err(TaskError::permanent)?;
            Ok(Bytes::from(
                json!({
                    "mask": result.mask,
                    "permutations": [result.permutation_a, result.permutation_b],
                    "rows": result.mask.len(),
                })
                .to_string(),
            ))
        }
        other => Err(TaskError::permanent(format!(
            "unknown result type '{other}'"
        ))),
    }
}

/// A stable seed per run, so a re-run final step writes the same permutations.
fn permutation_seed(run_id: &str) -> u64 {
    u64::from_str_radix(run_id.get(..16).unwrap_or(run_id), 16).unwrap_or(0x5eed)
}

/// Piece `piece` of `pieces` of the document `{"similarity_scores": [[[p, r], [p, r], s], …]}`.
fn scores_piece(candidates: &Candidates, piece: usize, pieces: usize) -> Bytes {
    let start = piece * SCORES_PER_PIECE;
    let end = (start + SCORES_PER_PIECE).min(candidates.len());
    let mut out = String::with_capacity((end - start) * 40 + 32);
    if piece == 0 {
        out.push_str("{\"similarity_scores\": [");
    }
    for i in start..end {
        if let Some(c) = candidates.get(i) {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!(
                "[[{}, {}], [{}, {}], {}]",
                c.dataset_a,
                c.row_a,
                c.dataset_b,
                c.row_b,
                serde_json::Value::from(c.score)
            ));
        }
    }
    if piece + 1 >= pieces.max(1) {
        out.push_str("]}");
    }
    Bytes::from(out)
}

/// For each group, the candidate pairs (`[[p, r], [p, r], score]`) between its members.
fn group_scores(groups: &Groups, candidates: &Candidates) -> Vec<Vec<serde_json::Value>> {
    let mut group_of = HashMap::new();
    for (index, group) in groups.iter().enumerate() {
        for &record in group {
            group_of.insert(record, index);
        }
    }
    let mut scores = vec![Vec::new(); groups.len()];
    for c in candidates.iter() {
        let (x, y) = ((c.dataset_a, c.row_a), (c.dataset_b, c.row_b));
        if let (Some(gx), Some(gy)) = (group_of.get(&x), group_of.get(&y)) {
            if gx == gy {
                scores[*gx].push(json!([[x.0, x.1], [y.0, y.1], c.score]));
            }
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use veil_linkage_matching::Candidate;

    use super::*;

    #[test]
    fn scores_pieces_concatenate_to_valid_json() {
        let mut candidates = Candidates::default();
        for i in 0..(SCORES_PER_PIECE as u32 + 3) {
            candidates.push(Candidate {
                score: 0.5,
                dataset_a: 0,
                row_a: i,
                dataset_b: 1,
                row_b: i,
            });
        }
        let pieces = candidates.len().div_ceil(SCORES_PER_PIECE);
        let text: String = (0..pieces)
            .map(|p| String::from_utf8(scores_piece(&candidates, p, pieces).to_vec()).unwrap())
            .collect();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let list = doc["similarity_scores"].as_array().unwrap();
        assert_eq!(list.len(), candidates.len());
        assert_eq!(list[3], json!([[0, 3], [1, 3], 0.5]));
        let empty: serde_json::Value =
            serde_json::from_slice(&scores_piece(&Candidates::default(), 0, 1)).unwrap();
        assert_eq!(empty, json!({"similarity_scores": []}));
    }
}
