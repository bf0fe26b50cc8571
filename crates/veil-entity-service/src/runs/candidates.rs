//! Candidate pairs as stored between a run's comparison tasks and its final step: 24 bytes per pair
//! (`f64` score, then dataset and row of each record as `u32`, all little-endian), each task's file
//! sorted in anonlink's order (score descending, then dataset_a, dataset_b, row_a, row_b ascending).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use veil_linkage_matching::{Candidate, Candidates};

/// Bytes per stored candidate.
pub const RECORD_BYTES: usize = 24;

/// anonlink's candidate order.
pub fn anonlink_order(x: &Candidate, y: &Candidate) -> Ordering {
    y.score
        .total_cmp(&x.score)
        .then((x.dataset_a, x.dataset_b, x.row_a, x.row_b).cmp(&(
            y.dataset_a,
            y.dataset_b,
            y.row_a,
            y.row_b,
        )))
}

/// Encodes candidates (already in order) as stored records.
pub fn encode(candidates: &[Candidate]) -> Vec<u8> {
    let mut out = Vec::with_capacity(candidates.len() * RECORD_BYTES);
    for c in candidates {
        out.extend_from_slice(&c.score.to_le_bytes());
        for field in [c.dataset_a, c.row_a, c.dataset_b, c.row_b] {
            out.extend_from_slice(&field.to_le_bytes());
        }
    }
    out
}

/// Decodes stored records; `None` when the length is not a whole number of records.
pub fn decode(bytes: &[u8]) -> Option<Vec<Candidate>> {
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        return None;
    }
    let word = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    Some(
        bytes
            .chunks_exact(RECORD_BYTES)
            .map(|b| {
                let mut score = [0u8; 8];
                score.copy_from_slice(&b[..8]);
                Candidate {
                    score: f64::from_le_bytes(score),
                    dataset_a: word(b, 8),
                    row_a: word(b, 12),
                    dataset_b: word(b, 16),
                    row_b: word(b, 20),
                }
            })
            .collect(),
    )
}

/// Heap entry: the next candidate of one sorted list.
struct Head {
    candidate: Candidate,
    list: usize,
    at: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        anonlink_order(&self.candidate, &other.candidate).then(self.list.cmp(&other.list))
    }
}

/// Merges lists each sorted in anonlink's order into one sorted list, dropping repeated pairs (a
/// record pair sharing several blocks is compared once per block).
pub fn merge_sorted(lists: &[Vec<Candidate>]) -> Candidates {
    let mut heap: BinaryHeap<Reverse<Head>> = lists
        .iter()
        .enumerate()
        .filter_map(|(list, items)| {
            items.first().map(|&candidate| {
                Reverse(Head {
                    candidate,
                    list,
                    at: 0,
                })
            })
        })
        .collect();
    let mut out = Candidates::default();
    let mut last: Option<Candidate> = None;
    while let Some(Reverse(head)) = heap.pop() {
        if last.is_none_or(|prev| anonlink_order(&prev, &head.candidate) != Ordering::Equal) {
            out.push(head.candidate);
            last = Some(head.candidate);
        }
        let next = head.at + 1;
        if let Some(&candidate) = lists[head.list].get(next) {
            heap.push(Reverse(Head {
                candidate,
                list: head.list,
                at: next,
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn candidate(score: f64, ra: u32, rb: u32) -> Candidate {
        Candidate {
            score,
            dataset_a: 0,
            row_a: ra,
            dataset_b: 1,
            row_b: rb,
        }
    }

    #[test]
    fn records_round_trip() {
        let list = vec![candidate(0.9, 1, 2), candidate(0.5, u32::MAX, 0)];
        let bytes = encode(&list);
        assert_eq!(bytes.len(), 2 * RECORD_BYTES);
        assert_eq!(decode(&bytes).unwrap(), list);
        assert!(decode(&bytes[..30]).is_none());
    }

    proptest! {
        #[test]
        fn merge_equals_sorting_everything_and_deduplicating(
            lists in prop::collection::vec(
                prop::collection::vec((0u8..5, 0u32..6, 0u32..6), 0..20), 0..5),
        ) {
            let lists: Vec<Vec<Candidate>> = lists
                .into_iter()
                .map(|items| {
                    let mut items: Vec<Candidate> = items
                        .into_iter()
                        .map(|(s, a, b)| candidate(f64::from(s) / 4.0, a, b))
                        .collect();
                    items.sort_by(anonlink_order);
                    items
                })
                .collect();
            let merged: Vec<Candidate> = merge_sorted(&lists).iter().collect();
            let mut want: Vec<Candidate> = lists.iter().flatten().copied().collect();
            want.sort_by(anonlink_order);
            want.dedup_by(|x, y| anonlink_order(x, y) == Ordering::Equal);
            prop_assert_eq!(merged, want);
        }
    }
}
